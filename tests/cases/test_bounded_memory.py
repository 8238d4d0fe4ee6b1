"""Uploads and heatmaps hold bounded memory: a huge picture in a small file is stored reduced to
SKINPORTAL_MAX_STORED_PIXELS, a PNG or HEIC too costly to decode is refused before decoding, a
large stored JPEG is rendered reduced, rendered heatmaps are cached and their renders throttled,
and a process decodes at most SKINPORTAL_IMAGE_WORK_SLOTS images at once (503 beyond).
The memory itself is measured by bench/memory.py."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases import services
from cases.imaging import RejectionCode, normalise_upload
from core import limits
from inference import services as inference_services

from ..factories import LesionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def _png(size, colour=(180, 120, 90), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_huge_picture_in_a_small_png_is_stored_reduced(settings, clinician):
    settings.SKINPORTAL_MAX_STORED_PIXELS = 1_000_000
    data = _png((4000, 3000))
    assert len(data) < 100_000  # 12 MP in a few KB
    lesion = LesionFactory(patient__owner=clinician)
    [image] = services.image_upload(
        lesion=lesion, uploaded_by=clinician, files=[SimpleUploadedFile("huge.png", data)]
    ).stored
    assert image.width * image.height <= 1_000_000 and (image.width, image.height) == (1154, 866)
    with Image.open(image.file) as stored:
        assert stored.size == (image.width, image.height)


def test_a_png_too_costly_to_decode_is_refused_before_decoding():
    with pytest.raises(Exception) as refused:
        normalise_upload(
            _png((2000, 2000)), filename="x.png", max_bytes=10**8, max_pixels=10**8, max_decode_bytes=8_000_000
        )
    assert refused.value.code == RejectionCode.TOO_MANY_PIXELS
    assert "takes more than 8 MB of memory to read" in refused.value.reason


def test_a_large_jpeg_within_the_decode_budget_is_accepted_whatever_its_size():
    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000), (1, 2, 3)).save(buffer, "JPEG")
    normalised = normalise_upload(
        buffer.getvalue(),
        filename="x.jpg",
        max_bytes=10**8,
        max_pixels=10**8,
        max_stored_pixels=1_000_000,
        max_decode_bytes=8_000_000,  # 4000×3000 whole would be 48 MB: decoded at 1/4 scale instead
    )
    assert (normalised.width, normalised.height) == (1000, 750)


@pytest.fixture
def prediction(clinician):
    return PredictionFactory(succeeded=True, image__lesion__patient__owner=clinician)


def test_a_rendered_heatmap_is_bounded_in_size(settings, prediction, clinician):
    settings.SKINPORTAL_MAX_HEATMAP_PIXELS = 1000
    jpeg = inference_services.heatmap_render(prediction=prediction, class_label="MEL", opacity=0.5, user=clinician)
    with Image.open(io.BytesIO(jpeg)) as rendered:
        assert rendered.width * rendered.height <= 1000


def test_rendered_heatmaps_are_cached(prediction, clinician, monkeypatch):
    first = inference_services.heatmap_render(prediction=prediction, class_label="MEL", opacity=0.5, user=clinician)
    monkeypatch.setattr(inference_services, "_read_image", lambda *a, **k: pytest.fail("rendered again"))
    again = inference_services.heatmap_render(prediction=prediction, class_label="MEL", opacity=0.5, user=clinician)
    assert again == first


def test_heatmap_renders_are_throttled_per_user_in_both_channels(
    settings, prediction, clinician, clinician_client, api_client_for
):
    settings.SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE = 2
    api = api_client_for(clinician)
    base = f"/api/v1/predictions/{prediction.pk}/heatmap/"
    answers = [api.get(f"{base}?class=MEL&opacity=0.{n + 1}").status_code for n in range(3)]
    assert answers == [200, 200, 429]
    assert api.get(f"{base}?class=MEL&opacity=0.1").status_code == 200  # cached: no render, no count
    page = clinician_client.get(f"/predictions/{prediction.pk}/heatmap/?class=BCC&opacity=0.9")
    assert page.status_code == 429 and page["Retry-After"]
    assert api.get(base).status_code == 200  # the stored overlay is a file, not a render


def test_a_process_busy_decoding_answers_503(settings, prediction, clinician, clinician_client, api_client_for):
    settings.SKINPORTAL_IMAGE_WORK_SLOTS = 1
    settings.SKINPORTAL_IMAGE_WORK_WAIT = 0.05
    lesion = LesionFactory(patient__owner=clinician)
    with limits.image_work_slot():  # another request is decoding
        response = api_client_for(clinician).get(f"/api/v1/predictions/{prediction.pk}/heatmap/?class=MEL&opacity=0.3")
        assert response.status_code == 503 and response.json()["errors"][0]["code"] == "service_busy"
        page = clinician_client.post(
            f"/lesions/{lesion.pk}/images/new/",
            {
                "captured_on": "2026-01-02",
                "modality": "dermoscopic",
                "files": SimpleUploadedFile("a.png", _png((40, 30))),
            },
        )
        assert page.status_code == 503 and page["Retry-After"]
    assert not lesion.images.exists()
