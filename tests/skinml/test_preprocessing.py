"""The one preprocessing function: a golden tensor pins it, so a silent change fails."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from skinml.preprocessing import PREPROCESSING_ID, preprocess

from .. import images


def golden_image() -> bytes:
    """A fixed 40×30 PNG (lossless, so every decoder gives the same pixels): a red left half,
    a blue right half, and a green gradient along the rows."""
    pixels = np.zeros((30, 40, 3), dtype=np.uint8)
    pixels[:, :20, 0] = 255
    pixels[:, 20:, 2] = 255
    pixels[:, :, 1] = np.linspace(0, 240, 30, dtype=np.uint8)[:, None]
    return images.encode(Image.fromarray(pixels, "RGB"), "PNG")


def test_golden_tensor():
    tensor = preprocess(golden_image(), size=16)

    assert tensor.shape == (16, 16, 3) and tensor.dtype == np.float32
    assert PREPROCESSING_ID == "rgb-exif-bilinear-mobilenetv2-v1"
    # RGB order (not BGR): red on the left, blue on the right; MobileNetV2 scaling to [-1, 1].
    assert tensor[8, 0].tolist() == pytest.approx([1.0, tensor[8, 0, 1], -1.0])
    assert tensor[8, 15].tolist() == pytest.approx([-1.0, tensor[8, 15, 1], 1.0])
    assert tensor[0, 0].tolist() == pytest.approx([1.0, -0.9607843, -1.0])
    assert tensor.min() >= -1.0 and tensor.max() <= 1.0
    # The exact values, pinned: bilinear resize from 40×30 to 16×16 in Pillow.
    digest = hashlib.sha256(np.round(tensor, 5).tobytes()).hexdigest()
    assert digest == GOLDEN_SHA256
    assert float(tensor.sum()) == pytest.approx(GOLDEN_SUM, abs=1e-3)


def test_exif_orientation_is_applied():
    upright = preprocess(images.jpeg_with_gps_and_orientation_6(width=60, height=40), size=32)
    raw = Image.open(io.BytesIO(images.jpeg_with_gps_and_orientation_6(width=60, height=40)))
    ignoring_exif = preprocess(Image.fromarray(np.asarray(raw.convert("RGB"))), size=32)  # pixels only, no EXIF
    assert not np.allclose(upright, ignoring_exif, atol=0.1)
    assert np.allclose(upright, np.rot90(ignoring_exif, k=-1), atol=0.15)


@pytest.mark.parametrize("maker", [images.grayscale_jpeg, images.png_with_alpha, images.cmyk_jpeg, images.heic])
def test_every_accepted_kind_becomes_rgb(maker):
    tensor = preprocess(maker(), size=24)
    assert tensor.shape == (24, 24, 3)
    assert -1.0 <= tensor.min() <= tensor.max() <= 1.0


GOLDEN_SHA256 = "25a5f9fcacc1eaf2224107ba2a6b7f87effe8a540849c309da613f52afede422"
GOLDEN_SUM = -16.06273651123047
