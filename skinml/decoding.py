"""Decoding images within a memory budget (Pillow only, no Django).

A small file can hold a huge picture (a 60 KB PNG of 7000×7000 pixels), and Pillow keeps 4 bytes
per RGB pixel: decoding it whole, then copying it a few times, costs a gigabyte. These functions
bound what one decode holds:

- ``draft_within``: a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size straight from the
  file (libjpeg's DCT scaling: Pillow's draft mode), so the full-size picture never exists;
- ``decode_cost``: the bytes a decode of a file that cannot be scaled so (PNG, HEIC) will take,
  to refuse one over a budget before decoding it;
- ``shrink_within``: a decoded picture reduced to a pixel limit, by an integer box reduction
  (its output is the only new buffer) and a final resize;
- ``decode_within``: all of it, for reading a stored image (heatmaps, predictions).
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageOps

#: Formats whose decoder can scale while decoding (Pillow's draft mode).
DRAFT_FORMATS = frozenset({"JPEG", "MPO"})
#: Modes whose values are not intensities (palette indices, bits): reduced by nearest neighbour.
_INDEXED_MODES = frozenset({"1", "P", "PA"})
#: Bytes per pixel Pillow keeps for each mode (RGB is stored as 4 bytes: RGBX).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "La": 4, "I;16": 2, "I;16B": 2, "I;16L": 2}
#: HEIF is decoded by libheif into its own buffer and then copied into Pillow's: about 3 + 4 bytes.
_HEIF_EXTRA_BYTES_PER_PIXEL = 3


def draft_scale(size: tuple[int, int], *, max_pixels: int) -> int:
    """The smallest JPEG scale denominator (1, 2, 4, 8) at which ``size`` has at most
    ``max_pixels`` (8 if none does)."""
    width, height = size
    for scale in (1, 2, 4, 8):
        if math.ceil(width / scale) * math.ceil(height / scale) <= max_pixels:
            return scale
    return 8


def draft_within(image: Image.Image, *, max_pixels: int) -> None:
    """Before ``load()``: have a JPEG decoded at the smallest DCT scale (1/2, 1/4, 1/8) whose
    result has at most twice ``max_pixels`` (then ``shrink_within`` applies the limit itself):
    the decode holds at most 2 × ``max_pixels`` however large the file's picture, and keeps as
    much resolution as that allows. Other formats are untouched."""
    if image.format not in DRAFT_FORMATS:
        return
    width, height = image.size
    scale = draft_scale(image.size, max_pixels=2 * max_pixels)
    if scale > 1:
        image.draft(None, (math.ceil(width / scale), math.ceil(height / scale)))


def decode_cost(image: Image.Image) -> int:
    """Bytes that decoding ``image`` (opened, not loaded; after ``draft_within``, which changes
    its size to the scaled one) will hold."""
    width, height = image.size
    per_pixel = _BYTES_PER_PIXEL.get(image.mode, 4)
    if image.format == "HEIF":
        per_pixel += _HEIF_EXTRA_BYTES_PER_PIXEL
    return width * height * per_pixel


def fitted_size(size: tuple[int, int], *, max_pixels: int) -> tuple[int, int]:
    """``size`` scaled down (aspect kept) to at most ``max_pixels``; unchanged if within."""
    width, height = size
    if width * height <= max_pixels:
        return size
    ratio = math.sqrt(max_pixels / (width * height))
    new_width, new_height = max(1, math.floor(width * ratio)), max(1, math.floor(height * ratio))
    while new_width * new_height > max_pixels:  # pragma: no cover - floor already keeps it within
        new_width, new_height = new_width - 1, new_height - 1
    return new_width, new_height


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """Box-reduce by an integer factor, allocating only the output. Pillow's own ``reduce``
    premultiplies an image with alpha first, a full-size copy; here the colour and alpha are
    averaged as they are, which differs only where alpha varies (and SkinPortal flattens alpha
    onto black next)."""
    if image.mode in ("RGBA", "LA"):
        return image._new(image.im.reduce((factor, factor), (0, 0, *image.size)))
    return image.reduce(factor)


def shrink_within(image: Image.Image, *, max_pixels: int, discard_source: bool = False) -> Image.Image:
    """A loaded ``image`` with at most ``max_pixels``: the same object if it already has, else a
    new one (``info`` kept), made by an integer box reduction (which allocates only its output)
    to no less than the limit and a resize to it. Palette and bilevel images are resized by
    nearest neighbour (their values are indices). With ``discard_source``, each picture is
    closed (its memory freed) as soon as the next one exists, so that at most two are alive."""
    width, height = image.size
    if width * height <= max_pixels:
        return image
    target = fitted_size(image.size, max_pixels=max_pixels)
    if image.mode in _INDEXED_MODES:
        resized = image.resize(target, Image.Resampling.NEAREST)
        if discard_source:
            image.close()
        return resized
    factor = math.floor(math.sqrt(width * height / max_pixels))
    reduced = image
    if factor >= 2:
        try:
            reduced = _reduce(image, factor)
        except ValueError:  # a mode reduce() does not take (16-bit grey): resize alone
            reduced = image
        if discard_source and reduced is not image:
            image.close()
    if reduced.size == target:
        return reduced
    resized = reduced.resize(target, Image.Resampling.LANCZOS, reducing_gap=None)
    if discard_source or reduced is not image:
        reduced.close()
    return resized


def decode_within(data: bytes, *, max_pixels: int) -> Image.Image:
    """Decode a stored image (JPEG at reduced DCT scale when it is large) to 8-bit RGB with at
    most ``max_pixels``, upright (EXIF orientation applied)."""
    image = Image.open(io.BytesIO(data))
    draft_within(image, max_pixels=max_pixels)
    image.load()
    image = shrink_within(image, max_pixels=max_pixels, discard_source=True)
    ImageOps.exif_transpose(image, in_place=True)
    return image if image.mode == "RGB" else image.convert("RGB")
