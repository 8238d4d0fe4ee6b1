"""skinml.change: growth of a synthetic lesion seen from another angle and distance, a change of
exposure only, and the overlays. No data, no database."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from skinml.change import ALGORITHM_VERSION, Change, compare, render_overlay
from skinml.registration import align

from .synthetic_lesions import ellipse_mask, later_visit, lesion_image

H, W = 480, 640


def with_spots(image: np.ndarray, seed: int = 3) -> np.ndarray:
    """Skin marks around the lesion, the same at both visits (what alignment holds on to)."""
    out = image.copy()
    rng = np.random.default_rng(seed)
    for _ in range(60):
        centre = (int(rng.uniform(0, W)), int(rng.uniform(0, H)))
        cv2.circle(out, centre, int(rng.integers(2, 6)), (150, 100, 85), -1)
    return out


@pytest.fixture(scope="module")
def grown_pair():
    earlier_mask = ellipse_mask(H, W, centre=(320, 240), axes=(100, 70))
    grown = earlier_mask | ellipse_mask(H, W, centre=(320 + 33, 240), axes=(100, 70))  # to the right only
    truth = 100.0 * (grown.sum() / earlier_mask.sum() - 1.0)
    earlier = with_spots(lesion_image(earlier_mask, seed=1))
    later, _ = later_visit(with_spots(lesion_image(grown, seed=1)), angle=12, scale=1.1, frame=0.95, seed=2)
    return earlier, later, truth


def test_growth_in_one_direction_is_measured_after_alignment_and_called_asymmetric(grown_pair):
    earlier, later, truth = grown_pair
    assert 18 < truth < 22
    comparison = compare(earlier, later)
    assert comparison.registration.succeeded, comparison.registration.reason
    change = comparison.change
    assert change.area_percent == pytest.approx(truth, abs=5.0)
    assert change.asymmetric and change.growth_direction == "right"
    assert "asymmetrically" in change.summary and change.summary.startswith("Grew")
    assert comparison.later.image_size == comparison.earlier.image_size  # measured in the earlier frame
    json.dumps(comparison.to_dict())
    assert comparison.to_dict()["algorithm_version"] == ALGORITHM_VERSION


def test_uniform_growth_is_not_asymmetric():
    earlier_mask = ellipse_mask(H, W, centre=(320, 240), axes=(100, 70))
    grown = ellipse_mask(H, W, centre=(320, 240), axes=(110, 77))
    earlier = with_spots(lesion_image(earlier_mask, seed=1))
    later, _ = later_visit(with_spots(lesion_image(grown, seed=1)), angle=-8, scale=0.9, frame=0.95, seed=3)
    change = compare(earlier, later).change
    assert change.area_percent == pytest.approx(21.0, abs=5.0)
    assert not change.asymmetric


def test_a_change_of_exposure_only_is_no_change():
    earlier = with_spots(lesion_image(ellipse_mask(H, W, centre=(320, 240), axes=(100, 70)), seed=1))
    brighter = np.clip(earlier.astype(np.float64) * [1.2, 1.15, 1.05] + 5, 0, 255).astype(np.uint8)
    comparison = compare(earlier, brighter)
    change = comparison.change
    assert abs(change.area_percent) < 2.0
    assert change.delta_e < 2.5
    assert change.colours_gained == () and change.colours_lost == ()
    assert change.summary == "No clear change in size."


def test_a_failed_alignment_gives_measurements_but_no_change():
    earlier = with_spots(lesion_image(ellipse_mask(H, W, centre=(320, 240), axes=(100, 70)), seed=1), seed=1)
    other = with_spots(lesion_image(ellipse_mask(H, W, centre=(300, 260), axes=(60, 90)), seed=8), seed=9)
    comparison = compare(earlier, other)
    assert not comparison.registration.succeeded
    assert comparison.change is None
    assert comparison.earlier.succeeded and comparison.later.succeeded
    assert "could not be aligned" in comparison.summary
    assert comparison.to_dict()["change"] is None


def test_overlays_have_the_earlier_shape_and_refuse_a_failed_alignment(grown_pair):
    earlier, later, _ = grown_pair
    registration = align(earlier, later)
    for mode in ("aligned", "swipe", "blink", "difference"):
        picture = render_overlay(earlier, later, registration, mode=mode, position=0.3)
        assert picture.shape == earlier.shape and picture.dtype == np.uint8
    swipe = render_overlay(earlier, later, registration, mode="swipe", position=0.5)
    assert np.array_equal(swipe[:, :100], earlier[:, :100])
    difference = render_overlay(earlier, later, registration, mode="difference")
    redness = difference[..., 0].astype(int) - difference[..., 1]
    grown_side, other_side = redness[200:280, 430:460].mean(), redness[200:280, 180:210].mean()
    assert grown_side > other_side + 30  # the new part is red, the unchanged part grey
    with pytest.raises(ValueError):
        render_overlay(earlier, later, registration, mode="sideways")
    with pytest.raises(ValueError):
        render_overlay(earlier, later, registration, mode="swipe", position=1.5)
    failed = align(earlier, np.full_like(earlier, 200))
    with pytest.raises(ValueError):
        render_overlay(earlier, later, failed, mode="aligned")


def test_summary_words():
    change = Change(-12.4, -5.0, 0.0, ("blue_grey",), ("red", "black"), 7.5, "")
    from skinml.change import summarise

    assert summarise(change) == (
        "Shrank 12 % in area; blue-grey appeared; red and black disappeared; colour changed (mean ΔE00 7.5)."
    )
