"""skinml.registration: synthetic later visits of real ISIC images (rotated ±30°, scaled 0.8–1.25,
shifted, cropped back to a full frame, re-exposed and re-compressed), a fixture of drawn blobs that
needs no data, the ECC fallback on blurred pictures, and real pairs of HAM10000 lesions. No database."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from skinml.registration import Registration, align, warp_to_earlier

from .synthetic_lesions import SHARED_ISIC, blob_scene, corner_error, later_visit, read_rgb

ROOT = Path(__file__).resolve().parents[2]
needs_isic = pytest.mark.skipif(
    not (SHARED_ISIC / "groundtruth" / "HAM10000_metadata.csv").is_file(),
    reason=f"needs the ISIC data at {SHARED_ISIC}",
)


def random_visit(earlier, rng, seed):
    angle, scale = rng.uniform(-30, 30), rng.uniform(0.8, 1.25)
    later, truth = later_visit(earlier, angle=angle, scale=scale, shift=rng.uniform(-60, 60, 2), seed=seed)
    return later, truth, angle, scale


def check_recovered(result: Registration, truth, angle, scale, later_shape):
    assert result.status == "succeeded", result.reason
    assert corner_error(result.matrix, truth, later_shape) < 5.0
    assert abs(result.rotation_degrees - angle) < 2.0
    assert abs(result.scale / scale - 1.0) < 0.03
    assert result.confidence >= 0.5


def test_drawn_blobs_are_aligned_without_any_data():
    rng = np.random.default_rng(3)
    for seed in range(4):
        earlier = blob_scene(seed=seed)
        later, truth, angle, scale = random_visit(earlier, rng, seed)
        check_recovered(align(earlier, later), truth, angle, scale, later.shape)


@needs_isic
def test_40_synthetic_pairs_of_real_images_are_aligned_within_5_px():
    from PIL import Image

    paths = [p for p in sorted((SHARED_ISIC / "images").glob("*.jpg")) if min(Image.open(p).size) >= 400]
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(paths), 40, replace=False)
    aligned, errors, angle_errors, scale_errors = 0, [], [], []
    for index, path_index in enumerate(chosen):
        earlier = read_rgb(paths[path_index])
        later, truth, angle, scale = random_visit(earlier, rng, index)
        result = align(earlier, later)
        error = corner_error(result.matrix, truth, later.shape)
        if result.succeeded and error < 5.0:
            aligned += 1
            errors.append(error)
            angle_errors.append(abs(result.rotation_degrees - angle))
            scale_errors.append(abs(result.scale / scale - 1.0))
    assert aligned >= 0.95 * len(chosen)
    assert np.mean(errors) < 5.0
    assert max(angle_errors) < 2.0
    assert max(scale_errors) < 0.03


def test_ecc_takes_over_when_blur_leaves_no_features():
    earlier = cv2.GaussianBlur(blob_scene(seed=5), (0, 0), 8.0)
    later, truth = later_visit(earlier, angle=4.0, scale=1.04, shift=(6, -4), frame=0.9, seed=1)
    later = cv2.GaussianBlur(later, (0, 0), 2.0)
    result = align(earlier, later)
    assert result.method == "ecc", result
    assert result.succeeded, result.reason
    assert corner_error(result.matrix, truth, later.shape) < 5.0


def test_different_scenes_are_not_aligned():
    for seed in range(3):
        result = align(blob_scene(seed=seed), blob_scene(seed=seed + 10))
        assert result.status == "failed"
        assert result.confidence < 0.5
        assert result.reason
        with pytest.raises(ValueError):
            warp_to_earlier(blob_scene(seed=seed + 10), result, (420, 560))


def test_round_trip_and_warp():
    earlier = blob_scene(seed=1)
    later, truth = later_visit(earlier, angle=10, scale=1.1, seed=0)
    result = align(earlier, later)
    data = result.to_dict()
    assert list(data) == [
        "status", "method", "matrix", "rotation_degrees", "scale", "translation_px", "inliers", "confidence", "reason",
    ]  # fmt: skip
    assert Registration.from_dict(json.loads(json.dumps(data))) == result
    warped = warp_to_earlier(later, result, earlier.shape[:2])
    assert warped.shape == earlier.shape
    inside = cv2.warpAffine(np.ones(later.shape[:2], np.uint8), np.asarray(truth), earlier.shape[1::-1]) > 0
    inside = cv2.erode(inside.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    difference = np.abs(warped.astype(float) - earlier.astype(float)).mean(axis=2)[inside]
    assert np.median(difference) < 20  # exposure differs (later_visit re-exposes), geometry matches
    assert math.isclose(result.translation_px[0], result.matrix[0][2])


def load_bench():
    spec = importlib.util.spec_from_file_location("alignment_rates", ROOT / "bench" / "alignment_rates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@needs_isic
def test_real_pairs_same_lesion_mostly_aligned_different_lesions_not():
    bench = load_bench()
    same_pairs, different_pairs = bench.sample_pairs(40, 40, seed=7, isic=SHARED_ISIC)
    same = bench.run(same_pairs, SHARED_ISIC)
    different = bench.run(different_pairs, SHARED_ISIC)
    assert sum(r.succeeded for r in same) > 0.5 * len(same)
    assert sum(r.succeeded for r in different) <= 0.1 * len(different)
    assert all(r.confidence < 0.5 for r in different if not r.succeeded)
