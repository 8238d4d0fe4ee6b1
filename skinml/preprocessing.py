"""The one preprocessing function, shared by inference, training and evaluation.

Decode, apply EXIF orientation, convert to RGB, resize to the model's square input with
bilinear interpolation, scale to [-1, 1] as MobileNetV2 expects. Numpy and Pillow only, so the
worker never needs TensorFlow for it.
"""

from __future__ import annotations

import io

import numpy as np
import pillow_heif
from PIL import Image, ImageOps

pillow_heif.register_heif_opener()

#: Recorded in every model card and ModelVersion; change it whenever this function changes.
PREPROCESSING_ID = "rgb-exif-bilinear-mobilenetv2-v1"


def load_rgb(source: bytes | Image.Image) -> Image.Image:
    """Decode (if bytes), apply EXIF orientation and convert to 8-bit RGB."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        image = Image.open(io.BytesIO(bytes(source)))
        image.load()
    else:
        image = source
    return ImageOps.exif_transpose(image).convert("RGB")


def preprocess(source: bytes | Image.Image, *, size: int) -> np.ndarray:
    """Return the model input for one image: float32, shape (size, size, 3), values in [-1, 1]."""
    rgb = load_rgb(source)
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(rgb, dtype=np.float32)
    return pixels / 127.5 - 1.0
