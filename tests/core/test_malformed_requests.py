"""Malformed requests get a 4xx in the API's error shape, never a 500, and each is logged as a
probe: ids past 64 bits in any URL (404), JSON nested too deep (400), a body over the limit and
too many file parts (413)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AccessLog, Action

from .. import images
from ..factories import LesionFactory, PatientFactory

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


def _assert_api_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["type"] == "client_error" or body["type"] == "validation_error"
    assert body["errors"] and {"code", "detail", "attr"} <= set(body["errors"][0])
    return body


def _probe_rows() -> list[AccessLog]:
    return list(AccessLog.objects.filter(action=Action.DENIED, detail__startswith="malformed request"))


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/patients/{HUGE}/",
        f"/api/v1/lesions/{HUGE}/history/",
        f"/api/v1/images/{HUGE}/file/",
        f"/api/v1/predictions/{HUGE}/heatmap/",
        "/api/v1/patients/9223372036854775808/",  # 2**63: one past the largest id
    ],
)
def test_an_id_past_64_bits_in_an_api_url_is_a_404_in_the_error_shape(clinician, api_client_for, url):
    _assert_api_error(api_client_for(clinician).get(url), 404)
    [probe] = _probe_rows()
    assert probe.user == clinician and probe.status_code == 404 and "id out of range" in probe.detail


def test_the_largest_id_is_an_ordinary_404(clinician, api_client_for):
    _assert_api_error(api_client_for(clinician).get("/api/v1/patients/9223372036854775807/"), 404)
    assert _probe_rows() == []


@pytest.mark.parametrize(
    "name", ["cases:patient-detail", "cases:lesion-detail", "cases:image-file", "inference:prediction-heatmap"]
)
def test_an_id_past_64_bits_in_a_page_url_is_a_404(clinician_client, name):
    url = reverse(name, args=[1]).replace("/1/", f"/{HUGE}/")
    assert clinician_client.get(url).status_code == 404
    assert len(_probe_rows()) == 1


def test_an_id_past_64_bits_in_an_admin_url_is_a_404(admin_client_):
    assert admin_client_.get(f"/admin/cases/patient/{HUGE}/change/").status_code in (302, 404)
    assert len(_probe_rows()) == 1


def test_json_nested_5000_deep_is_a_400(clinician, api_client_for):
    body = "[" * 5000 + "]" * 5000
    response = api_client_for(clinician).post("/api/v1/patients/", body, content_type="application/json")
    _assert_api_error(response, 400)
    assert len(_probe_rows()) == 1


def test_a_3_mb_json_body_is_a_413(clinician, api_client_for):
    body = json.dumps({"identifier": "X", "notes": "a" * 3_000_000})
    response = api_client_for(clinician).post("/api/v1/patients/", body, content_type="application/json")
    _assert_api_error(response, 413)
    assert len(_probe_rows()) == 1


def test_41_file_parts_are_a_413(clinician, api_client_for):
    lesion = LesionFactory(patient=PatientFactory(owner=clinician))
    data = images.jpeg(40, 30)
    files = {f"file{n}": SimpleUploadedFile(f"{n}.jpg", data, content_type="image/jpeg") for n in range(41)}
    response = api_client_for(clinician).post(
        "/api/v1/images/", {"lesion": lesion.pk, "captured_on": "2026-01-02", **files}, format="multipart"
    )
    _assert_api_error(response, 413)
    assert len(_probe_rows()) == 1
