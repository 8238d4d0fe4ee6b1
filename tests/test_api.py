"""What every API endpoint shares: authentication, the error shape, throttles, CORS, the
OpenAPI schema and its offline docs."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from cases.models import LesionImage

from . import images
from .factories import LesionFactory, LesionImageFactory, PatientFactory, PatientShareFactory

pytestmark = pytest.mark.django_db


def test_unknown_api_urls_are_json_404s_after_authentication(clinician, api_client_for):
    for url in ("/api/v1/nothing/", "/api/v1/patients/abc/", "/api/v1/patients/-1/", "/api/whatever"):
        response = api_client_for(clinician).get(url)
        assert response.status_code == 404, url
        assert response.json()["errors"][0]["code"] == "not_found"
        assert APIClient().get(url).status_code == 401


def test_wrong_method_is_405_in_the_error_shape(clinician, api_client_for):
    response = api_client_for(clinician).put("/api/v1/patients/", {}, format="json")
    assert response.status_code == 405
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": "method_not_allowed", "detail": 'Method "PUT" not allowed.', "attr": None}],
    }


def test_a_forbidden_action_says_why(clinician, other_clinician, api_client_for):
    patient = PatientFactory(owner=other_clinician)
    PatientShareFactory(patient=patient, clinician=clinician)
    response = api_client_for(clinician).delete(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code == 403
    assert response.json()["errors"][0]["detail"].startswith("Only the patient's owner or an admin")


def test_session_auth_needs_csrf_for_writes(clinician):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(clinician)
    assert client.get("/api/v1/patients/").status_code == 200
    response = client.post("/api/v1/lesions/", {"patient": 1, "label": "x"}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["errors"][0]["detail"]


def test_uploads_are_throttled_per_user(clinician, api_client_for, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "uploads", "2/minute")
    lesion = LesionFactory(patient__owner=clinician)
    api = api_client_for(clinician)

    def upload(seed: int):
        file = SimpleUploadedFile("v.jpg", images.jpeg(seed=seed))
        return api.post("/api/v1/images/", {"lesion": lesion.pk, "file": file}, format="multipart")

    assert [upload(seed).status_code for seed in range(3)] == [201, 201, 429]
    assert LesionImage.objects.count() == 2
    assert api.get("/api/v1/images/").status_code == 200  # reading is not throttled


def test_a_spoofed_forwarded_for_does_not_escape_the_token_throttle(clinician, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "2/minute")
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/token/",
            {"username": clinician.username, "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}",
        ).status_code
        for attempt in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_files_download_whatever_the_client_accepts(clinician, api_client_for):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    response = api_client_for(clinician).get(f"/api/v1/images/{image.pk}/file/", HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"].startswith("private") or "no-store" in response["Cache-Control"]


def test_cors_is_closed_by_default_and_opens_for_listed_origins(clinician, settings):
    token_request = {"HTTP_ORIGIN": "https://ehr.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"}
    response = APIClient().options("/api/v1/patients/", **token_request)
    assert "Access-Control-Allow-Origin" not in response
    settings.CORS_ALLOWED_ORIGINS = ["https://ehr.example"]
    response = APIClient().options("/api/v1/patients/", **token_request)
    assert response["Access-Control-Allow-Origin"] == "https://ehr.example"
    response = APIClient().options("/accounts/login/", **token_request)
    assert "Access-Control-Allow-Origin" not in response  # only the API, never the web UI


def test_schema_describes_every_endpoint_with_examples(clinician, api_client_for):
    response = api_client_for(clinician).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/lesions/",
        "/api/v1/images/",
        "/api/v1/images/{id}/file/",
        "/api/v1/images/{id}/predict/",
        "/api/v1/predictions/",
        "/api/v1/predictions/{id}/rerun/",
        "/api/v1/predictions/{id}/heatmap/",
        "/api/v1/model-versions/",
        "/api/v1/me/",
        "/api/v1/auth/token/",
    ):
        assert path in paths, path
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            success = next(code for code in operation["responses"] if code.startswith("2") or code == "302")
            content = operation["responses"][success].get("content", {})
            json_body = content.get("application/json")
            if json_body and "$ref" in json.dumps(json_body["schema"]):
                assert json_body.get("examples"), f"{method.upper()} {path} has no response example"
    upload = paths["/api/v1/images/"]["post"]
    assert {"201", "400", "401", "409", "413", "415", "429"} <= set(upload["responses"])
    assert "multipart/form-data" in upload["requestBody"]["content"]


def test_interactive_docs_work_offline(clinician):
    from django.test import Client

    anonymous = Client()
    response = anonymous.get("/api/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client = Client()
    client.force_login(clinician)
    page = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(r'"(/static/[^"]+)"', page)
    assert assets and not [url for url in assets if url.startswith(("http:", "https:", "//"))]
    for url in assets:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
    script = client.get("/api/docs/?script=")  # Swagger UI's start script, a file (no inline script)
    assert script["Content-Type"].startswith("application/javascript") and b"/api/schema/" in script.content
    assert client.get("/api/redoc/").status_code == 200
