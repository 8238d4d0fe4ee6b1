"""Grad-CAM maps as pictures: upsampled to the stored image, coloured and overlaid with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_OPACITY = 0.45


def upsample(cam: np.ndarray, *, width: int, height: int) -> np.ndarray:
    """A low-resolution map in [0, 1] resized (bilinear) to width×height, still in [0, 1]."""
    resized = cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(resized, 0.0, 1.0)


def colourise(cam: np.ndarray) -> np.ndarray:
    """RGB uint8 picture of a map in [0, 1] with OpenCV's JET colour map (blue low, red high)."""
    bgr = cv2.applyColorMap(np.uint8(np.round(cam * 255.0)), cv2.COLORMAP_JET)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay(image_rgb: np.ndarray, cam: np.ndarray, *, opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """The coloured map of ``cam`` (any resolution, in [0, 1]) blended over an RGB uint8 image."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    height, width = image_rgb.shape[:2]
    coloured = colourise(upsample(cam, width=width, height=height))
    return cv2.addWeighted(image_rgb, 1.0 - opacity, coloured, opacity, 0.0)


def encode_jpeg(image_rgb: np.ndarray, *, quality: int = 90) -> bytes:
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the heatmap")
    return buffer.tobytes()
