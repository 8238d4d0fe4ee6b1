"""Building, loading, exporting and checking the Keras classifier. Imports TensorFlow: used by
training, registration, the tests and the benchmark, never by a worker serving predictions
(nothing else in :mod:`skinml` imports it at module level).

The classifier is built flat from MobileNetV2's own input (not nested as a sub-model), so the
last convolutional block's output ``out_relu`` is reachable for Grad-CAM:

    input (s×s×3, in [-1, 1]) → MobileNetV2 body → out_relu (h×w×1280)
        → GlobalAveragePooling2D → Dropout → Dense(classes) = logits (scores before softmax)
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py
import keras
import numpy as np
import tensorflow as tf

from .engine import CAM_EPSILON

GRADCAM_LAYER = "out_relu"
LOGITS_LAYER = "logits"
CLASS_MAPS_LAYER = "class_maps"
FEATURES_LAYER = "pool"  # GlobalAveragePooling2D: the pooled features of the OOD statistics


def build_classifier(
    *,
    input_size: int = 224,
    num_classes: int = 3,
    alpha: float = 1.0,
    dropout: float = 0.2,
    seed: int | None = None,
) -> keras.Model:
    """MobileNetV2 with random weights (nothing is downloaded) and a logits head."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    backbone = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), alpha=alpha, include_top=False, weights=None
    )
    pooled = keras.layers.GlobalAveragePooling2D(name=FEATURES_LAYER)(backbone.output)
    dropped = keras.layers.Dropout(dropout, name="dropout")(pooled)
    logits = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(dropped)
    return keras.Model(backbone.input, logits, name=f"skinportal_mobilenetv2_{alpha:g}_{input_size}")


def load_classifier(path: Path) -> keras.Model:
    """A saved classifier (``.keras``), without its optimizer state."""
    return keras.models.load_model(path, compile=False)


def load_backbone_weights(model: keras.Model, h5_path: Path) -> int:
    """Load MobileNetV2 arrays by Keras layer name from a full-model HDF5 file (such as
    ``../shared/data/weights``). Returns how many arrays were loaded; the head is left alone."""
    with h5py.File(h5_path, "r") as handle:
        root = handle.get("model_weights", handle)
        groups = [root[name] for name in root if any(layer in root[name] for layer in ("Conv1", "Conv_1"))]
        source = groups[0] if groups else root
        loaded = 0
        for layer in model.layers:
            if layer.name not in source or not layer.weights:
                continue
            arrays = source[layer.name]
            for variable in layer.weights:
                if variable.name not in arrays:
                    raise ValueError(f"{h5_path}: layer {layer.name} has no array {variable.name}")
                value = arrays[variable.name][()]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{h5_path}: {layer.name}/{variable.name} has shape {value.shape}")
                variable.assign(value)
                loaded += 1
    if loaded == 0:
        raise ValueError(f"{h5_path}: no MobileNetV2 layer of the model was found")
    return loaded


def runtime_model(model: keras.Model) -> keras.Model:
    """The serving form: the same network with three outputs, the logits, every class's map
    Σ_k W[k, c]·A_k (a 1×1 convolution with the head's weights) over ``out_relu``, and the pooled
    features (the GlobalAveragePooling2D output, for the OOD statistics of :mod:`skinml.ood`)."""
    features = model.get_layer(GRADCAM_LAYER).output
    kernel, _bias = model.get_layer(LOGITS_LAYER).get_weights()
    class_maps_layer = keras.layers.Conv2D(kernel.shape[1], 1, use_bias=False, name=CLASS_MAPS_LAYER)
    class_maps = class_maps_layer(features)
    class_maps_layer.set_weights([kernel[None, None, :, :]])
    pooled = model.get_layer(FEATURES_LAYER).output
    return keras.Model(model.input, [model.output, class_maps, pooled], name=f"{model.name}_runtime")


def features_model(model: keras.Model) -> keras.Model:
    """The classifier's input to its pooled features (the Keras reference for the export)."""
    return keras.Model(model.input, model.get_layer(FEATURES_LAYER).output)


def export_runtime(model: keras.Model, path: Path) -> None:
    """Write the LiteRT (TFLite) file the workers load."""
    runtime_model(model).export(str(path), format="litert", verbose=False)


class GradCamReference:
    """The textbook Grad-CAM with a GradientTape, for checking the fast engine and for the
    benchmark's "naive" baseline."""

    def __init__(self, model: keras.Model) -> None:
        self.grad_model = keras.Model(model.input, [model.get_layer(GRADCAM_LAYER).output, model.output])

    def __call__(self, image: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(logits, map normalised to [0, 1]) of one preprocessed image."""
        batch = tf.convert_to_tensor(image[None], dtype=tf.float32)
        with tf.GradientTape() as tape:
            features, logits = self.grad_model(batch, training=False)
            score = logits[:, class_index]
        gradients = tape.gradient(score, features)[0]
        weights = tf.reduce_mean(gradients, axis=(0, 1))
        cam = tf.nn.relu(tf.reduce_sum(features[0] * weights, axis=-1)).numpy()
        return logits[0].numpy(), cam / (cam.max() + CAM_EPSILON)


def calibrate_batch_norm(model: keras.Model, images: np.ndarray) -> None:
    """Set every batch-normalisation layer's moving statistics to those of ``images``.

    A randomly initialised MobileNetV2 normalises with mean 0 / variance 1, so its activations
    vanish and it outputs exactly 1/num_classes; after this it responds to its input."""
    batch_norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in batch_norms]
    for layer in batch_norms:
        layer.momentum = 0.0
    model(tf.convert_to_tensor(images, dtype=tf.float32), training=True)
    for layer, momentum in zip(batch_norms, momenta, strict=True):
        layer.momentum = momentum
