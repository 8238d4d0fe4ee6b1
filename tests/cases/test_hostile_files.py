"""Hostile files: a corpus made by the tests, each uploaded through the UI and the API.

Every file is either accepted and correctly converted (an 8-bit RGB JPEG without metadata, at
the expected size, with a thumbnail, one row and one prediction that succeeds in-process), or
rejected with a clear 4xx naming the file and the reason (the same text in the UI and the API),
with no rows and no files left behind.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from cases.models import LesionImage
from inference.models import Prediction, PredictionStatus

from .. import images
from ..factories import LesionFactory

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
NOT_AN_IMAGE = "this is not a JPEG, PNG or HEIC image (the file's contents were checked, not its name)."
GIF_REFUSED = "GIF images are not accepted; upload a JPEG, PNG or HEIC image."
CORRUPT = "the file is truncated or corrupt and cannot be read."
# Markers that must never survive into a stored file: EXIF/ICC/XMP segments, an appended zip.
FORBIDDEN_IN_STORED = (b"Exif\x00\x00", b"ICC_PROFILE", b"http://ns.adobe.com/xap", b"PK\x03\x04", b"PhoneMaker")


# Checks of the stored pixels ---------------------------------------------------------------


def skin_coloured(pixels: np.ndarray) -> bool:
    """The lesion_like() picture: skin tone (R > G > B), not inverted or colour-swapped."""
    r, g, b = pixels.reshape(-1, 3).mean(axis=0)
    return 170 < r < 205 and 120 < g < 150 and 95 < b < 125 and r > g > b


def grey(pixels: np.ndarray) -> bool:
    spread = pixels.max(axis=2).astype(int) - pixels.min(axis=2).astype(int)
    return int(spread.max()) <= 3 and 120 < pixels.mean() < 180


def gradient_scaled_not_clipped(pixels: np.ndarray) -> bool:
    """The 16-bit left-to-right ramp, scaled to 8 bits (clipping would make it nearly all white)."""
    columns = pixels.mean(axis=(0, 2))
    return columns[0] < 10 and columns[-1] > 245 and 110 < columns.mean() < 145 and np.all(np.diff(columns) >= -3)


def alpha_flattened_onto_black(pixels: np.ndarray) -> bool:
    """The fully transparent left quarter becomes black; the opaque rest keeps its colour."""
    quarter = pixels.shape[1] // 4
    return pixels[:, :quarter].mean() < 8 and skin_coloured(pixels[:, quarter:])


def one_skin_pixel(pixels: np.ndarray) -> bool:
    return bool(np.all(np.abs(pixels.reshape(3).astype(int) - (180, 120, 100)) <= 6))


def rotated_upright(pixels: np.ndarray) -> bool:
    """Orientation 6 applied: the dark blob of the 60×40 landscape original (row 16, column 36)
    is at row 36, column 23 of the 40×60 portrait."""
    darkness = 255 - pixels.mean(axis=2)
    rows, cols = np.nonzero(darkness > np.percentile(darkness, 95))
    return abs(rows.mean() - 36) <= 4 and abs(cols.mean() - 23) <= 4 and skin_coloured(pixels)


# The corpus ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    size: tuple[int, int]  # (width, height) as stored, after EXIF orientation
    source_format: str
    pixels_ok: Callable[[np.ndarray], bool] = skin_coloured


@dataclass(frozen=True)
class Rejected:
    status: int  # the API's status; the UI answers 400
    code: str  # the API's error code
    reason: str  # the whole reason, after "<file name>: "
    settings: dict = field(default_factory=dict)


CORPUS = [
    pytest.param("empty.jpg", lambda: b"", Rejected(400, "invalid", "the file is empty."), id="zero-bytes"),
    pytest.param("notes.jpg", images.text_file, Rejected(415, "unsupported_image_type", NOT_AN_IMAGE), id="text"),
    pytest.param(
        "<img src=x onerror=alert(1)>.html",
        images.html_file,
        Rejected(415, "unsupported_image_type", NOT_AN_IMAGE),
        id="html",
    ),
    pytest.param(
        "lesion.svg", images.svg_with_script, Rejected(415, "unsupported_image_type", NOT_AN_IMAGE), id="svg-script"
    ),
    pytest.param("report.pdf", images.minimal_pdf, Rejected(415, "unsupported_image_type", NOT_AN_IMAGE), id="pdf"),
    pytest.param("polyglot.jpg", images.jpeg_with_zip_appended, Accepted((64, 48), "JPEG"), id="jpeg-with-zip"),
    pytest.param("cut.jpg", images.truncated_jpeg, Rejected(400, "invalid", CORRUPT), id="truncated-jpeg"),
    pytest.param("dot.jpg", images.tiny_jpeg, Accepted((1, 1), "JPEG", one_skin_pixel), id="1x1-jpeg"),
    pytest.param("dot.png", images.tiny_png, Accepted((1, 1), "PNG", one_skin_pixel), id="1x1-png"),
    pytest.param(
        "bomb.png",
        lambda: images.png_claiming_size(50_000, 50_000),
        Rejected(400, "invalid", "the image is larger than the limit of 50 megapixels."),
        id="png-header-50000x50000",
    ),
    pytest.param(
        "bomb.jpg",
        lambda: images.jpeg_claiming_size(50_000, 50_000),
        Rejected(400, "invalid", "the image is larger than the limit of 50 megapixels."),
        id="jpeg-header-50000x50000",
    ),
    pytest.param(
        "big.png",
        lambda: images.png_claiming_size(10_000, 6_000),
        Rejected(400, "invalid", "the image is 10000×6000 pixels; the limit is 50 megapixels."),
        id="png-header-60-megapixels",
    ),
    pytest.param("print.jpg", images.cmyk_jpeg, Accepted((64, 48), "JPEG"), id="cmyk-jpeg"),
    pytest.param(
        "scan16.png", images.png_16bit, Accepted((64, 48), "PNG", gradient_scaled_not_clipped), id="16-bit-png"
    ),
    pytest.param("grey.jpg", images.grayscale_jpeg, Accepted((64, 48), "JPEG", grey), id="grayscale-jpeg"),
    pytest.param(
        "alpha.png", images.png_with_alpha, Accepted((64, 48), "PNG", alpha_flattened_onto_black), id="rgba-png"
    ),
    pytest.param(
        "moving.gif", images.animated_gif, Rejected(415, "unsupported_image_type", GIF_REFUSED), id="animated-gif"
    ),
    pytest.param("exif.jpg", images.jpeg_with_huge_exif, Accepted((64, 48), "JPEG"), id="huge-exif"),
    pytest.param(
        "phone.jpg",
        images.jpeg_with_gps_and_orientation_6,
        Accepted((40, 60), "JPEG", rotated_upright),
        id="exif-gps-orientation-6",
    ),
    pytest.param(
        "huge.jpg",
        lambda: images.jpeg_padded_to(MiB + MiB // 10),
        Rejected(
            413,
            "file_too_large",
            "the file is 1.1 MB; the limit is 1 MB.",
            settings={"SKINPORTAL_MAX_UPLOAD_BYTES": MiB},
        ),
        id="over-size-limit",
    ),
    pytest.param("IMG_0001.HEIC", images.heic, Accepted((64, 48), "HEIC/HEIF"), id="heic"),
    pytest.param("IMG_0002.jpg", images.mpo, Accepted((64, 48), "JPEG"), id="mpo"),
]


# Uploading through either channel -----------------------------------------------------------


def stored_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def ui_upload(client, lesion, files: list[tuple[str, bytes]]):
    return client.post(
        reverse("cases:image-upload", args=[lesion.pk]),
        {
            "files": [SimpleUploadedFile(name, content) for name, content in files],
            "captured_on": "2026-03-02",
            "modality": "dermoscopic",
        },
    )


def api_upload(api, lesion, name: str, content: bytes):
    return api.post(
        "/api/v1/images/",
        {"lesion": lesion.pk, "file": SimpleUploadedFile(name, content), "captured_on": "2026-03-02"},
        format="multipart",
    )


def listed_rejections(response) -> list[str]:
    """The rejected files' messages as the page shows them (the text a user reads)."""
    match = re.search(r'<ul class="rejections">(.*?)</ul>', response.content.decode(), re.S)
    assert match, "the page lists no rejected files"
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def assert_stored_nothing(settings) -> None:
    assert not LesionImage.objects.exists()
    assert not Prediction.objects.exists()
    assert stored_files(settings) == [], "orphaned files"


def assert_clean_jpeg(data: bytes, size: tuple[int, int]) -> Image.Image:
    for marker in FORBIDDEN_IN_STORED:
        assert marker not in data, f"{marker!r} survived into the stored file"
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "JPEG" and image.mode == "RGB"
    assert "exif" not in image.info and "icc_profile" not in image.info and "xmp" not in image.info
    assert len(image.getexif()) == 0
    assert image.size == size
    return image


# The tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["ui", "api"])
@pytest.mark.parametrize(("filename", "make", "expected"), CORPUS)
def test_a_hostile_file_is_converted_or_refused_cleanly(
    channel,
    filename,
    make,
    expected,
    clinician,
    clinician_client,
    api_client_for,
    model_version,
    settings,
    django_capture_on_commit_callbacks,
):
    if isinstance(expected, Rejected):
        for name, value in expected.settings.items():
            setattr(settings, name, value)
    lesion = LesionFactory(patient__owner=clinician)
    content = make()
    with django_capture_on_commit_callbacks(execute=True):
        if channel == "ui":
            response = ui_upload(clinician_client, lesion, [(filename, content)])
        else:
            response = api_upload(api_client_for(clinician), lesion, filename, content)

    if isinstance(expected, Rejected):
        message = f"{filename}: {expected.reason}"
        if channel == "ui":
            assert response.status_code == 400
            assert response.context["rejections"] == [message]
            assert listed_rejections(response) == [message]
            assert "Nothing was stored" in response.content.decode()
            assert "<img src=x" not in response.content.decode()  # the file name is escaped
        else:
            assert response.status_code == expected.status, response.content
            errors = response.json()["errors"]
            assert len(errors) == 1
            assert errors[0]["code"] == expected.code and errors[0]["detail"] == message
        assert_stored_nothing(settings)
        return

    if channel == "ui":
        assert response.status_code == 302, response.context and response.context.get("rejections")
        assert response["Location"] == lesion.get_absolute_url()
    else:
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["width"], body["height"]) == expected.size
    image = LesionImage.objects.get()
    assert image.lesion == lesion and image.original_filename == filename
    assert (image.width, image.height) == expected.size and image.source_format == expected.source_format
    with image.file.open("rb") as stored:
        picture = assert_clean_jpeg(stored.read(), expected.size)
    assert expected.pixels_ok(np.asarray(picture)), "the stored pixels were not converted correctly"
    with image.thumbnail.open("rb") as thumbnail:
        small = assert_clean_jpeg(thumbnail.read(), expected.size)  # small images are not enlarged
    assert small.size == expected.size
    prediction = Prediction.objects.get()
    assert prediction.image == image
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction.__dict__
    files = stored_files(settings)
    assert image.file.name in files and image.thumbnail.name in files


def test_a_mixed_batch_stores_nothing_and_names_only_the_hostile_file(
    clinician, clinician_client, model_version, settings, django_capture_on_commit_callbacks
):
    lesion = LesionFactory(patient__owner=clinician)
    batch = [
        ("good-1.jpg", images.jpeg(seed=11)),
        ("lesion.svg", images.svg_with_script()),
        ("good-2.png", images.png(seed=12)),
    ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = ui_upload(clinician_client, lesion, batch)
    assert response.status_code == 400
    assert listed_rejections(response) == [f"lesion.svg: {NOT_AN_IMAGE}"]
    assert callbacks == []
    assert_stored_nothing(settings)


def test_a_batch_of_every_hostile_file_names_each_with_its_own_reason(
    clinician, clinician_client, model_version, settings, django_capture_on_commit_callbacks
):
    settings.SKINPORTAL_MAX_UPLOAD_BYTES = MiB  # for the over-size file; the others are far smaller
    lesion = LesionFactory(patient__owner=clinician)
    batch, expected_messages = [], []
    for param in CORPUS:
        filename, make, expected = param.values
        if isinstance(expected, Rejected):
            batch.append((filename, make()))
            expected_messages.append(f"{filename}: {expected.reason}")
    batch.append(("good.jpg", images.jpeg(seed=13)))
    with django_capture_on_commit_callbacks(execute=True):
        response = ui_upload(clinician_client, lesion, batch)
    assert response.status_code == 400
    assert listed_rejections(response) == expected_messages
    assert_stored_nothing(settings)


@pytest.mark.parametrize("kind", ["zTXt", "iCCP"])
def test_a_chunk_decompression_bomb_is_named_as_such(kind):
    from cases.imaging import ImageRejected, RejectionCode, normalise_upload

    with pytest.raises(ImageRejected) as caught:
        normalise_upload(
            images.png_with_chunk_bomb(kind), filename="bomb.png", max_bytes=25 * 1024 * 1024, max_pixels=50_000_000
        )
    assert caught.value.code == RejectionCode.DECOMPRESSION_BOMB
    assert "decompression bomb" in caught.value.reason and "not a JPEG" not in caught.value.reason
