"""Checking and normalising uploaded image files. Pure functions: no database, no storage.

An upload is accepted only if its bytes (never its name) are a JPEG, PNG or HEIC/HEIF
image that decodes completely within the byte and pixel limits. The accepted image is
EXIF-transposed, converted to 8-bit RGB and re-encoded as a JPEG without any metadata.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from skinml.decoding import decode_cost, draft_within, shrink_within

pillow_heif.register_heif_opener()

# Truncated files must fail, never be silently padded.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Pillow calls a JPEG that carries extra pictures (multi-picture, HDR gain map: most phones) "MPO";
# its first picture is the photo. Multi-image files (MPO, HEIF, APNG) are read as their first image.
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "HEIF": "HEIC/HEIF"}
STORED_JPEG_QUALITY = 95
THUMBNAIL_SIZE = (320, 320)
# Memory bounds (see skinml.decoding): a stored image has at most this many pixels (larger ones
# are reduced, a JPEG while it is decoded); a PNG or HEIC, which decode at full size, may take at
# most this many bytes to decode. Callers pass the settings' values.
DEFAULT_MAX_STORED_PIXELS = 12_000_000
DEFAULT_MAX_DECODE_BYTES = 200 * 1024 * 1024


class RejectionCode(StrEnum):
    """Why a file was rejected; the API maps these to HTTP statuses (413, 415, 400)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_MANY_PIXELS = "too_many_pixels"
    CORRUPT = "corrupt"
    PATIENT_MISMATCH = "patient_mismatch"  # a DICOM file of another patient (cases.dicomfiles)
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
    """SHA-256 over the size and the RGB pixel bytes (so equal pixels hash equal, whatever the file).
    Hashed a band of rows at a time, so it holds no copy of the whole picture."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    for top in range(0, rgb.height, _HASH_BAND_ROWS):
        digest.update(rgb.crop((0, top, rgb.width, min(top + _HASH_BAND_ROWS, rgb.height))).tobytes())
    return digest.hexdigest()


_HASH_BAND_ROWS = 256


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
    return image if image.mode == "RGB" else image.convert("RGB")


def too_costly(filename: str, *, image: Image.Image, max_decode_bytes: int) -> ImageRejected:
    width, height = image.size
    return ImageRejected(
        filename,
        f"the image is {width}×{height} pixels, and a {ACCEPTED_FORMATS[image.format]} file this large takes "
        f"more than {max_decode_bytes / 1_048_576:.0f} MB of memory to read; save it as a JPEG or at a smaller size.",
        code=RejectionCode.TOO_MANY_PIXELS,
    )


def normalise_upload(
    data: bytes,
    *,
    filename: str,
    max_bytes: int,
    max_pixels: int,
    max_stored_pixels: int = DEFAULT_MAX_STORED_PIXELS,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> NormalisedImage:
    """Check an uploaded file and return its stored form, or raise ImageRejected.

    Memory is bounded whatever the file: a JPEG larger than ``max_stored_pixels`` is decoded at
    a reduced scale (``skinml.decoding.draft_within``), a PNG or HEIC whose decode would take more
    than ``max_decode_bytes`` is refused before decoding, and the decoded picture is reduced to
    ``max_stored_pixels`` before anything else is done with it (one picture of that size at a
    time after that)."""
    if len(data) == 0:
        raise ImageRejected(filename, "the file is empty.", code=RejectionCode.EMPTY)
    if len(data) > max_bytes:
        raise too_large(filename, size=len(data), max_bytes=max_bytes)
    with warnings.catch_warnings():
        # Our own pixel limit applies below; Pillow's bomb warning would only add noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _open_checked(data, filename=filename, max_pixels=max_pixels)
        source_format = ACCEPTED_FORMATS[image.format]
        rgb = None
        try:
            draft_within(image, max_pixels=max_stored_pixels)
            if decode_cost(image) > max_decode_bytes:
                raise too_costly(filename, image=image, max_decode_bytes=max_decode_bytes)
            image.load()
            rgb = _bounded_rgb(image, max_pixels=max_stored_pixels)
        except ImageRejected:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            if _is_chunk_bomb(error):
                raise decompression_bomb(filename) from None
            raise ImageRejected(
                filename, "the file is truncated or corrupt and cannot be read.", code=RejectionCode.CORRUPT
            ) from None
        finally:
            if rgb is not image:  # the picture itself when it needed no change
                image.close()

    stored = _encode_jpeg(rgb)
    thumbnail = _thumbnail_jpeg(rgb)
    width, height = rgb.size
    del rgb
    # Hash the pixels as stored (decoded back from the JPEG), so the digest can be checked
    # against the stored file at any time. JPEG encoding is deterministic for equal input.
    with Image.open(io.BytesIO(stored)) as decoded:
        digest = pixel_sha256(decoded)
    return NormalisedImage(
        jpeg=stored,
        thumbnail_jpeg=thumbnail,
        width=width,
        height=height,
        sha256=digest,
        source_format=source_format,
    )


def _open_checked(data: bytes, *, filename: str, max_pixels: int) -> Image.Image:
    """The file opened (not decoded) if it is an accepted format within ``max_pixels``."""
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
    if image.format not in ACCEPTED_FORMATS:
        image.close()
        raise ImageRejected(
            filename,
            f"{image.format} images are not accepted; upload a JPEG, PNG or HEIC image.",
            code=RejectionCode.UNSUPPORTED_TYPE,
        )
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise ImageRejected(
            filename,
            f"the image is {width}×{height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels.",
            code=RejectionCode.TOO_MANY_PIXELS,
        )
    return image


def _bounded_rgb(image: Image.Image, *, max_pixels: int) -> Image.Image:
    """The decoded ``image`` reduced to ``max_pixels``, upright, in 8-bit sRGB, without keeping
    more than one intermediate picture alive at a time."""
    # Each full-size picture is freed as soon as its reduced form exists, not when the upload ends.
    reduced = shrink_within(image, max_pixels=max_pixels, discard_source=True)
    ImageOps.exif_transpose(reduced, in_place=True)
    rgb = _to_rgb(reduced)
    if rgb is not reduced:
        reduced.close()
    return rgb


def _thumbnail_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size ``Image.thumbnail(THUMBNAIL_SIZE)`` gives (its rounding, aspect kept)."""
    width, height = size
    x, y = THUMBNAIL_SIZE
    if x >= width and y >= height:
        return size

    def round_aspect(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    aspect = width / height
    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def _thumbnail_jpeg(rgb: Image.Image) -> bytes:
    """The thumbnail (within THUMBNAIL_SIZE, as ``Image.thumbnail`` sizes it), made without a
    full-size copy of the picture."""
    size = _thumbnail_size(rgb.size)
    small = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0) if size != rgb.size else rgb
    return _encode_jpeg(small, quality=85)


def _encode_jpeg(image: Image.Image, *, quality: int = STORED_JPEG_QUALITY) -> bytes:
    # Saved with no metadata: nothing is passed to save() but the quality, and the image's own
    # ``info`` (EXIF, ICC, XMP, comments: what Pillow may copy into the file) is emptied while saving.
    kept_info, image.info = image.info, {}
    try:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
    finally:
        image.info = kept_info
    return buffer.getvalue()
