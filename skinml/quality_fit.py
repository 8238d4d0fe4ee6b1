"""Fitting the out-of-scope gate of a model: the OOD statistics on the TRAINING split's pooled
features, their thresholds on the VALIDATION split, the flag rates on validation and test, the
``<model>.ood.npz`` file beside the model and the card's ``quality`` section.

:func:`fit_quality_gate` is the step :func:`skinml.train.train` calls; :func:`fit_for_existing_model`
does the same for a model trained before issue 14 (its card's split), re-exporting its runtime
file with the features output. TensorFlow is imported inside the functions only.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .card import card_path_for, check_runtime_matches_keras, runtime_path_for, validated_card, write_card
from .classes import CLASSES
from .data import Log, find_image_files, load_image_cache, read_labels, read_lesion_ids, split_by_lesion
from .engine import sha256_of_file
from .ood import calibrate_thresholds, fit_statistics, flag_rates
from .quality import DEFAULT_THRESHOLDS, findings_of, folder_scores, worst_status

if TYPE_CHECKING:
    import keras

REJECTED_RATE = 0.05
WARNING_RATE = 0.10


def ood_path_for(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".ood.npz")


def predict_logits_and_features(
    model: keras.Model, images: np.ndarray, *, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (n, classes) and pooled features (n, D) of preprocessed images, by the Keras model."""
    from .keras_model import FEATURES_LAYER, keras

    both = keras.Model(model.input, [model.output, model.get_layer(FEATURES_LAYER).output])
    logits, features = [], []
    for start in range(0, len(images), batch_size):
        batch_logits, batch_features = both.predict_on_batch(images[start : start + batch_size].astype(np.float32))
        logits.append(np.asarray(batch_logits))
        features.append(np.asarray(batch_features))
    return np.concatenate(logits).astype(np.float64), np.concatenate(features).astype(np.float64)


def fit_quality_gate(
    *,
    model: keras.Model,
    keras_path: Path,
    images: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    temperature: float,
    image_files: Mapping[str, list[Path]] | None = None,
    batch_size: int = 32,
    log: Log = print,
) -> dict:
    """Fit on ``images["train"]``, calibrate on ``images["validation"]``, measure on those and on
    ``images["test"]`` when given; write ``<model>.ood.npz`` and return the card's ``quality``.

    With the splits' original ``image_files``, the image checks run on them too, and the OOD
    thresholds leave room for the images those reject, so that the whole gate rejects at most
    ``REJECTED_RATE`` of the validation images."""
    checks = _image_check_flags(image_files, splits=images.keys(), log=log)
    outputs = {}
    for split, cache in images.items():
        log(f"Pooled features of the {split} split ({len(cache)} images) ...")
        outputs[split] = predict_logits_and_features(model, cache, batch_size=batch_size)
    _, train_features = outputs["train"]
    statistics = fit_statistics(features=train_features, labels=labels["train"], num_classes=len(CLASSES))
    val_logits, val_features = outputs["validation"]
    statistics = calibrate_thresholds(
        statistics,
        logits=val_logits,
        features=val_features,
        temperature=temperature,
        rejected_rate=REJECTED_RATE,
        warning_rate=WARNING_RATE,
        already_rejected=checks["validation"][0] if checks else None,
        already_warned=checks["validation"][1] if checks else None,
    )
    path = ood_path_for(keras_path)
    statistics.save(path)
    rates = {
        split: flag_rates(
            statistics,
            logits=logits,
            features=features,
            temperature=temperature,
            already_rejected=checks[split][0] if checks else None,
            already_warned=checks[split][1] if checks else None,
        )
        for split, (logits, features) in outputs.items()
    }
    log(f"OOD thresholds {statistics.thresholds}; flag rates {rates}")
    return quality_card_section(path=path, thresholds=statistics.thresholds, rates=rates)


def _image_check_flags(
    image_files: Mapping[str, list[Path]] | None, *, splits, log: Log
) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Per split, (rejected, warning or worse) masks of the image checks on the original files."""
    if not image_files:
        return None
    flags = {}
    for split in splits:
        log(f"Image checks of the {split} split ({len(image_files[split])} files) ...")
        scores = folder_scores(image_files[split])
        statuses = [
            worst_status(findings_of({name: float(values[i]) for name, values in scores.items()}))
            for i in range(len(image_files[split]))
        ]
        flags[split] = (
            np.array([status == "rejected" for status in statuses]),
            np.array([status != "ok" for status in statuses]),
        )
    return flags


def quality_card_section(*, path: Path, thresholds: dict, rates: dict) -> dict:
    """The card's ``quality``: the OOD file and its SHA-256, how it was fitted, its thresholds, the
    flag rates per split, and the image-check thresholds of this code."""
    return {
        "statistics_file": path.name,
        "statistics_sha256": sha256_of_file(path),
        "features": "GlobalAveragePooling2D output (the runtime export's third output)",
        "method": (
            "energy -T*logsumexp(logits/T) at the card's temperature and min-over-classes Mahalanobis distance "
            "of the pooled features (class means and shrunk pooled within-class covariance of the TRAINING split); "
            f"thresholds on the VALIDATION split such that at most {REJECTED_RATE:.0%} of its images are rejected and "
            f"{WARNING_RATE:.0%} warned by either score or, where the original files were given, by the whole gate "
            "(image checks included: gate_* rates); higher = more unusual"
        ),
        "ood_thresholds": thresholds,
        "ood_flag_rates": rates,
        "image_check_thresholds": {name: asdict(threshold) for name, threshold in DEFAULT_THRESHOLDS.items()},
    }


# An existing model -----------------------------------------------------------------------------


def card_split(*, card: dict, labels_csv: Path, images_dir: Path, metadata: Path | None, log: Log) -> dict:
    """The train / validation / test ids of a trained model: the card records validation and test;
    training is recomputed (the same split of the card's first ``data.images`` labelled images with
    a file, its seed and fractions) and checked against them. When it does not reproduce the card,
    training is those images minus the card's validation and test ids."""
    labelled = read_labels(path=labels_csv)
    files = find_image_files(images_dir=images_dir, image_ids=[item.image_id for item in labelled])
    present = [item for item in labelled if item.image_id in files][: int(card["data"]["images"])]
    validation, test = card["split"]["validation_ids"], card["split"]["test_ids"]
    lesion_ids = read_lesion_ids(path=metadata) if metadata and Path(metadata).is_file() else {}
    split = split_by_lesion(
        labels={item.image_id: item.label for item in present},
        lesion_ids=lesion_ids,
        seed=int(card["split"]["seed"]),
        fractions=tuple(card["split"]["fractions"].values()),
    )
    if split["validation"] == validation and split["test"] == test:
        log(f"Recomputed the card's split: {len(split['train'])} training images")
        train = split["train"]
    else:
        held_out = set(validation) | set(test)
        train = [item.image_id for item in present if item.image_id not in held_out]
        log(f"The split did not reproduce the card's; training = the other {len(train)} images")
    label_of = {item.image_id: item.label for item in labelled}
    return {"ids": {"train": train, "validation": validation, "test": test}, "labels": label_of, "files": files}


def fit_for_existing_model(
    keras_path: Path,
    images_dir: Path,
    labels_csv: Path,
    *,
    output_dir: Path,
    metadata: Path | None = None,
    batch_size: int = 32,
    log: Log = print,
) -> Path:
    """For a model trained without the gate: copy ``<model>.keras`` into ``output_dir``, re-export
    its runtime file with the features output (checked against the Keras model), fit the OOD
    statistics on its card's split, and write ``<model>.ood.npz`` and the card with ``quality``
    there. Returns the new card's path. ``output_dir`` may be the model's own folder."""
    from . import keras_model

    keras_path = Path(keras_path)
    card = validated_card(json.loads(card_path_for(keras_path).read_text()), source=card_path_for(keras_path))
    if metadata is None and card.get("data", {}).get("metadata"):
        metadata = Path(card["data"]["metadata"])
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / keras_path.name
    if target.resolve() != keras_path.resolve():
        shutil.copyfile(keras_path, target)
    model = keras_model.load_classifier(target)
    runtime_path = runtime_path_for(target)
    keras_model.export_runtime(model, runtime_path)
    check_runtime_matches_keras(keras_path=target, runtime_path=runtime_path, card=card)
    log(f"Re-exported {runtime_path} with the features output (checked against the Keras model)")

    split = card_split(card=card, labels_csv=labels_csv, images_dir=images_dir, metadata=metadata, log=log)
    size = int(card["input_size"])
    images, labels = {}, {}
    for name, ids in split["ids"].items():
        images[name] = load_image_cache(paths=[split["files"][i] for i in ids], size=size)
        labels[name] = np.array([CLASSES.index(split["labels"][i]) for i in ids], dtype=np.int64)
    card["quality"] = fit_quality_gate(
        model=model,
        keras_path=target,
        images=images,
        labels=labels,
        temperature=float(card.get("temperature", 1.0)),
        image_files={name: [split["files"][i] for i in ids] for name, ids in split["ids"].items()},
        batch_size=batch_size,
        log=log,
    )
    card_path = card_path_for(target)
    write_card(card=card, path=card_path)
    log(f"Wrote {ood_path_for(target).name} and the card's quality section to {card_path}")
    return card_path
