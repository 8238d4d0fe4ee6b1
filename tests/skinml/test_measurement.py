"""skinml.measurement on synthetic lesions of known area and diameter (with and without hair),
and on real ISIC images when ../shared is present. No database."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skinml.measurement import (
    DERMOSCOPIC_COLOURS,
    Measurements,
    measure,
    outline_png,
    outline_polygons,
    segment_lesion,
)

from .synthetic_lesions import SHARED_ISIC, ellipse_mask, irregular_polygon, lesion_image, polygon_mask, read_rgb

H, W = 480, 640


def feret(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    import cv2

    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)
    return float(np.sqrt(((hull[:, None] - hull[None]) ** 2).sum(-1).max())) + 1.0


CASES = [
    ("ellipse", ellipse_mask(H, W, centre=(330, 250), axes=(120, 70), angle=30)),
    ("small ellipse", ellipse_mask(H, W, centre=(300, 230), axes=(45, 30), angle=-10)),
    ("circle", ellipse_mask(H, W, centre=(320, 240), axes=(140, 140))),
    ("polygon", polygon_mask(H, W, irregular_polygon((320, 240), 130, seed=4))),
    ("polygon 2", polygon_mask(H, W, irregular_polygon((300, 250), 90, seed=9))),
]


@pytest.mark.parametrize("hair", [False, True], ids=["no hair", "hair"])
@pytest.mark.parametrize(("name", "mask"), CASES, ids=[name for name, _ in CASES])
def test_area_and_diameter_within_5_percent(name, mask, hair):
    image = lesion_image(mask, seed=len(name), hair=hair)
    result = measure(image)
    assert result.status == "succeeded", result.reason
    assert result.area_px == pytest.approx(float(mask.sum()), rel=0.05)
    assert result.max_diameter_px == pytest.approx(feret(mask), rel=0.05)
    assert result.image_size == (W, H)
    ys, xs = np.nonzero(mask)
    assert result.centroid_px == pytest.approx((xs.mean(), ys.mean()), abs=3.0)
    segmented = segment_lesion(image)
    assert segmented.shape == mask.shape and segmented.dtype == bool
    assert (segmented & mask).sum() / (segmented | mask).sum() > 0.9


def test_measures_are_reported_at_full_resolution_of_a_large_image():
    mask = ellipse_mask(1200, 1600, centre=(800, 600), axes=(300, 200))
    result = measure(lesion_image(mask, seed=1))
    assert result.area_px == pytest.approx(math.pi * 300 * 200, rel=0.05)
    assert result.max_diameter_px == pytest.approx(600, rel=0.05)
    assert result.perimeter_px == pytest.approx(math.pi * (3 * 500 - math.sqrt(1100 * 900)), rel=0.05)


def test_shape_scores_of_a_circle_and_an_irregular_polygon():
    circle = measure(lesion_image(ellipse_mask(H, W, centre=(320, 240), axes=(120, 120)), seed=1))
    ragged = measure(lesion_image(polygon_mask(H, W, irregular_polygon((320, 240), 130, seed=4, count=24)), seed=1))
    assert circle.border_irregularity == pytest.approx(1.0, abs=0.06)
    assert ragged.border_irregularity > circle.border_irregularity + 0.1
    assert max(circle.asymmetry) < 0.03
    assert max(ragged.asymmetry) > 0.05
    assert all(0.0 <= value <= 1.0 for value in ragged.asymmetry)


def test_lopsided_shape_is_asymmetric_across_the_minor_axis():
    mask = ellipse_mask(H, W, centre=(320, 240), axes=(150, 60)) & ~ellipse_mask(
        H, W, centre=(470, 240), axes=(90, 200)
    )
    mask |= ellipse_mask(H, W, centre=(200, 240), axes=(60, 90))
    across_major, across_minor = measure(lesion_image(mask, seed=2)).asymmetry
    assert across_minor > 0.15
    assert across_major < 0.05


def test_in_mm_needs_a_pixel_spacing():
    result = measure(lesion_image(ellipse_mask(H, W, centre=(320, 240), axes=(100, 60)), seed=0))
    assert result.in_mm(None) is None
    assert result.in_mm(0) is None
    in_mm = result.in_mm(0.02)
    assert in_mm["area_mm2"] == pytest.approx(result.area_px * 0.0004)
    assert in_mm["max_diameter_mm"] == pytest.approx(result.max_diameter_px * 0.02)
    assert in_mm["perimeter_mm"] == pytest.approx(result.perimeter_px * 0.02)
    assert in_mm["max_diameter_mm"] == pytest.approx(4.0, rel=0.05)  # 200 px at 0.02 mm


def test_plain_skin_fails_in_plain_words():
    result = measure(lesion_image(np.zeros((H, W), dtype=bool), seed=0))
    assert result.status == "failed"
    assert result.reason == "No lesion could be separated from the skin."
    assert result.in_mm(0.02) is None
    assert not segment_lesion(lesion_image(np.zeros((H, W), dtype=bool), seed=0)).any()


def test_colours_and_round_trip():
    result = measure(lesion_image(ellipse_mask(H, W, centre=(320, 240), axes=(100, 60)), seed=0))
    assert set(result.colours) <= set(DERMOSCOPIC_COLOURS) and result.colours
    assert "brown" in " ".join(result.colours)
    assert Measurements.from_dict(result.to_dict()) == result
    import json

    json.dumps(result.to_dict())


def test_given_mask_is_measured_as_is():
    mask = ellipse_mask(H, W, centre=(320, 240), axes=(100, 60))
    result = measure(lesion_image(mask, seed=0), mask=mask)
    assert result.area_px == pytest.approx(float(mask.sum()), rel=0.01)
    with pytest.raises(ValueError, match="height and width"):
        measure(lesion_image(mask, seed=0), mask=mask[:10])


def test_outline_polygons_are_normalised_and_bounded():
    mask = polygon_mask(H, W, irregular_polygon((320, 240), 130, seed=4, count=40))
    polygons = outline_polygons(mask, max_points=50)
    assert len(polygons) == 1
    assert 3 <= len(polygons[0]) <= 50
    xs, ys = zip(*polygons[0], strict=True)
    assert min(xs) > 0 and max(xs) < 1 and min(ys) > 0 and max(ys) < 1
    assert abs(np.mean(xs) - 0.5) < 0.1


def test_outline_png_is_transparent_outside_the_outline():
    import cv2

    mask = ellipse_mask(120, 160, centre=(80, 60), axes=(40, 25))
    png = outline_png((240, 320, 3), mask)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.shape == (240, 320, 4)
    assert image[..., 3].max() == 255 and image[0, 0, 3] == 0
    assert 0.005 < (image[..., 3] > 0).mean() < 0.1


@pytest.mark.skipif(not (SHARED_ISIC / "images").is_dir(), reason=f"needs the ISIC images at {SHARED_ISIC}")
def test_most_real_images_give_a_central_lesion():
    paths = sorted((SHARED_ISIC / "images").glob("*.jpg"))[::300][:16]
    results = [measure(read_rgb(path)) for path in paths]
    succeeded = [r for r in results if r.succeeded]
    assert len(succeeded) >= 0.85 * len(results)
    for r in succeeded:
        width, height = r.image_size
        assert 0 < r.area_px < width * height
