"""Augmentation and the training batches. No database."""

from __future__ import annotations

import numpy as np
import pytest

from skinml.augment import augment, training_batches
from skinml.data import class_weights
from skinml.preprocessing import preprocess

from .. import images


def test_augment_keeps_shape_and_range_and_is_seeded():
    batch = np.stack([preprocess(images.lesion_like(80, 60, seed=i), size=48) for i in range(6)])
    first = augment(batch, rng=np.random.default_rng(0))
    assert first.shape == batch.shape and first.dtype == np.float32
    assert first.min() >= -1.0 and first.max() <= 1.0
    assert not np.allclose(first, batch)
    np.testing.assert_array_equal(first, augment(batch, rng=np.random.default_rng(0)))
    assert first.mean() == pytest.approx(batch.mean(), abs=0.15)  # colour jitter stays mild


def test_augment_keeps_a_saturated_image_in_range():
    batch = np.ones((2, 32, 32, 3), dtype=np.float32)
    batch[1] = -1.0
    result = augment(batch, rng=np.random.default_rng(5))
    assert result.min() >= -1.0 and result.max() <= 1.0


def test_training_batches_cover_every_image_once_per_epoch():
    stack = np.arange(10, dtype=np.float16)[:, None, None, None] * np.ones((10, 8, 8, 3), dtype=np.float16) / 10
    labels = np.array([0, 1, 2, 2, 2, 1, 1, 1, 1, 0])
    weights = class_weights(labels=labels)
    batches = training_batches(images=stack, labels=labels, sample_weights=weights[labels], batch_size=4, seed=0)
    epoch = [next(batches) for _ in range(3)]  # 4 + 4 + 2
    assert [len(b[1]) for b in epoch] == [4, 4, 2]
    assert sorted(np.concatenate([b[1] for b in epoch]).tolist()) == sorted(labels.tolist())
    for _, batch_labels, batch_weights in epoch:
        np.testing.assert_allclose(batch_weights, weights[batch_labels])
