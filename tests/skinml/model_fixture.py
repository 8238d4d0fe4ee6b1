"""Small MobileNetV2 classifiers for the tests; nothing is downloaded.

``build_test_model`` makes a model from random weights (MobileNetV2 alpha 0.35) whose
batch-normalisation statistics are set from a batch of lesion-like images, so that it responds
to its input instead of giving exactly 1/3 per class. With ``backbone_weights`` (the offline,
ImageNet-derived MobileNetV2 of ``../shared/data/weights``) it uses those instead.

Either way its head is fitted (ridge regression, per position of ``out_relu``) so that MEL's
score rises with the features found where the dark blob is, and NV's falls: a small, honest
"lesion detector". Random deep features barely localise, so tests of where Grad-CAM points use
the backbone weights; tests of the pipeline use the random model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from skinml.classes import CLASSES
from skinml.preprocessing import PREPROCESSING_ID, preprocess

from .. import images

INPUT_SIZE = 224
THRESHOLDS = {"medium": 0.3, "high": 0.6}
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SHARED_WEIGHTS = SHARED_DATA / "weights" / "mobilenetv2_1.00_backbone_stanford_dogs.h5"


def blob_centres(count: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    return [(float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8))) for _ in range(count)]


def lesion_batch(centres, size: int = INPUT_SIZE, seed: int = 0) -> np.ndarray:
    return np.stack(
        [preprocess(images.lesion_like(size, size, seed=seed + i, centre=c), size=size) for i, c in enumerate(centres)]
    )


def _fit_lesion_head(model, batch: np.ndarray, centres) -> None:
    from skinml import keras_model

    features = keras_model.keras.Model(model.input, model.get_layer(keras_model.GRADCAM_LAYER).output)
    maps = np.asarray(features(batch, training=False), dtype=np.float64)  # (n, h, w, k)
    _, h, w, k = maps.shape
    yy, xx = np.mgrid[0:h, 0:w]
    target = np.stack(
        [np.exp(-(((yy + 0.5) / h - cy) ** 2 + ((xx + 0.5) / w - cx) ** 2) / (2 * 0.12**2)) for cy, cx in centres]
    )
    cells = maps.reshape(-1, k)
    mean = cells.mean(axis=0)
    centred = cells - mean
    weights = np.linalg.solve(centred.T @ centred + 10.0 * np.eye(k), centred.T @ (target.reshape(-1) - target.mean()))
    pooled_scores = (maps.mean(axis=(1, 2)) - mean) @ weights
    # Logits spread by about one unit, so probabilities vary clearly between images while the
    # float32 rounding differences between TensorFlow and LiteRT stay far below 1e-4.
    scale = 0.8 / (pooled_scores.std() + 1e-12)
    rng = np.random.default_rng(3)
    kernel = np.stack([rng.normal(0, 0.01, k), scale * weights, -scale * weights], axis=1).astype(np.float32)
    offset = float(scale * mean @ weights)
    bias = np.array([0.0, -offset, offset], dtype=np.float32)
    model.get_layer(keras_model.LOGITS_LAYER).set_weights([kernel, bias])


def build_test_model(
    directory: Path,
    *,
    name: str = "test-mobilenetv2",
    version: str = "0.1.0",
    backbone_weights: Path | None = None,
) -> Path:
    """Write ``<name>-<version>.keras``, its card and its LiteRT export; return the .keras path.
    TensorFlow is imported here, not when the test modules are collected."""
    from skinml import keras_model

    alpha = 1.0 if backbone_weights else 0.35
    model = keras_model.build_classifier(input_size=INPUT_SIZE, alpha=alpha, seed=7)
    centres = blob_centres(48, seed=1)
    batch = lesion_batch(centres)
    if backbone_weights:
        keras_model.load_backbone_weights(model, backbone_weights)
    else:
        keras_model.calibrate_batch_norm(model, batch)
    _fit_lesion_head(model, batch, centres)

    directory.mkdir(parents=True, exist_ok=True)
    keras_path = directory / f"{name}-{version}.keras"
    model.save(keras_path)
    keras_model.export_runtime(model, keras_path.with_suffix(".tflite"))
    source = "ImageNet-derived backbone" if backbone_weights else "random weights"
    card = {
        "name": name,
        "version": version,
        "architecture": f"MobileNetV2 alpha={alpha} ({source}, test head) + GAP + Dropout + Dense(3)",
        "input_size": INPUT_SIZE,
        "classes": list(CLASSES),
        "preprocessing": PREPROCESSING_ID,
        "gradcam_layer": keras_model.GRADCAM_LAYER,
        "temperature": 1.0,
        "thresholds": THRESHOLDS,
        "metrics": {},
    }
    keras_path.with_suffix(".card.json").write_text(json.dumps(card, indent=2))
    return keras_path
