"""Pages and API answers with patient data carry ``Cache-Control: no-store``: no browser or proxy
keeps a copy (files set it themselves)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from .factories import LesionImageFactory

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_html_pages_are_not_stored(clinician, clinician_client):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    for url in (
        reverse("cases:dashboard"),
        reverse("cases:patient-list"),
        image.lesion.patient.get_absolute_url(),
        image.lesion.get_absolute_url(),
        image.get_absolute_url(),
    ):
        response = clinician_client.get(url)
        assert response.status_code == 200 and _no_store(response), url


def test_api_json_is_not_stored(clinician, api_client_for):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    api = api_client_for(clinician)
    for url in (
        "/api/v1/patients/",
        f"/api/v1/patients/{image.lesion.patient.pk}/",
        f"/api/v1/lesions/{image.lesion.pk}/history/",
        f"/api/v1/images/{image.pk}/",
        "/api/v1/me/",
    ):
        response = api.get(url)
        assert response.status_code == 200 and _no_store(response), url


def test_an_error_page_is_not_stored_either(other_client, clinician):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    response = other_client.get(image.get_absolute_url())
    assert response.status_code == 404 and _no_store(response)
