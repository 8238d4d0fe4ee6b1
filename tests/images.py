"""Real image files made by the tests: every format and defect the upload must handle."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()


def lesion_like(
    width: int = 64, height: int = 48, *, seed: int = 0, centre: tuple[float, float] = (0.4, 0.6)
) -> Image.Image:
    """A skin-coloured image with a dark blob (the "lesion") at ``centre`` (fractions of height
    and width; off-centre by default) and some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx = height * centre[0], width * centre[1]
    blob = np.exp(-(((yy - cy) / (height * 0.2)) ** 2 + ((xx - cx) / (width * 0.2)) ** 2))
    base = np.stack([np.full_like(blob, 205.0), np.full_like(blob, 150.0), np.full_like(blob, 120.0)], axis=-1)
    dark = np.array([70.0, 40.0, 30.0])
    pixels = base * (1 - blob[..., None]) + dark * blob[..., None] + rng.normal(0, 6, base.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def jpeg(width: int = 64, height: int = 48, *, seed: int = 0, **params) -> bytes:
    return encode(lesion_like(width, height, seed=seed), "JPEG", quality=92, **params)


def png(width: int = 64, height: int = 48, *, seed: int = 0) -> bytes:
    return encode(lesion_like(width, height, seed=seed), "PNG")


def png_with_alpha(width: int = 64, height: int = 48) -> bytes:
    image = lesion_like(width, height).convert("RGBA")
    alpha = Image.new("L", image.size, 255)
    alpha.paste(0, (0, 0, width // 4, height))  # a fully transparent strip on the left
    image.putalpha(alpha)
    return encode(image, "PNG")


def grayscale_jpeg(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height).convert("L"), "JPEG", quality=92)


def cmyk_jpeg(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height).convert("CMYK"), "JPEG", quality=92)


def png_16bit(width: int = 64, height: int = 48) -> bytes:
    gradient = np.tile(np.linspace(0, 65535, width, dtype=np.uint16), (height, 1))
    return encode(Image.fromarray(gradient), "PNG")


def heic(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height), "HEIF", quality=90)


def gif(width: int = 64, height: int = 48) -> bytes:
    return encode(lesion_like(width, height).convert("P"), "GIF")


def truncated_jpeg() -> bytes:
    data = jpeg(256, 192)
    return data[: len(data) // 2]


def jpeg_with_gps_and_orientation_6(width: int = 60, height: int = 40) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90° clockwise to view" and carries GPS data."""
    image = lesion_like(width, height)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored pixels must be rotated 90° clockwise
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 12.0, 30.0)
    gps[3] = "E"
    gps[4] = (16.0, 22.0, 15.0)
    return encode(image, "JPEG", quality=92, exif=exif.tobytes())


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width * 3)
    data = zlib.compress(row * 4, 9)  # a few rows only: the rest is "missing"
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def text_file() -> bytes:
    return b"This is a clinical note, not an image.\n" * 10


def mpo(width: int = 64, height: int = 48) -> bytes:
    """A JPEG with a second picture appended (multi-picture format), as many phones write."""
    first, second = lesion_like(width, height, seed=1), lesion_like(width // 2, height // 2, seed=2)
    return encode(first, "MPO", save_all=True, append_images=[second], quality=92)
