"""Training the classifier: two-phase fine-tuning of MobileNetV2 on a lesion-grouped split,
temperature scaling, risk thresholds, the LiteRT export and the model card.

:func:`train` composes one function per step. TensorFlow is imported only inside the steps that
build or fit the network, so importing this module stays cheap. Every image goes through
:func:`skinml.preprocessing.preprocess`, exactly as at inference; augmentation is applied
afterwards, to the [-1, 1] arrays.
"""

from __future__ import annotations

import math
import platform
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .augment import AUGMENTATION, training_batches
from .calibration import expected_calibration_error, fit_temperature, negative_log_likelihood
from .card import card_path_for, runtime_path_for, write_card
from .classes import CLASSES
from .data import (
    SPLITS,
    LabelledImage,
    Log,
    class_weights,
    data_summary,
    find_image_files,
    load_image_cache,
    read_labels,
    read_lesion_ids,
    split_by_lesion,
)
from .engine import sha256_of_file, softmax
from .metrics import compute_metrics
from .preprocessing import PREPROCESSING_ID
from .quality_fit import fit_quality_gate
from .risk import HIGH_RULE, MEDIUM_RULE, RISK_RULE, choose_thresholds

if TYPE_CHECKING:
    import keras

ARCHITECTURE = "MobileNetV2"
INTENDED_USE = "Research and software testing only. Not a medical device; not for diagnosis or triage of real patients."
LICENCE = "Trained on ISIC archive / HAM10000 images under CC BY-NC 4.0: non-commercial use only."


@dataclass
class TrainingConfig:
    images: Path
    labels: Path
    output: Path
    metadata: Path | None = None
    init_weights: Path | None = None
    name: str = "skinportal-mobilenetv2"
    version: str = "1.0.0"
    image_size: int = 224
    alpha: float = 1.0
    dropout: float = 0.2
    seed: int = 42
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    batch_size: int = 32
    head_epochs: int = 3
    fine_tune_epochs: int = 8
    head_learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    patience: int = 3
    target_mel_sensitivity: float = 0.90
    target_malignant_sensitivity: float = 0.97
    max_images: int | None = None
    run_eagerly: bool = False  # skips the ~20 s graph tracing of a training step: for tiny smoke runs
    verbose: int = 1


@dataclass(frozen=True)
class TrainingResult:
    keras_path: Path
    runtime_path: Path
    card_path: Path
    card: dict


@dataclass(frozen=True)
class Dataset:
    """The labelled images that have a file, and their lesion-grouped split."""

    images: dict[str, LabelledImage]
    files: dict[str, Path]
    missing: int  # labelled ids without a file
    groups: int  # lesions, an image without a lesion id counting as its own
    split: dict[str, list[str]]


@dataclass(frozen=True)
class TrainingArrays:
    """The preprocessed images (float16) and integer labels of the train and validation splits."""

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    class_weights: np.ndarray


@dataclass(frozen=True)
class Calibration:
    temperature: float
    probabilities: np.ndarray  # of the validation images, after temperature scaling
    nll_before: float
    nll_after: float
    ece_before: float


def train(*, config: TrainingConfig, log: Log = print) -> TrainingResult:
    """Train, calibrate, choose thresholds, and write ``.keras``, ``.tflite``, ``.card.json`` and
    ``.card.md``. See docs/model-evaluation.md for the commands that made the bundled model."""
    started = time.monotonic()
    dataset = load_dataset(config=config, log=log)
    arrays = preprocess_splits(dataset=dataset, config=config, log=log)
    model = build_model(config=config, train_images=arrays.images["train"], log=log)
    phases = fit_phases(model=model, arrays=arrays, config=config, log=log)
    model, keras_path, runtime_path = save_and_export(model=model, config=config)

    calibration = calibrate_temperature(model=model, arrays=arrays, config=config)
    thresholds = choose_thresholds(
        probabilities=calibration.probabilities,
        labels=arrays.labels["validation"],
        target_mel_sensitivity=config.target_mel_sensitivity,
        target_malignant_sensitivity=config.target_malignant_sensitivity,
    )
    quality = fit_quality_gate_step(
        model=model,
        dataset=dataset,
        arrays=arrays,
        keras_path=keras_path,
        config=config,
        calibration=calibration,
        log=log,
    )
    validation_metrics = compute_metrics(
        probabilities=calibration.probabilities,
        labels=arrays.labels["validation"],
        thresholds=thresholds,
        n_bootstrap=0,
    )
    log(f"Temperature {calibration.temperature:.3f}; thresholds {thresholds}")

    card = model_card(
        config=config,
        dataset=dataset,
        arrays=arrays,
        phases=phases,
        calibration=calibration,
        thresholds=thresholds,
        validation_metrics=validation_metrics,
        seconds=round(time.monotonic() - started, 1),
    )
    card["quality"] = quality
    card_path = card_path_for(keras_path)
    write_card(card=card, path=card_path)
    log(f"Wrote {keras_path}, {runtime_path.name}, {card_path.name} in {card['training']['seconds']:.0f} s")
    return TrainingResult(keras_path=keras_path, runtime_path=runtime_path, card_path=card_path, card=card)


# Steps ------------------------------------------------------------------------------------


def load_dataset(*, config: TrainingConfig, log: Log) -> Dataset:
    """The labelled images with a file (a seeded subset with ``max_images``), split by lesion."""
    labelled = read_labels(path=config.labels)
    files = find_image_files(images_dir=config.images, image_ids=[item.image_id for item in labelled])
    missing = len(labelled) - len(files)
    images = {item.image_id: item for item in labelled if item.image_id in files}
    if config.max_images and len(images) > config.max_images:
        keep = np.random.default_rng(config.seed).choice(sorted(images), config.max_images, replace=False)
        images = {image_id: images[image_id] for image_id in sorted(keep)}
    log(f"{len(images)} labelled images found ({missing} labelled ids have no file in {config.images})")
    if len(images) < 10:
        raise ValueError("too few labelled images to train on")
    lesion_ids = read_lesion_ids(path=config.metadata) if config.metadata else {}
    labels_by_id = {image_id: item.label for image_id, item in images.items()}
    split = split_by_lesion(
        labels=labels_by_id, lesion_ids=lesion_ids, seed=config.seed, fractions=config.split_fractions
    )
    for name in SPLITS:
        counts = Counter(labels_by_id[i] for i in split[name])
        log(f"  {name}: {len(split[name])} images " + ", ".join(f"{c} {counts[c]}" for c in CLASSES))
    if not split["train"] or not split["validation"]:
        raise ValueError("the split left the training or validation set empty; add images")
    groups = {lesion_ids.get(image_id) or image_id for image_id in images}
    return Dataset(images=images, files=files, missing=missing, groups=len(groups), split=split)


def preprocess_splits(*, dataset: Dataset, config: TrainingConfig, log: Log) -> TrainingArrays:
    """Preprocess the train and validation images once, into memory. The held-out test split is
    evaluated by evaluate_model, never touched here."""
    log(f"Preprocessing with {PREPROCESSING_ID} at {config.image_size} px ...")
    images, labels = {}, {}
    for name in ("train", "validation"):
        ids = dataset.split[name]
        images[name] = load_image_cache(
            paths=[dataset.files[i] for i in ids], size=config.image_size, log=log if name == "train" else None
        )
        labels[name] = np.array([CLASSES.index(dataset.images[i].label) for i in ids], dtype=np.int64)
    weights = class_weights(labels=labels["train"])
    log("Class weights: " + ", ".join(f"{c} {w:.3f}" for c, w in zip(CLASSES, weights, strict=True)))
    return TrainingArrays(images=images, labels=labels, class_weights=weights)


def build_model(*, config: TrainingConfig, train_images: np.ndarray, log: Log) -> keras.Model:
    """The classifier, from the backbone weights of ``init_weights`` or random weights whose
    batch-normalisation statistics are set from (up to 64) training images."""
    from . import keras_model

    model = keras_model.build_classifier(
        input_size=config.image_size, alpha=config.alpha, dropout=config.dropout, seed=config.seed
    )
    if config.init_weights:
        loaded = keras_model.load_backbone_weights(model, config.init_weights)
        log(f"Loaded {loaded} backbone arrays from {config.init_weights}")
    else:
        sample = train_images[np.random.default_rng(config.seed).permutation(len(train_images))[:64]]
        keras_model.calibrate_batch_norm(model, sample.astype(np.float32))
        log("Random initialisation; batch-normalisation statistics set from training images")
    return model


def fit_phases(*, model: keras.Model, arrays: TrainingArrays, config: TrainingConfig, log: Log) -> list[dict]:
    """The head alone, then the whole network (a phase with no epochs is skipped), on endless
    augmented batches shared by both phases. Returns each phase's record for the card."""
    batches = training_batches(
        images=arrays.images["train"],
        labels=arrays.labels["train"],
        sample_weights=arrays.class_weights[arrays.labels["train"]],
        batch_size=config.batch_size,
        seed=config.seed,
    )
    steps = math.ceil(len(arrays.labels["train"]) / config.batch_size)
    validation = (arrays.images["validation"].astype(np.float32), arrays.labels["validation"])
    phases = []
    for phase, epochs, rate in (
        ("head", config.head_epochs, config.head_learning_rate),
        ("fine-tune", config.fine_tune_epochs, config.fine_tune_learning_rate),
    ):
        if epochs > 0:
            phases.append(
                fit_phase(
                    model=model,
                    phase=phase,
                    epochs=epochs,
                    rate=rate,
                    batches=batches,
                    steps=steps,
                    validation=validation,
                    config=config,
                    log=log,
                )
            )
    return phases


def fit_phase(
    *,
    model: keras.Model,
    phase: str,
    epochs: int,
    rate: float,
    batches: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]],
    steps: int,
    validation: tuple[np.ndarray, np.ndarray],
    config: TrainingConfig,
    log: Log,
) -> dict:
    """One phase ("head" or "fine-tune") with early stopping on the validation loss."""
    from .keras_model import LOGITS_LAYER, keras

    head_layers = {"pool", "dropout", LOGITS_LAYER}
    for layer in model.layers:
        if phase == "head":
            layer.trainable = layer.name in head_layers
        else:  # batch normalisation stays frozen (inference mode): small batches would wreck its statistics
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        run_eagerly=config.run_eagerly,
    )
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)]
    if phase == "fine-tune":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=1, min_lr=1e-6))
    log(f"Phase {phase}: up to {epochs} epochs at learning rate {rate:g}, {steps} steps per epoch")
    phase_started = time.monotonic()
    history = model.fit(
        batches,
        steps_per_epoch=steps,
        epochs=epochs,
        validation_data=validation,
        shuffle=False,  # the batches are shuffled by training_batches
        callbacks=callbacks,
        verbose=config.verbose,
    )
    records = _history(history)
    best = int(np.argmin([record["val_loss"] for record in records]))
    record = {
        "phase": phase,
        "learning_rate": rate,
        "epochs_run": len(records),
        "best_epoch": best + 1,
        "seconds": round(time.monotonic() - phase_started, 1),
        "history": records,
    }
    log(f"  best epoch {best + 1}: val_loss {records[best]['val_loss']:.4f}")
    return record


def save_and_export(*, model: keras.Model, config: TrainingConfig) -> tuple[keras.Model, Path, Path]:
    """Save an uncompiled copy (no optimizer state in the file, and every layer marked
    trainable) to ``config.output`` and its LiteRT export beside it: (copy, .keras, .tflite)."""
    from . import keras_model

    final = keras_model.build_classifier(input_size=config.image_size, alpha=config.alpha, dropout=config.dropout)
    final.set_weights(model.get_weights())
    keras_path = Path(config.output)
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    final.save(keras_path)
    runtime_path = runtime_path_for(keras_path)
    keras_model.export_runtime(final, runtime_path)
    return final, keras_path, runtime_path


def calibrate_temperature(*, model: keras.Model, arrays: TrainingArrays, config: TrainingConfig) -> Calibration:
    """Temperature scaling fitted on the validation split, with the figures before and after."""
    logits = _predict_logits(model, arrays.images["validation"], config.batch_size)
    labels = arrays.labels["validation"]
    temperature = fit_temperature(logits=logits, labels=labels)
    return Calibration(
        temperature=temperature,
        probabilities=softmax(logits, temperature=temperature),
        nll_before=negative_log_likelihood(logits=logits, labels=labels),
        nll_after=negative_log_likelihood(logits=logits, labels=labels, temperature=temperature),
        ece_before=expected_calibration_error(probabilities=softmax(logits), labels=labels),
    )


def fit_quality_gate_step(
    *,
    model: keras.Model,
    dataset: Dataset,
    arrays: TrainingArrays,
    keras_path: Path,
    config: TrainingConfig,
    calibration: Calibration,
    log: Log,
) -> dict:
    """The out-of-scope gate (:func:`skinml.quality_fit.fit_quality_gate`): OOD statistics on the
    training split, thresholds on validation, flag rates on validation and test (the test images
    are loaded here only to measure those rates), ``<model>.ood.npz`` beside the model."""
    test_ids = dataset.split["test"]
    images = dict(arrays.images)
    labels = dict(arrays.labels)
    if test_ids:
        images["test"] = load_image_cache(paths=[dataset.files[i] for i in test_ids], size=config.image_size)
        labels["test"] = np.array([CLASSES.index(dataset.images[i].label) for i in test_ids], dtype=np.int64)
    return fit_quality_gate(
        model=model,
        keras_path=keras_path,
        images=images,
        labels=labels,
        temperature=calibration.temperature,
        image_files={name: [dataset.files[i] for i in dataset.split[name]] for name in images},
        batch_size=config.batch_size,
        log=log,
    )


def _history(history) -> list[dict]:
    epochs = len(history.history.get("loss", []))
    return [{key: round(float(values[i]), 5) for key, values in history.history.items()} for i in range(epochs)]


def _predict_logits(model: keras.Model, cache: np.ndarray, batch_size: int) -> np.ndarray:
    parts = [
        np.asarray(model.predict_on_batch(cache[start : start + batch_size].astype(np.float32)))
        for start in range(0, len(cache), batch_size)
    ]
    return np.concatenate(parts).astype(np.float64)


# The model card ------------------------------------------------------------------------------


def model_card(
    *,
    config: TrainingConfig,
    dataset: Dataset,
    arrays: TrainingArrays,
    phases: list[dict],
    calibration: Calibration,
    thresholds: dict[str, float],
    validation_metrics: dict,
    seconds: float,
) -> dict:
    """The card of a trained model: what it is, how it was made and how it scored on validation."""
    from .keras_model import GRADCAM_LAYER

    return {
        "name": config.name,
        "version": config.version,
        "architecture": (
            f"{ARCHITECTURE} alpha={config.alpha:g} (from its own input) + GlobalAveragePooling2D + "
            f"Dropout({config.dropout:g}) + Dense({len(CLASSES)}) logits"
        ),
        "input_size": config.image_size,
        "classes": list(CLASSES),
        "preprocessing": PREPROCESSING_ID,
        "gradcam_layer": GRADCAM_LAYER,
        "temperature": round(calibration.temperature, 6),
        "thresholds": thresholds,
        "threshold_rule": {
            "score": "P(BCC) + P(MEL) after temperature scaling",
            "high": HIGH_RULE.format(mel=config.target_mel_sensitivity),
            "medium": MEDIUM_RULE.format(malignant=config.target_malignant_sensitivity),
            "risk": RISK_RULE,
        },
        "calibration": {
            "method": "temperature scaling fitted on the validation split (minimum negative log-likelihood)",
            "validation_nll_before": round(calibration.nll_before, 5),
            "validation_nll_after": round(calibration.nll_after, 5),
            "validation_ece_before": round(calibration.ece_before, 5),
            "validation_ece_after": round(validation_metrics["ece"], 5),
        },
        "data": _card_data(config=config, dataset=dataset),
        "split": _card_split(config=config, dataset=dataset),
        "hyperparameters": _card_hyperparameters(config=config, weights=arrays.class_weights),
        "training": _card_training(phases=phases, seconds=seconds),
        "metrics": {"validation": validation_metrics},
        "intended_use": INTENDED_USE,
        "licence": LICENCE,
    }


def _card_data(*, config: TrainingConfig, dataset: Dataset) -> dict:
    return {
        "images_dir": str(config.images),
        "labels": str(config.labels),
        "metadata": str(config.metadata) if config.metadata else None,
        "labelled_ids_without_file": dataset.missing,
        "images": len(dataset.images),
        "groups": dataset.groups,
        "splits": data_summary(images=dataset.images, split=dataset.split),
    }


def _card_split(*, config: TrainingConfig, dataset: Dataset) -> dict:
    split = dataset.split
    return {
        "method": "grouped by lesion_id (an image without one is its own group), stratified by class, seeded",
        "seed": config.seed,
        "fractions": dict(zip(SPLITS, config.split_fractions, strict=True)),
        "sizes": {name: len(split[name]) for name in SPLITS},
        "validation_ids": split["validation"],
        "test_ids": split["test"],
    }


def _card_hyperparameters(*, config: TrainingConfig, weights: np.ndarray) -> dict:
    init = (
        {"file": Path(config.init_weights).name, "sha256": sha256_of_file(config.init_weights)}
        if config.init_weights
        else "random"
    )
    return {
        "image_size": config.image_size,
        "alpha": config.alpha,
        "dropout": config.dropout,
        "batch_size": config.batch_size,
        "init_weights": init,
        "optimizer": "Adam",
        "loss": "sparse categorical cross-entropy from logits, balanced class weights",
        "class_weights": {c: round(float(w), 5) for c, w in zip(CLASSES, weights, strict=True)},
        "head_epochs": config.head_epochs,
        "head_learning_rate": config.head_learning_rate,
        "fine_tune_epochs": config.fine_tune_epochs,
        "fine_tune_learning_rate": config.fine_tune_learning_rate,
        "fine_tune": "whole network, batch-normalisation layers frozen (inference mode); "
        "learning rate ×0.3 after 1 epoch without val_loss improvement",
        "early_stopping": f"val_loss, patience {config.patience}, best weights restored",
        "augmentation": AUGMENTATION,
        "target_mel_sensitivity": config.target_mel_sensitivity,
        "target_malignant_sensitivity": config.target_malignant_sensitivity,
        "max_images": config.max_images,
    }


def _card_training(*, phases: list[dict], seconds: float) -> dict:
    from .keras_model import keras, tf

    return {
        "phases": phases,
        "seconds": seconds,
        "software": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
    }
