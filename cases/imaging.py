"""Checking and normalising uploaded image files. Pure functions: no database, no storage.

An upload is accepted only if its bytes (never its name) are a JPEG, PNG or HEIC/HEIF
image that decodes completely within the byte and pixel limits. The accepted image is
EXIF-transposed, converted to 8-bit RGB and re-encoded as a JPEG without any metadata.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

# Truncated files must fail, never be silently padded.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Pillow calls a JPEG that carries extra pictures (multi-picture, HDR gain map: most phones) "MPO";
# its first picture is the photo. Multi-image files (MPO, HEIF, APNG) are read as their first image.
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "HEIF": "HEIC/HEIF"}
STORED_JPEG_QUALITY = 95
THUMBNAIL_SIZE = (320, 320)


class RejectionCode(StrEnum):
    """Why a file was rejected; the API maps these to HTTP statuses (413, 415, 400)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_MANY_PIXELS = "too_many_pixels"
    CORRUPT = "corrupt"
    DECOMPRESSION_BOMB = "decompression_bomb"


class ImageRejected(Exception):
    """An uploaded file that cannot be stored; the message names the file and the reason."""

    def __init__(self, filename: str, reason: str, *, code: RejectionCode) -> None:
        self.filename = filename
        self.reason = reason
        self.code = code
        super().__init__(f"{filename}: {reason}")


def too_large(filename: str, *, size: int, max_bytes: int) -> ImageRejected:
    return ImageRejected(
        filename,
        f"the file is {size / 1_048_576:.1f} MB; the limit is {max_bytes / 1_048_576:.0f} MB.",
        code=RejectionCode.TOO_LARGE,
    )


# Pillow's words for a PNG whose compressed text (zTXt, iTXt) or colour profile (iCCP) chunk
# inflates past its limits (PngImagePlugin.MAX_TEXT_CHUNK, MAX_TEXT_MEMORY).
_BOMB_MESSAGES = ("decompressed data too large", "too much memory used in text chunks")


def _is_chunk_bomb(error: Exception) -> bool:
    return isinstance(error, ValueError) and any(words in str(error).lower() for words in _BOMB_MESSAGES)


def decompression_bomb(filename: str) -> ImageRejected:
    return ImageRejected(
        filename,
        "the file is a decompression bomb: a compressed chunk inside it (PNG text or colour profile, "
        "zTXt/iTXt/iCCP) would inflate to far more data than any image needs.",
        code=RejectionCode.DECOMPRESSION_BOMB,
    )


@dataclass(frozen=True)
class NormalisedImage:
    jpeg: bytes
    thumbnail_jpeg: bytes
    width: int
    height: int
    sha256: str
    source_format: str


def pixel_sha256(image: Image.Image) -> str:
    """SHA-256 over the size and the RGB pixel bytes (so equal pixels hash equal, whatever the file)."""
    rgb = image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(rgb.tobytes())
    return digest.hexdigest()


def _to_rgb(image: Image.Image) -> Image.Image:
    icc_profile = image.info.get("icc_profile")
    if icc_profile and image.mode in ("RGB", "CMYK"):
        # Convert colour-managed images (iPhone Display P3, print CMYK) to sRGB, since the
        # profile itself is not stored.
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, TypeError):
            pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grey: scale to 8 bits instead of clipping everything above 255 to white.
        array = np.asarray(image, dtype=np.uint32)
        peak = 65535 if image.mode.startswith("I;16") else max(int(array.max()), 1)
        image = Image.fromarray((array * 255 // peak).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Flatten transparency onto black, the colour of a dermoscope's vignette.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def normalise_upload(
    data: bytes,
    *,
    filename: str,
    max_bytes: int,
    max_pixels: int,
) -> NormalisedImage:
    """Check an uploaded file and return its stored form, or raise ImageRejected."""
    if len(data) == 0:
        raise ImageRejected(filename, "the file is empty.", code=RejectionCode.EMPTY)
    if len(data) > max_bytes:
        raise too_large(filename, size=len(data), max_bytes=max_bytes)
    with warnings.catch_warnings():
        # Our own pixel limit applies below; Pillow's bomb warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise ImageRejected(
                filename,
                f"the image is larger than the limit of {max_pixels / 1e6:.0f} megapixels.",
                code=RejectionCode.TOO_MANY_PIXELS,
            ) from None
        except (UnidentifiedImageError, OSError, ValueError) as error:
            if _is_chunk_bomb(error):
                raise decompression_bomb(filename) from None
            raise ImageRejected(
                filename,
                "this is not a JPEG, PNG or HEIC image (the file's contents were checked, not its name).",
                code=RejectionCode.UNSUPPORTED_TYPE,
            ) from None
        with image:
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRejected(
                    filename,
                    f"{image.format} images are not accepted; upload a JPEG, PNG or HEIC image.",
                    code=RejectionCode.UNSUPPORTED_TYPE,
                )
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    filename,
                    f"the image is {width}×{height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels.",
                    code=RejectionCode.TOO_MANY_PIXELS,
                )
            source_format = ACCEPTED_FORMATS[image.format]
            try:
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = _to_rgb(upright)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
                if _is_chunk_bomb(error):
                    raise decompression_bomb(filename) from None
                raise ImageRejected(
                    filename, "the file is truncated or corrupt and cannot be read.", code=RejectionCode.CORRUPT
                ) from None

    stored = _encode_jpeg(rgb)
    # Hash the pixels as stored (decoded back from the JPEG), so the digest can be checked
    # against the stored file at any time. JPEG encoding is deterministic for equal input.
    with Image.open(io.BytesIO(stored)) as decoded:
        digest = pixel_sha256(decoded)
    thumbnail = rgb.copy()
    thumbnail.thumbnail(THUMBNAIL_SIZE, Image.Resampling.LANCZOS)
    return NormalisedImage(
        jpeg=stored,
        thumbnail_jpeg=_encode_jpeg(thumbnail, quality=85),
        width=rgb.width,
        height=rgb.height,
        sha256=digest,
        source_format=source_format,
    )


def _encode_jpeg(image: Image.Image, *, quality: int = STORED_JPEG_QUALITY) -> bytes:
    # A fresh image carries no EXIF, ICC, XMP or GPS data; nothing is passed to save().
    clean = Image.frombytes("RGB", image.size, image.tobytes())
    buffer = io.BytesIO()
    clean.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
