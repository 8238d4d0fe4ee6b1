"""The access rule on every object page and file URL of the web UI."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from ..factories import LesionImageFactory, PatientShareFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(clinician):
    return LesionImageFactory(lesion__patient__owner=clinician)


def object_urls(image) -> list[tuple[str, str]]:
    """(method, url) for every URL that names a patient, lesion or image."""
    lesion, patient = image.lesion, image.lesion.patient
    return [
        ("get", reverse("cases:patient-detail", args=[patient.pk])),
        ("get", reverse("cases:patient-update", args=[patient.pk])),
        ("post", reverse("cases:patient-update", args=[patient.pk])),
        ("post", reverse("cases:patient-share", args=[patient.pk])),
        ("post", reverse("cases:patient-unshare", args=[patient.pk, patient.owner_id])),
        ("get", reverse("cases:lesion-create", args=[patient.pk])),
        ("post", reverse("cases:lesion-create", args=[patient.pk])),
        ("get", reverse("cases:lesion-detail", args=[lesion.pk])),
        ("get", reverse("cases:lesion-update", args=[lesion.pk])),
        ("post", reverse("cases:lesion-update", args=[lesion.pk])),
        ("get", reverse("cases:image-upload", args=[lesion.pk])),
        ("post", reverse("cases:image-upload", args=[lesion.pk])),
        ("get", reverse("cases:image-detail", args=[image.pk])),
        ("get", reverse("cases:image-file", args=[image.pk])),
        ("get", reverse("cases:image-thumbnail", args=[image.pk])),
    ]


def test_another_clinician_gets_404_everywhere(image, other_client):
    for method, url in object_urls(image):
        response = getattr(other_client, method)(url)
        assert response.status_code == 404, (method, url)


def test_anonymous_is_sent_to_login_everywhere(image):
    client = Client()
    urls = [*object_urls(image), ("get", reverse("cases:dashboard")), ("get", reverse("cases:patient-list"))]
    urls.append(("get", reverse("cases:patient-create")))
    for method, url in urls:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response.url.startswith(reverse("login") + "?next="), (method, url)


@pytest.mark.parametrize("who", ["owner", "shared", "admin"])
def test_owner_care_team_and_admin_can_open_every_page(image, who, clinician_client, admin_client_):
    if who == "shared":
        member = UserFactory()
        patient = image.lesion.patient
        PatientShareFactory(patient=patient, clinician=member)
        client = Client()
        client.force_login(member)
    else:
        client = clinician_client if who == "owner" else admin_client_
    for method, url in object_urls(image):
        if method != "get":
            continue
        response = client.get(url)
        assert response.status_code == 200, (who, url)


def test_files_are_served_only_through_the_access_checked_view(image, clinician_client, settings):
    response = clinician_client.get(reverse("cases:image-file", args=[image.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content)
    assert body == image.file.open("rb").read()

    # Nothing is reachable under a media URL, even when logged in.
    assert clinician_client.get(f"{settings.MEDIA_URL}{image.file.name}").status_code == 404
    assert clinician_client.get(f"/media/{image.file.name}").status_code == 404


def test_lists_and_dashboard_show_only_visible_patients(image, clinician_client, other_client):
    identifier = image.lesion.patient.identifier
    for url in (reverse("cases:patient-list"), reverse("cases:dashboard")):
        assert identifier in clinician_client.get(url).content.decode(), url
        assert identifier not in other_client.get(url).content.decode(), url
