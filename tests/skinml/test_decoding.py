"""Decoding within a memory budget: a large JPEG decodes at reduced DCT scale, pictures are reduced
to a pixel limit without a premultiplied full-size copy, PNG/HEIC decode cost is known before."""

from __future__ import annotations

import io

from PIL import Image

from skinml.decoding import decode_cost, decode_within, draft_scale, draft_within, fitted_size, shrink_within


def _jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_large_jpeg_is_decoded_at_a_reduced_scale():
    image = Image.open(io.BytesIO(_jpeg(4000, 3000)))
    draft_within(image, max_pixels=1_000_000)
    image.load()
    # 1/2 would give 3 MP (> 2 × 1 MP), 1/4 gives 0.75 MP: decoded so, never at 12 MP.
    assert image.size == (1000, 750)


def test_a_jpeg_within_twice_the_limit_is_decoded_whole_and_shrunk_after():
    image = Image.open(io.BytesIO(_jpeg(1200, 1000)))
    draft_within(image, max_pixels=1_000_000)
    image.load()
    assert image.size == (1200, 1000)
    shrunk = shrink_within(image, max_pixels=1_000_000)
    assert shrunk.width * shrunk.height <= 1_000_000 and abs(shrunk.width / shrunk.height - 1.2) < 0.01


def test_draft_scale_and_fitted_size():
    assert draft_scale((8000, 6000), max_pixels=24_000_000) == 2
    assert draft_scale((100, 100), max_pixels=10) == 8
    assert fitted_size((7000, 7000), max_pixels=12_000_000) == (3464, 3464)
    assert fitted_size((10, 10), max_pixels=12_000_000) == (10, 10)


def test_shrink_within_every_mode():
    for mode in ("1", "L", "P", "LA", "RGB", "RGBA", "I", "I;16", "F", "CMYK"):
        image = Image.new(mode, (700, 700))
        shrunk = shrink_within(image, max_pixels=40_000)
        assert shrunk.mode == mode and shrunk.width * shrunk.height <= 40_000, mode


def test_discarding_the_source_frees_it():
    image = Image.new("RGBA", (700, 700), (10, 20, 30, 255))
    shrunk = shrink_within(image, max_pixels=40_000, discard_source=True)
    assert shrunk.getpixel((0, 0)) == (10, 20, 30, 255)
    try:
        image.getpixel((0, 0))
    except ValueError:
        pass  # closed: its buffer is gone
    else:  # pragma: no cover
        raise AssertionError("the source picture was kept")


def test_decode_cost_counts_pillows_bytes_per_pixel_and_heifs_extra_buffer():
    png = io.BytesIO()
    Image.new("RGB", (1000, 1000)).save(png, "PNG")
    assert decode_cost(Image.open(png)) == 4_000_000  # RGB is kept as RGBX
    grey = io.BytesIO()
    Image.new("L", (1000, 1000)).save(grey, "PNG")
    assert decode_cost(Image.open(grey)) == 1_000_000


def test_decode_within_gives_upright_rgb_within_the_limit():
    rgb = decode_within(_jpeg(4000, 3000), max_pixels=500_000)
    assert rgb.mode == "RGB" and rgb.width * rgb.height <= 500_000
