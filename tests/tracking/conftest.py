"""Pictures for the tracking tests: a real ISIC lesion and a later "visit" of it (the same
lesion rotated, scaled and shifted, as a dermatoscope held differently would see it), and a
different lesion. They need ../shared/data/isic; without it those tests skip."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

ISIC_IMAGES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "isic" / "images"
SAME_LESION = "ISIC_0000029"  # a melanoma, 600×450
OTHER_LESION = "ISIC_0000034"  # a nevus, 600×450


def isic_rgb(name: str) -> np.ndarray:
    path = ISIC_IMAGES / f"{name}.jpg"
    if not path.is_file():
        pytest.skip(f"needs the ISIC images of ../shared/data/isic ({path} is missing)")
    return np.asarray(Image.open(path).convert("RGB"))


def later_visit(rgb: np.ndarray, *, degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """The same picture as seen at a later visit: rotated and scaled about the centre, shifted,
    with the border filled from the picture itself (no black wedges)."""
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, scale)
    matrix[:, 2] += shift
    return cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=94)
    return buffer.getvalue()


@pytest.fixture
def same_lesion_pair() -> tuple[bytes, bytes]:
    earlier = isic_rgb(SAME_LESION)
    return jpeg(earlier), jpeg(later_visit(earlier, degrees=12, scale=1.1, shift=(15, -10)))


@pytest.fixture
def different_lesions_pair() -> tuple[bytes, bytes]:
    return jpeg(isic_rgb(SAME_LESION)), jpeg(isic_rgb(OTHER_LESION))
