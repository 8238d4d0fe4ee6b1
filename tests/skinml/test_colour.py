"""skinml.colour: colour constancy and CIEDE2000 against published values. No data, no database."""

from __future__ import annotations

import numpy as np
import pytest

from skinml.colour import delta_e_76, delta_e_2000, rgb_to_lab, rgb_to_lab_fast, shades_of_grey

from .synthetic_lesions import ellipse_mask, lesion_image

# Sharma, Wu & Dalal (2005), Table 1: pairs 1, 7, 13, 17, 25 and their ΔE00.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_delta_e_2000_matches_the_published_test_data(lab1, lab2, expected):
    assert delta_e_2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)
    assert delta_e_2000(np.array(lab2), np.array(lab1)) == pytest.approx(expected, abs=1e-4)


def test_delta_e_76_is_euclidean_and_vectorised():
    lab = np.zeros((2, 3, 3))
    other = lab + np.array([3.0, 4.0, 0.0])
    assert np.allclose(delta_e_76(lab, other), 5.0)


def test_rgb_to_lab_of_white_black_and_red():
    lab = rgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], dtype=np.uint8))
    assert lab.dtype == np.float32
    assert lab[0, 0] == pytest.approx([100.0, 0.0, 0.0], abs=0.5)
    assert lab[0, 1] == pytest.approx([0.0, 0.0, 0.0], abs=0.5)
    assert lab[0, 2] == pytest.approx([53.24, 80.09, 67.20], abs=0.5)  # sRGB red, D65


def test_fast_lab_is_close_to_the_float_conversion():
    image = lesion_image(ellipse_mask(60, 80, centre=(40, 30), axes=(20, 12)), seed=3)
    assert np.abs(rgb_to_lab_fast(image) - rgb_to_lab(image)).max() < 1.5


def test_shades_of_grey_removes_a_colour_cast():
    image = lesion_image(ellipse_mask(120, 160, centre=(80, 60), axes=(40, 25)), seed=2)
    cast = np.clip(image.astype(np.float64) * [1.15, 1.0, 0.8], 0, 255).astype(np.uint8)
    fixed, fixed_cast = shades_of_grey(image), shades_of_grey(cast)
    assert fixed.dtype == np.uint8 and fixed.shape == image.shape
    before = float(np.mean(delta_e_2000(rgb_to_lab(image), rgb_to_lab(cast))))
    after = float(np.mean(delta_e_2000(rgb_to_lab(fixed), rgb_to_lab(fixed_cast))))
    assert after < before / 2  # 8.4 → 3.0 here: clipped highlights are not a linear cast
    assert after < 4.0


def test_shades_of_grey_leaves_a_neutral_image_alone():
    grey = np.full((20, 30, 3), 120, dtype=np.uint8)
    assert np.array_equal(shades_of_grey(grey), grey)
