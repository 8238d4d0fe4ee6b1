"""The access matrix: every URL of the web UI, the API and the file views that takes an object
id is called with another clinician's objects (as a logged-in clinician) and with no login.
Nothing may leak: another's object answers 404 (or 405 for a method the URL does not have,
before any lookup; or exactly what an id that does not exist gets, e.g. 403 on a reviewers-only
page), and without a login the answer is the login redirect (pages) or 401 (API).
A URL pattern this table does not know fails the test, so new URLs must join the matrix."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import URLResolver, get_resolver

from accounts.models import ApiToken

from .factories import (
    HistopathologyFactory,
    LesionImageFactory,
    ModelVersionFactory,
    NotificationFactory,
    PatientShareFactory,
    PredictionFactory,
    ReviewFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# URL name → which of the other clinician's objects each id argument names.
OBJECT_OF = {
    "api-token-revoke": {"digest": "token"},
    "notifications:open": {"pk": "notification"},
    "reviews:review": {"lesion_pk": "lesion"},
    "reviews:histopathology-add": {"lesion_pk": "lesion"},
    "inference:image-analysis": {"image_pk": "image"},
    "inference:image-predict": {"image_pk": "image"},
    "inference:prediction-heatmap": {"pk": "prediction"},
    "cases:patient-detail": {"pk": "patient"},
    "cases:patient-update": {"pk": "patient"},
    "cases:patient-share": {"pk": "patient"},
    "cases:patient-unshare": {"pk": "patient", "user_pk": "sharee"},
    "cases:lesion-create": {"patient_pk": "patient"},
    "cases:lesion-detail": {"pk": "lesion"},
    "cases:lesion-update": {"pk": "lesion"},
    "cases:lesion-compare": {"pk": "lesion"},
    "cases:lesion-compare-overlay": {"pk": "lesion"},
    "cases:lesion-assess-change": {"pk": "lesion"},
    "cases:image-upload": {"lesion_pk": "lesion"},
    "cases:image-detail": {"pk": "image"},
    "cases:image-file": {"pk": "image"},
    "cases:image-thumbnail": {"pk": "image"},
    "api:patient-detail": {"pk": "patient"},
    "api:patient-history": {"pk": "patient"},
    "api:patient-share": {"pk": "patient"},
    "api:patient-unshare": {"pk": "patient", "user_pk": "sharee"},
    "api:lesion-detail": {"pk": "lesion"},
    "api:lesion-history": {"pk": "lesion"},
    "api:lesion-comparison": {"pk": "lesion"},
    "api:lesion-comparison-overlay": {"pk": "lesion"},
    "api:lesion-comparisons": {"pk": "lesion"},
    "api:lesion-trend": {"pk": "lesion"},
    "api:image-measurements": {"pk": "image"},
    "api:image-detail": {"pk": "image"},
    "api:image-file": {"pk": "image"},
    "api:image-predict": {"pk": "image"},
    "api:image-thumbnail": {"pk": "image"},
    "api:prediction-detail": {"pk": "prediction"},
    "api:prediction-heatmap": {"pk": "prediction"},
    "api:prediction-rerun": {"pk": "prediction"},
    "api:review-detail": {"pk": "review"},
    "api:histopathology-detail": {"pk": "histopathology"},
    "api:notification-detail": {"pk": "notification"},
    "api:notification-read": {"pk": "notification"},
    "interop:patient-report": {"pk": "patient"},
    "interop:lesion-report": {"pk": "lesion"},
    "interop:visit-dicom": {"pk": "lesion"},
    "interop:image-dicom": {"pk": "image"},
    "api:patient-report": {"pk": "patient"},
    "api:patient-fhir": {"pk": "patient"},
    "api:lesion-report": {"pk": "lesion"},
    "api:lesion-dicom": {"pk": "lesion"},
    "api:image-dicom": {"pk": "image"},
}
REVIEWERS_ONLY = {"reviews:review"}
# Shared by everyone by design (not patient data): registered model versions.
NOT_PRIVATE = {"api:model-version-detail", "api:model-version-history"}


def url_patterns(patterns=None, prefix="", namespace=None):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
        else:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, prefix + str(pattern.pattern)


def with_ids(route: str, ids: dict[str, str]) -> str:
    """The route with its arguments filled in (Django converters and DRF regex groups)."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: ids[m.group(1)], route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids[m.group(1)], route)
    return "/" + route.replace("^", "").replace("$", "")


@pytest.fixture
def others_objects():
    owner, sharee = UserFactory(username="owner-x"), UserFactory(username="sharee-x")
    image = LesionImageFactory(lesion__patient__owner=owner)
    lesion, patient = image.lesion, image.lesion.patient
    PatientShareFactory(patient=patient, clinician=sharee)
    prediction = PredictionFactory(succeeded=True, image=image, model_version=ModelVersionFactory(is_active=True))
    reviewer = UserFactory(username="reviewer-x", is_staff=True)
    review = ReviewFactory(prediction=prediction, reviewer=reviewer, action="discharge")
    histopathology = HistopathologyFactory(lesion=lesion, diagnosed_on=datetime.date(2026, 1, 1), report="naevus")
    notification = NotificationFactory(recipient=owner, lesion=lesion, title="t", body="b", event_key="x:1")
    token, _ = ApiToken.objects.create(user=owner, expiry=None, name="theirs")
    return {
        "patient": str(patient.pk),
        "lesion": str(lesion.pk),
        "image": str(image.pk),
        "prediction": str(prediction.pk),
        "review": str(review.pk),
        "histopathology": str(histopathology.pk),
        "notification": str(notification.pk),
        "token": token.digest,
        "sharee": str(sharee.pk),
    }


def matrix(objects):
    cases = []
    for name, route in url_patterns():
        if not re.search(r"<|\(\?P<", route) or route.startswith("admin/") or "format" in route:
            continue
        if name in NOT_PRIVATE:
            continue
        assert name in OBJECT_OF, f"{name} ({route}) takes an id: add it to the access matrix"
        ids = {argument: objects[kind] for argument, kind in OBJECT_OF[name].items()}
        cases.append((name, with_ids(route, ids)))
    return cases


def test_another_clinicians_objects_are_404_on_every_url(clinician, others_objects):
    from django.test import Client

    client = Client()
    client.force_login(clinician)
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(clinician)
    checked = 0
    for name, url in matrix(others_objects):
        caller = api if name.startswith("api:") else client
        for method in ("get", "post", "put", "patch", "delete"):
            status = getattr(caller, method)(url).status_code
            if status not in (404, 405):
                # Allowed only if it says nothing about the object: a missing id gets the same.
                missing = re.sub(r"/\d+/", "/999999/", url, count=1)
                assert status == 403 and getattr(caller, method)(missing).status_code == 403, (
                    f"{method.upper()} {url} ({name}) → {status}"
                )
            checked += 1
    assert checked == 5 * len(OBJECT_OF)  # every private URL was called


def test_without_login_every_url_is_the_login_redirect_or_401(db, others_objects):
    from django.test import Client

    client = Client()
    for name, url in matrix(others_objects):
        for method in ("get", "post", "delete"):
            response = getattr(client, method)(url)
            if name.startswith("api:"):
                assert response.status_code == 401, f"{method.upper()} {url} → {response.status_code}"
            else:
                assert response.status_code == 302, f"{method.upper()} {url} → {response.status_code}"
                assert response["Location"].startswith("/accounts/login/"), url


def test_the_owner_reaches_each_object_so_the_matrix_is_meaningful(others_objects):
    """The same URLs answer the owner: the 404s above come from the access rule."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    owner = get_user_model().objects.get(username="owner-x")
    client = Client()
    client.force_login(owner)
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(owner)
    for name, url in matrix(others_objects):
        response = (api if name.startswith("api:") else client).get(url)
        expected = (403,) if name in REVIEWERS_ONLY else (200, 302, 405, 409)
        assert response.status_code in expected, f"GET {url} ({name}) → {response.status_code}"


def test_admin_object_urls_send_clinicians_to_the_admin_login(clinician, others_objects):
    from django.test import Client

    client = Client()
    client.force_login(clinician)
    checked = 0
    for name, route in url_patterns():
        if not (name or "").startswith("admin:") or "<path:object_id>" not in route:
            continue
        url = "/" + route.replace("<path:object_id>", others_objects["patient"]).replace("^", "").replace("$", "")
        if "<" in url or "(?P" in url:
            continue
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (url, response)
        checked += 1
    assert checked > 10
