"""Training-time augmentation of preprocessed images, and the endless batches fed to Keras."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

#: How :func:`augment` changes an image, as recorded in the model card.
AUGMENTATION = (
    "on the preprocessed [-1, 1] arrays: random 90° rotation and horizontal flip (all 8 symmetries), "
    "zoom-in crop of 85-100% of the side at a random position resized back (bilinear), brightness ±0.1, "
    "contrast and saturation ×0.9-1.1, per-channel gain ×0.95-1.05, clipped to [-1, 1]"
)


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
