"""The access log holds every read of patient data (lists, searches, change histories: one row
per request with the patients it returned) and every denied attempt (writes answered 403 or 404,
references refused in an API body, malformed requests), in every channel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AccessLog, Action, Channel, ObjectType

from ..factories import (
    HistopathologyFactory,
    LesionFactory,
    PatientFactory,
    PatientShareFactory,
    ReviewFactory,
)
from .conftest import log_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_patients(clinician, record):
    """``record``'s patient and a second patient of ``clinician``, and one of another clinician."""
    second = PatientFactory(owner=clinician, family_name="Zimmer")
    LesionFactory(patient=second)
    PatientFactory(family_name="Stranger")
    return [record.patient, second]


def _only_row() -> AccessLog:
    rows = log_rows()
    assert len(rows) == 1, rows
    return rows[0]


API_LISTS = [
    ("/api/v1/patients/", ObjectType.PATIENT),
    ("/api/v1/patients/?search=Zimmer", ObjectType.PATIENT),
    ("/api/v1/patients/?page_size=100", ObjectType.PATIENT),
    ("/api/v1/lesions/", ObjectType.LESION),
    ("/api/v1/images/", ObjectType.IMAGE),
    ("/api/v1/predictions/", ObjectType.PREDICTION),
]


@pytest.mark.parametrize(("url", "object_type"), API_LISTS)
def test_an_api_list_is_one_row_with_the_patients_it_returned(
    clinician, api_client_for, two_patients, url, object_type
):
    response = api_client_for(clinician).get(url)
    assert response.status_code == 200
    row = _only_row()
    returned = {two_patients[1].pk} if "search" in url else {p.pk for p in two_patients}
    if object_type != ObjectType.PATIENT:
        returned = {two_patients[0].pk}  # only the first patient has images and predictions...
        if object_type == ObjectType.LESION:
            returned = {p.pk for p in two_patients}  # ...both have a lesion
    assert (row.user, row.action, row.object_type, row.channel) == (clinician, Action.VIEW, object_type, Channel.API)
    assert set(row.patient_id_list) == returned
    assert row.path == url and row.status_code == 200
    # The patient filter of the log finds the list for each patient it returned.
    for patient_id in returned:
        assert AccessLog.objects.about_patient(patient_id).filter(pk=row.pk).exists()


def test_review_and_histopathology_lists_are_logged(clinician, api_client_for, record):
    ReviewFactory(prediction=record.prediction, lesion=record.lesion)
    HistopathologyFactory(lesion=record.lesion)
    api = api_client_for(clinician)
    for url in ("/api/v1/reviews/", "/api/v1/histopathology/"):
        before = AccessLog.objects.count()
        assert api.get(url).status_code == 200
        [row] = AccessLog.objects.order_by("pk")[before:]
        assert row.action == Action.VIEW and row.patient_id_list == [record.patient.pk], url


def test_the_web_patient_list_and_search_are_logged(clinician, clinician_client, two_patients):
    assert clinician_client.get(reverse("cases:patient-list") + "?q=Zimmer").status_code == 200
    row = _only_row()
    assert (row.action, row.object_type, row.channel) == (Action.VIEW, ObjectType.PATIENT, Channel.WEB)
    assert row.patient_id_list == [two_patients[1].pk]


def test_an_empty_list_is_logged_with_no_patients(other_clinician, api_client_for, record):
    assert api_client_for(other_clinician).get("/api/v1/patients/").status_code == 200
    row = _only_row()
    assert row.patient_id_list == [] and row.detail == "list: 0 patients"


@pytest.mark.parametrize("resource", ["patients", "lesions"])
def test_a_history_read_is_logged_and_a_history_outside_the_access_rule_is_denied(
    clinician, other_clinician, api_client_for, record, resource
):
    target = record.patient if resource == "patients" else record.lesion
    assert api_client_for(clinician).get(f"/api/v1/{resource}/{target.pk}/history/").status_code == 200
    assert api_client_for(other_clinician).get(f"/api/v1/{resource}/{target.pk}/history/").status_code == 404
    seen, denied = log_rows()
    assert (seen.user, seen.action, seen.object_id) == (clinician, Action.VIEW, target.pk)
    assert seen.patient_id == record.patient.pk
    assert (denied.user, denied.action, denied.object_id) == (other_clinician, Action.DENIED, target.pk)


DENIED_API_WRITES = [
    ("patch", "/api/v1/patients/{patient}/", {"notes": "x"}, ObjectType.PATIENT, "patient"),
    ("put", "/api/v1/lesions/{lesion}/", {"label": "x"}, ObjectType.LESION, "lesion"),
    ("delete", "/api/v1/patients/{patient}/", None, ObjectType.PATIENT, "patient"),
    ("post", "/api/v1/patients/{patient}/shares/", {"clinician": 1}, ObjectType.PATIENT, "patient"),
    ("post", "/api/v1/images/{image}/predict/", {}, ObjectType.IMAGE, "image"),
    ("post", "/api/v1/predictions/{prediction}/rerun/", None, ObjectType.PREDICTION, "prediction"),
]


@pytest.mark.parametrize(("method", "url", "body", "object_type", "target"), DENIED_API_WRITES)
def test_a_denied_api_write_is_logged(other_clinician, api_client_for, record, method, url, body, object_type, target):
    url = url.format(**{name: getattr(record, name).pk for name in ("patient", "lesion", "image", "prediction")})
    response = getattr(api_client_for(other_clinician), method)(url, body, format="json")
    assert response.status_code == 404
    row = _only_row()
    assert (row.user, row.action, row.method, row.status_code) == (other_clinician, Action.DENIED, method.upper(), 404)
    assert (row.object_type, row.object_id) == (object_type, getattr(record, target).pk)
    assert row.patient_id == record.patient.pk


def test_a_forbidden_write_by_the_care_team_is_logged(other_clinician, api_client_for, record):
    PatientShareFactory(patient=record.patient, clinician=other_clinician)
    assert api_client_for(other_clinician).delete(f"/api/v1/patients/{record.patient.pk}/").status_code == 403
    row = _only_row()
    assert (row.action, row.status_code, row.object_id) == (Action.DENIED, 403, record.patient.pk)


def test_a_denied_web_write_is_logged(other_client, other_clinician, record):
    response = other_client.post(reverse("inference:image-predict", args=[record.image.pk]))
    assert response.status_code == 404
    row = _only_row()
    assert (row.user, row.action, row.channel, row.object_type, row.object_id) == (
        other_clinician,
        Action.DENIED,
        Channel.WEB,
        ObjectType.IMAGE,
        record.image.pk,
    )


def test_a_reference_to_another_clinicians_record_in_a_body_is_logged(other_clinician, api_client_for, record):
    response = api_client_for(other_clinician).post(
        "/api/v1/lesions/", {"patient": record.patient.pk, "label": "probe"}, format="json"
    )
    assert response.status_code == 400
    row = _only_row()
    assert (row.user, row.action, row.status_code) == (other_clinician, Action.DENIED, 400)
    assert row.detail.startswith("refused reference: patient:")


def test_an_ordinary_validation_error_is_not_a_denied_attempt(clinician, api_client_for, record):
    response = api_client_for(clinician).post("/api/v1/lesions/", {"patient": record.patient.pk}, format="json")
    assert response.status_code == 400
    assert log_rows() == []


def test_the_admins_patient_link_shows_the_lists_that_returned_the_patient(
    clinician, api_client_for, admin_client_, two_patients
):
    api_client_for(clinician).get("/api/v1/patients/")
    [listed] = log_rows()
    response = admin_client_.get(reverse("admin:audit_accesslog_changelist"), {"patient_id": two_patients[1].pk})
    assert response.status_code == 200
    assert listed.pk in {row.pk for row in response.context["cl"].result_list}
