"""Upload checking and normalisation on real files made by the tests."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cases.imaging import ImageRejected, normalise_upload, pixel_sha256

from .. import images

LIMITS = {"max_bytes": 25 * 1024 * 1024, "max_pixels": 50_000_000}


def normalise(data: bytes, filename: str = "upload.jpg", **limits):
    return normalise_upload(data, filename=filename, **{**LIMITS, **limits})


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("maker", "source_format"),
    [(images.jpeg, "JPEG"), (images.png, "PNG"), (images.heic, "HEIC/HEIF")],
)
def test_accepted_formats_are_stored_as_rgb_jpeg_of_the_same_size(maker, source_format):
    result = normalise(maker(64, 48))

    stored = decoded(result.jpeg)
    assert stored.format == "JPEG"
    assert stored.mode == "RGB"
    assert stored.size == (64, 48) == (result.width, result.height)
    assert result.source_format == source_format


def test_format_is_detected_from_bytes_not_name():
    result = normalise(images.png(), filename="photo.jpg")
    assert result.source_format == "PNG"

    with pytest.raises(ImageRejected) as error:
        normalise(images.text_file(), filename="lesion.jpg")
    assert error.value.filename == "lesion.jpg"
    assert "not a JPEG, PNG or HEIC image" in str(error.value)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (images.truncated_jpeg(), "truncated or corrupt"),
        (images.gif(), "GIF images are not accepted"),
        (images.png_claiming_size(30000, 30000), "larger than the limit of 50 megapixels"),
        (images.png_claiming_size(8000, 8000), "8000×8000 pixels; the limit is 50 megapixels"),
    ],
    ids=["empty", "truncated-jpeg", "gif", "bomb-30000x30000", "bomb-8000x8000"],
)
def test_bad_files_are_rejected_with_a_reason_naming_the_file(data, reason):
    with pytest.raises(ImageRejected) as error:
        normalise(data, filename="visit-3.jpg")
    message = str(error.value)
    assert message.startswith("visit-3.jpg: ")
    assert reason in message


def test_file_over_the_byte_limit_is_rejected():
    data = images.jpeg(256, 256)
    with pytest.raises(ImageRejected, match="the limit is"):
        normalise(data, max_bytes=len(data) - 1)


def test_pixel_limit_is_configurable():
    with pytest.raises(ImageRejected, match="64×48 pixels"):
        normalise(images.jpeg(64, 48), max_pixels=64 * 48 - 1)
    assert normalise(images.jpeg(64, 48), max_pixels=64 * 48).width == 64


def test_exif_orientation_is_applied_and_all_metadata_removed():
    original = images.jpeg_with_gps_and_orientation_6(width=60, height=40)
    assert decoded(original).getexif()[0x0112] == 6

    result = normalise(original)

    stored = decoded(result.jpeg)
    # Orientation 6: the 60×40 stored pixels are shown rotated 90° clockwise, i.e. 40×60.
    assert stored.size == (40, 60) == (result.width, result.height)
    assert len(stored.getexif()) == 0
    assert "exif" not in stored.info and "icc_profile" not in stored.info and "xmp" not in stored.info
    assert b"Exif" not in result.jpeg and b"PhoneMaker" not in result.jpeg
    # The dark blob sits right of centre in the original (x = 0.6 w, y = 0.4 h); after a 90°
    # clockwise turn it is below centre (y = 0.6 h) and right of centre (x = 0.6 w).
    grey = np.asarray(stored.convert("L"), dtype=float)
    y, x = np.unravel_index(np.argmin(grey), grey.shape)
    assert y > 60 * 0.5 and x > 40 * 0.5


def test_png_with_alpha_is_flattened_onto_black():
    result = normalise(images.png_with_alpha(64, 48))
    stored = np.asarray(decoded(result.jpeg), dtype=int)
    assert stored[:, :12].mean() < 10  # the transparent strip
    assert stored[:, 40:].mean() > 100  # skin-coloured, opaque


def test_grayscale_is_converted_to_rgb():
    result = normalise(images.grayscale_jpeg())
    stored = np.asarray(decoded(result.jpeg), dtype=int)
    assert stored.shape[2] == 3
    assert np.abs(stored[..., 0] - stored[..., 1]).max() <= 2


def test_cmyk_jpeg_is_converted_to_rgb_with_its_colours():
    result = normalise(images.cmyk_jpeg())
    stored = np.asarray(decoded(result.jpeg), dtype=float)
    # Skin-coloured background: red above green above blue, as in the source image.
    corner = stored[:5, :5].reshape(-1, 3).mean(axis=0)
    assert corner[0] > corner[1] > corner[2]
    assert corner[0] > 150


def test_16_bit_png_is_scaled_not_clipped():
    result = normalise(images.png_16bit(64, 48))
    grey = np.asarray(decoded(result.jpeg).convert("L"), dtype=int)
    assert grey[:, :3].mean() < 20
    assert grey[:, -3:].mean() > 235
    assert 100 < grey[:, 30:34].mean() < 160  # a gradient, not a white field


def test_sha256_is_of_the_stored_pixels_and_stable():
    first = normalise(images.png(seed=3))
    second = normalise(images.png(seed=3), filename="copy.png")
    other = normalise(images.png(seed=4))

    assert first.sha256 == second.sha256 == pixel_sha256(decoded(first.jpeg))
    assert first.sha256 != other.sha256


def test_thumbnail_is_small_jpeg():
    result = normalise(images.jpeg(1200, 900))
    thumbnail = decoded(result.thumbnail_jpeg)
    assert thumbnail.format == "JPEG"
    assert max(thumbnail.size) == 320


def test_multi_picture_jpeg_from_a_phone_is_accepted_as_its_first_picture():
    data = images.mpo(64, 48)
    assert Image.open(io.BytesIO(data)).format == "MPO"
    result = normalise(data, filename="IMG_0042.JPG")
    assert result.source_format == "JPEG"
    assert (result.width, result.height) == (64, 48)
