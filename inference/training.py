"""Training the classifier: labels, the lesion-grouped split, augmentation, two-phase
fine-tuning, temperature scaling, decision thresholds and the model card.

TensorFlow is imported only inside :func:`train`, so the data functions here (used by the
evaluation too) stay cheap to import.

Every image goes through :func:`inference.preprocessing.preprocess`, exactly as at inference;
augmentation is applied afterwards, to the [-1, 1] arrays.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import platform
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .models import CLASSES, MALIGNANT_CLASSES
from .preprocessing import PREPROCESSING_ID, preprocess

SPLITS = ("train", "validation", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")
ARCHITECTURE = "MobileNetV2"
HIGH_RULE = (
    "high = the largest threshold on P(BCC)+P(MEL) that still flags at least {mel:.0%} of the validation MEL "
    "images as high"
)
MEDIUM_RULE = (
    "medium = the largest threshold on P(BCC)+P(MEL) that flags at least {malignant:.0%} of the validation "
    "malignant (MEL+BCC) images as medium or high, capped at high"
)
AUGMENTATION = (
    "on the preprocessed [-1, 1] arrays: random 90° rotation and horizontal flip (all 8 symmetries), "
    "zoom-in crop of 85-100% of the side at a random position resized back (bilinear), brightness ±0.1, "
    "contrast and saturation ×0.9-1.1, per-channel gain ×0.95-1.05, clipped to [-1, 1]"
)

Log = Callable[[str], None]


# Labels, lesion ids and image files ------------------------------------------------------


@dataclass(frozen=True)
class LabelledImage:
    image_id: str
    label: str
    source: str = ""  # "<owner>/<repo>:<path>" when the labels file names it


def read_labels(*, path: Path) -> list[LabelledImage]:
    """Read ``image,label[,source]`` (label MEL, NV or BCC) or the official ISIC one-hot ground
    truth (``image,MEL,NV,BCC,...``), keeping only the rows whose class is MEL, NV or BCC."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if "image" not in columns:
            raise ValueError(f"{path}: no 'image' column")
        rows = list(reader)
    result: list[LabelledImage] = []
    if "label" in columns:
        for row in rows:
            label = row["label"].strip().upper()
            if label in CLASSES:
                result.append(LabelledImage(row["image"].strip(), label, (row.get("source") or "").strip()))
        return result
    if not set(CLASSES) <= columns:
        raise ValueError(f"{path}: expected a 'label' column or the one-hot columns {', '.join(CLASSES)}")
    categories = [name for name in reader.fieldnames if name not in ("image", "score_weight", "validation_weight")]
    for row in rows:
        values = {name: float(row[name] or 0) for name in categories}
        label = max(values, key=values.__getitem__)
        if label in CLASSES and values[label] > 0.5:
            result.append(LabelledImage(row["image"].strip(), label))
    return result


def read_lesion_ids(*, path: Path) -> dict[str, str]:
    """Image id → lesion id from a HAM10000-style metadata file (``lesion_id,image_id,...``)."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        image_column = "image_id" if "image_id" in (reader.fieldnames or ()) else "image"
        return {row[image_column].strip(): row["lesion_id"].strip() for row in reader if row.get("lesion_id")}


def source_repository(source: str) -> str:
    """The ``owner/repo`` part of a ``source`` value, or "unknown"."""
    return source.split(":", 1)[0].strip() or "unknown"


def find_image_files(*, images_dir: Path, image_ids: Sequence[str]) -> dict[str, Path]:
    """The file of each image id that exists in ``images_dir`` (``<id>.jpg``, ``.jpeg`` or ``.png``)."""
    names = {path.name: path for path in Path(images_dir).iterdir() if path.suffix in IMAGE_SUFFIXES}
    found = {}
    for image_id in image_ids:
        for suffix in IMAGE_SUFFIXES:
            if f"{image_id}{suffix}" in names:
                found[image_id] = names[f"{image_id}{suffix}"]
                break
    return found


# Split and class weights -----------------------------------------------------------------


def split_by_lesion(
    *,
    labels: Mapping[str, str],
    lesion_ids: Mapping[str, str],
    seed: int,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
) -> dict[str, list[str]]:
    """A seeded train/validation/test split of image ids in which all images of one lesion fall
    on the same side (an image without a lesion id is its own group), stratified by class.

    Per class (a group's class is its most common label), the groups are shuffled and each goes
    to the split furthest below its target number of images, so every class ends up close to
    ``fractions`` as far as the group sizes allow. The result does not depend on input order."""
    if len(fractions) != len(SPLITS) or not math.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError("fractions must be three non-negative numbers summing to 1")
    groups: dict[str, list[str]] = defaultdict(list)
    for image_id in sorted(labels):
        groups[lesion_ids.get(image_id) or f"image:{image_id}"].append(image_id)
    group_class = {
        name: sorted(Counter(labels[i] for i in ids).items(), key=lambda item: (-item[1], item[0]))[0][0]
        for name, ids in groups.items()
    }
    rng = np.random.default_rng(seed)
    result: dict[str, list[str]] = {name: [] for name in SPLITS}
    for label in sorted(set(group_class.values())):
        names = sorted(name for name, cls in group_class.items() if cls == label)
        order = rng.permutation(len(names))
        total = sum(len(groups[name]) for name in names)
        counts = np.zeros(len(SPLITS))
        for index in order:
            ids = groups[names[index]]
            target = int(np.argmax(np.asarray(fractions) * total - counts))
            counts[target] += len(ids)
            result[SPLITS[target]].extend(ids)
    return {name: sorted(ids) for name, ids in result.items()}


def class_weights(*, labels: np.ndarray, num_classes: int = len(CLASSES)) -> np.ndarray:
    """Balanced weights n / (k · n_c): every class contributes equally to the loss. A class
    absent from ``labels`` gets weight 0."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


# Images and augmentation ----------------------------------------------------------------


def load_image_cache(*, paths: Sequence[Path], size: int, workers: int = 2, log: Log | None = None) -> np.ndarray:
    """Preprocess every image once (the one preprocessing function) into a float16 array
    (n, size, size, 3) kept in memory, so epochs never decode JPEGs."""
    cache = np.empty((len(paths), size, size, 3), dtype=np.float16)

    def load(index: int) -> None:
        cache[index] = preprocess(Path(paths[index]).read_bytes(), size=size)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(load, range(len(paths))), start=1):
            if log and (done % 500 == 0 or done == len(paths)):
                log(f"  preprocessed {done}/{len(paths)} images")
    return cache


def augment(images: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Random dermoscopy-style augmentation of a batch of preprocessed images (n, s, s, 3) in
    [-1, 1]; returns float32 of the same shape, still in [-1, 1]. Dermoscopic images have no
    canonical orientation, so all rotations and flips are fair; colour changes stay mild."""
    images = np.asarray(images, dtype=np.float32)
    size = images.shape[1]
    result = np.empty_like(images)
    for index, image in enumerate(images):
        image = np.rot90(image, k=int(rng.integers(4)))
        if rng.random() < 0.5:
            image = image[:, ::-1]
        side = round(size * rng.uniform(0.85, 1.0))
        top, left = (int(rng.integers(0, size - side + 1)) for _ in range(2))
        crop = np.ascontiguousarray(image[top : top + side, left : left + side])
        image = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR) if side != size else crop
        mean = image.mean(axis=(0, 1), keepdims=True)
        image = (image - mean) * rng.uniform(0.9, 1.1) + mean + rng.uniform(-0.1, 0.1)
        grey = image.mean(axis=-1, keepdims=True)
        image = grey + (image - grey) * rng.uniform(0.9, 1.1)
        image = (image + 1.0) * rng.uniform(0.95, 1.05, size=3).astype(np.float32) - 1.0
        result[index] = np.clip(image, -1.0, 1.0)
    return result


def training_batches(
    *,
    images: np.ndarray,
    labels: np.ndarray,
    sample_weights: np.ndarray,
    batch_size: int,
    seed: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Endless (augmented images, labels, weights) batches; a new shuffle every pass, so one
    epoch is ``ceil(n / batch_size)`` steps."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(images))
        for start in range(0, len(order), batch_size):
            index = np.sort(order[start : start + batch_size])
            yield augment(images[index], rng=rng), labels[index], sample_weights[index].astype(np.float32)


# Calibration and thresholds -------------------------------------------------------------


def fit_temperature(*, logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T)."""
    from scipy.optimize import minimize_scalar

    from .evaluation import negative_log_likelihood

    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits=logits, labels=labels, temperature=math.exp(log_t)),
        bounds=(math.log(0.05), math.log(20.0)),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(math.exp(result.x))


def _largest_threshold_flagging(scores: np.ndarray, fraction: float) -> float | None:
    """The largest t such that at least ``fraction`` of ``scores`` are >= t (None without scores)."""
    if len(scores) == 0:
        return None
    needed = max(1, math.ceil(fraction * len(scores) - 1e-9))
    return float(np.sort(scores)[::-1][needed - 1])


def choose_thresholds(
    *,
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str] = CLASSES,
    target_mel_sensitivity: float = 0.90,
    target_malignant_sensitivity: float = 0.97,
) -> dict[str, float]:
    """Risk thresholds on the malignancy score P(BCC)+P(MEL), chosen on validation data: see
    HIGH_RULE and MEDIUM_RULE. Rounded down to 4 decimals (which only flags more). Without any
    MEL (or malignant) image the threshold falls back to 0.5."""
    malignant = [classes.index(name) for name in MALIGNANT_CLASSES]
    score = probabilities[:, malignant].sum(axis=1)
    labels = np.asarray(labels)
    high = _largest_threshold_flagging(score[labels == classes.index("MEL")], target_mel_sensitivity)
    medium = _largest_threshold_flagging(score[np.isin(labels, malignant)], target_malignant_sensitivity)
    high = 0.5 if high is None else _round_down(high)
    medium = 0.5 if medium is None else _round_down(medium)
    return {"medium": min(medium, high), "high": high}


def _round_down(value: float) -> float:
    """``value`` to 4 decimals, never above it (a lower threshold only flags more)."""
    rounded = round(value, 4)
    return rounded if rounded <= value else round(rounded - 1e-4, 4)


# Training -------------------------------------------------------------------------------


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_summary(*, images: Mapping[str, LabelledImage], split: Mapping[str, Sequence[str]]) -> dict:
    """Counts per class and per source repository (and class) of every split."""
    summary = {}
    for name, ids in split.items():
        per_source: dict[str, Counter] = defaultdict(Counter)
        for image_id in ids:
            per_source[source_repository(images[image_id].source)][images[image_id].label] += 1
        summary[name] = {
            "images": len(ids),
            "classes": {label: sum(images[i].label == label for i in ids) for label in CLASSES},
            "sources": {
                repo: {label: counts[label] for label in CLASSES} for repo, counts in sorted(per_source.items())
            },
        }
    return summary


def _history(history) -> list[dict]:
    epochs = len(history.history.get("loss", []))
    return [{key: round(float(values[i]), 5) for key, values in history.history.items()} for i in range(epochs)]


def _predict_logits(model, cache: np.ndarray, batch_size: int) -> np.ndarray:
    parts = [
        np.asarray(model.predict_on_batch(cache[start : start + batch_size].astype(np.float32)))
        for start in range(0, len(cache), batch_size)
    ]
    return np.concatenate(parts).astype(np.float64)


def train(*, config: TrainingConfig, log: Log = print) -> TrainingResult:
    """Train, calibrate, choose thresholds, and write ``.keras``, ``.tflite``, ``.card.json`` and
    ``.card.md``. See docs/model-evaluation.md for the commands that made the bundled model."""
    started = time.monotonic()
    from . import evaluation, keras_model
    from .services import card_path_for, runtime_path_for

    keras = keras_model.keras

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
    groups = {lesion_ids.get(image_id) or image_id for image_id in images}
    for name in SPLITS:
        counts = Counter(labels_by_id[i] for i in split[name])
        log(f"  {name}: {len(split[name])} images " + ", ".join(f"{c} {counts[c]}" for c in CLASSES))
    if not split["train"] or not split["validation"]:
        raise ValueError("the split left the training or validation set empty; add images")

    log(f"Preprocessing with {PREPROCESSING_ID} at {config.image_size} px ...")
    caches, targets = {}, {}
    for name in SPLITS:
        if name == "test":
            continue  # the held-out split is evaluated by evaluate_model, never touched here
        caches[name] = load_image_cache(
            paths=[files[i] for i in split[name]], size=config.image_size, log=log if name == "train" else None
        )
        targets[name] = np.array([CLASSES.index(labels_by_id[i]) for i in split[name]], dtype=np.int64)
    weights = class_weights(labels=targets["train"])
    log("Class weights: " + ", ".join(f"{c} {w:.3f}" for c, w in zip(CLASSES, weights, strict=True)))

    model = keras_model.build_classifier(
        input_size=config.image_size, alpha=config.alpha, dropout=config.dropout, seed=config.seed
    )
    if config.init_weights:
        loaded = keras_model.load_backbone_weights(model, config.init_weights)
        log(f"Loaded {loaded} backbone arrays from {config.init_weights}")
    else:
        sample = caches["train"][np.random.default_rng(config.seed).permutation(len(caches["train"]))[:64]]
        keras_model.calibrate_batch_norm(model, sample.astype(np.float32))
        log("Random initialisation; batch-normalisation statistics set from training images")

    batches = training_batches(
        images=caches["train"],
        labels=targets["train"],
        sample_weights=weights[targets["train"]],
        batch_size=config.batch_size,
        seed=config.seed,
    )
    steps = math.ceil(len(targets["train"]) / config.batch_size)
    validation = (caches["validation"].astype(np.float32), targets["validation"])
    head_layers = {"pool", "dropout", keras_model.LOGITS_LAYER}
    phases = []
    for phase, epochs, rate in (
        ("head", config.head_epochs, config.head_learning_rate),
        ("fine-tune", config.fine_tune_epochs, config.fine_tune_learning_rate),
    ):
        if epochs <= 0:
            continue
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
        callbacks = [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
        ]
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
        phases.append(
            {
                "phase": phase,
                "learning_rate": rate,
                "epochs_run": len(records),
                "best_epoch": best + 1,
                "seconds": round(time.monotonic() - phase_started, 1),
                "history": records,
            }
        )
        log(f"  best epoch {best + 1}: val_loss {records[best]['val_loss']:.4f}")

    # Save an uncompiled copy: no optimizer state in the file, and every layer marked trainable.
    final = keras_model.build_classifier(input_size=config.image_size, alpha=config.alpha, dropout=config.dropout)
    final.set_weights(model.get_weights())
    keras_path = Path(config.output)
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    final.save(keras_path)
    runtime_path = runtime_path_for(keras_path)
    keras_model.export_runtime(final, runtime_path)

    logits = _predict_logits(final, caches["validation"], config.batch_size)
    temperature = fit_temperature(logits=logits, labels=targets["validation"])
    probabilities = evaluation.softmax_rows(logits, temperature=temperature)
    thresholds = choose_thresholds(
        probabilities=probabilities,
        labels=targets["validation"],
        target_mel_sensitivity=config.target_mel_sensitivity,
        target_malignant_sensitivity=config.target_malignant_sensitivity,
    )
    validation_metrics = evaluation.compute_metrics(
        probabilities=probabilities, labels=targets["validation"], thresholds=thresholds, n_bootstrap=0
    )
    uncalibrated = evaluation.softmax_rows(logits, temperature=1.0)
    log(f"Temperature {temperature:.3f}; thresholds {thresholds}")

    init = (
        {"file": Path(config.init_weights).name, "sha256": _sha256(Path(config.init_weights))}
        if config.init_weights
        else "random"
    )
    card = {
        "name": config.name,
        "version": config.version,
        "architecture": (
            f"{ARCHITECTURE} alpha={config.alpha:g} (from its own input) + GlobalAveragePooling2D + "
            f"Dropout({config.dropout:g}) + Dense({len(CLASSES)}) logits"
        ),
        "input_size": config.image_size,
        "classes": list(CLASSES),
        "preprocessing": PREPROCESSING_ID,
        "gradcam_layer": keras_model.GRADCAM_LAYER,
        "temperature": round(temperature, 6),
        "thresholds": thresholds,
        "threshold_rule": {
            "score": "P(BCC) + P(MEL) after temperature scaling",
            "high": HIGH_RULE.format(mel=config.target_mel_sensitivity),
            "medium": MEDIUM_RULE.format(malignant=config.target_malignant_sensitivity),
            "risk": "score >= high → high; score >= medium → medium; otherwise low",
        },
        "calibration": {
            "method": "temperature scaling fitted on the validation split (minimum negative log-likelihood)",
            "validation_nll_before": round(
                evaluation.negative_log_likelihood(logits=logits, labels=targets["validation"]), 5
            ),
            "validation_nll_after": round(
                evaluation.negative_log_likelihood(
                    logits=logits, labels=targets["validation"], temperature=temperature
                ),
                5,
            ),
            "validation_ece_before": round(
                evaluation.expected_calibration_error(probabilities=uncalibrated, labels=targets["validation"]), 5
            ),
            "validation_ece_after": round(validation_metrics["ece"], 5),
        },
        "data": {
            "images_dir": str(config.images),
            "labels": str(config.labels),
            "metadata": str(config.metadata) if config.metadata else None,
            "labelled_ids_without_file": missing,
            "images": len(images),
            "groups": len(groups),
            "splits": data_summary(images=images, split=split),
        },
        "split": {
            "method": "grouped by lesion_id (an image without one is its own group), stratified by class, seeded",
            "seed": config.seed,
            "fractions": dict(zip(SPLITS, config.split_fractions, strict=True)),
            "sizes": {name: len(split[name]) for name in SPLITS},
            "validation_ids": split["validation"],
            "test_ids": split["test"],
        },
        "hyperparameters": {
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
        },
        "training": {
            "phases": phases,
            "seconds": round(time.monotonic() - started, 1),
            "software": {
                "python": platform.python_version(),
                "tensorflow": keras_model.tf.__version__,
                "keras": keras.__version__,
                "numpy": np.__version__,
            },
        },
        "metrics": {"validation": validation_metrics},
        "intended_use": (
            "Research and software testing only. Not a medical device; not for diagnosis or triage of real patients."
        ),
        "licence": "Trained on ISIC archive / HAM10000 images under CC BY-NC 4.0: non-commercial use only.",
    }
    card_path = card_path_for(keras_path)
    write_card(card=card, path=card_path)
    log(f"Wrote {keras_path}, {runtime_path.name}, {card_path.name} in {card['training']['seconds']:.0f} s")
    return TrainingResult(keras_path=keras_path, runtime_path=runtime_path, card_path=card_path, card=card)


# Model card ------------------------------------------------------------------------------


def write_card(*, card: dict, path: Path) -> None:
    """Write the card JSON and its Markdown rendering (``<name>.card.md``) beside it."""
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    path.with_suffix(".md").write_text(card_markdown(card))


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _metrics_markdown(metrics: dict) -> list[str]:
    lines = ["| metric | value | 95% CI |", "| --- | --- | --- |"]
    intervals = metrics.get("confidence_intervals", {})

    def row(label: str, key: str, value) -> None:
        interval = intervals.get(key)
        ci = f"{_fmt(interval[0])} – {_fmt(interval[1])}" if interval else ""
        lines.append(f"| {label} | {_fmt(value)} | {ci} |")

    row("images", "n", metrics.get("n"))
    row("balanced accuracy", "balanced_accuracy", metrics.get("balanced_accuracy"))
    for label in metrics.get("classes", CLASSES):
        row(f"AUC {label} vs rest", f"auc_{label}", metrics.get("auc", {}).get(label))
    row("AUC malignant (MEL+BCC) vs NV (= NV vs rest)", "auc_malignant", metrics.get("auc_malignant"))
    for level in ("80", "90"):
        key = f"mel_sensitivity_at_{level}_specificity"
        row(f"MEL sensitivity at {level}% specificity", key, metrics.get(key))
    row("expected calibration error (15 bins)", "ece", metrics.get("ece"))
    return lines


def card_markdown(card: dict) -> str:
    """A short human-readable rendering of a model card."""
    split = card.get("split", {})
    lines = [
        f"# Model card: {card['name']} {card['version']}",
        "",
        f"- Architecture: {card['architecture']}",
        f"- Input: {card['input_size']}×{card['input_size']} RGB, preprocessing `{card['preprocessing']}`",
        f"- Classes (output order): {', '.join(card['classes'])}; Grad-CAM layer `{card['gradcam_layer']}`",
        f"- Temperature: {card.get('temperature', 1.0):.3f} (probabilities = softmax(logits / T))",
        f"- Thresholds on P(BCC)+P(MEL): medium {card['thresholds']['medium']:.4f}, "
        f"high {card['thresholds']['high']:.4f}",
    ]
    for key in ("high", "medium"):
        if key in card.get("threshold_rule", {}):
            lines.append(f"  - {card['threshold_rule'][key]}")
    if "intended_use" in card:
        lines += ["", f"**Intended use:** {card['intended_use']} {card.get('licence', '')}".rstrip()]
    if "data" in card:
        lines += [
            "",
            "## Data",
            "",
            f"Split seed {split.get('seed')}, {split.get('method', '')}.",
            "",
            "| split | images | BCC | MEL | NV |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, summary in card["data"]["splits"].items():
            counts = summary["classes"]
            lines.append(f"| {name} | {summary['images']} | {counts['BCC']} | {counts['MEL']} | {counts['NV']} |")
        lines += ["", "Per source repository (BCC / MEL / NV):", "", "| source | " + " | ".join(card["data"]["splits"])]
        lines[-1] += " |"
        lines.append("| --- |" + " --- |" * len(card["data"]["splits"]))
        sources = sorted({s for summary in card["data"]["splits"].values() for s in summary["sources"]})
        for source in sources:
            cells = []
            for summary in card["data"]["splits"].values():
                counts = summary["sources"].get(source, dict.fromkeys(CLASSES, 0))
                cells.append(" / ".join(str(counts[c]) for c in CLASSES))
            lines.append(f"| {source} | " + " | ".join(cells) + " |")
    if "hyperparameters" in card:
        lines += ["", "## Training", ""]
        lines += [f"- {key}: {value}" for key, value in card["hyperparameters"].items()]
        if "training" in card:
            lines.append(f"- training time: {card['training']['seconds'] / 60:.1f} min")
            for phase in card["training"]["phases"]:
                lines.append(
                    f"- phase {phase['phase']}: {phase['epochs_run']} epochs, best {phase['best_epoch']}, "
                    f"{phase['seconds'] / 60:.1f} min"
                )
    for name, metrics in card.get("metrics", {}).items():
        if isinstance(metrics, dict) and "balanced_accuracy" in metrics:
            lines += ["", f"## Metrics: {name}", "", *_metrics_markdown(metrics)]
    return "\n".join(lines) + "\n"
