"""The change history: a version for each kind of change, with the user who made it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.models import Patient
from core.history import history_of
from inference import services as inference_services

from .. import images
from ..factories import LesionFactory, ModelVersionFactory, PatientFactory

pytestmark = pytest.mark.django_db


def by_type(entries):
    """The newest entry of each (object type, change)."""
    newest = {}
    for entry in entries:
        newest.setdefault((entry.object_type, entry.change), entry)
    return newest


def test_ui_changes_keep_versions_with_their_user(clinician, clinician_client, other_clinician):
    response = clinician_client.post(
        "/patients/new/",
        {
            "identifier": "H-1",
            "given_name": "Ann",
            "family_name": "Hist",
            "date_of_birth": "1980-01-01",
            "sex": "female",
        },
    )
    patient = Patient.objects.get(identifier="H-1")
    assert response.status_code == 302
    clinician_client.post(
        f"/patients/{patient.pk}/edit/",
        {
            "identifier": "H-1",
            "given_name": "Anna",
            "family_name": "Hist",
            "date_of_birth": "1980-01-01",
            "sex": "female",
        },
    )
    clinician_client.post(f"/patients/{patient.pk}/share/", {"clinician": other_clinician.pk})
    clinician_client.post(f"/patients/{patient.pk}/share/{other_clinician.pk}/revoke/")
    entries = by_type(history_of(instance=patient))
    assert entries[("patient", "created")].username == clinician.username
    changed = entries[("patient", "changed")]
    assert changed.username == clinician.username
    assert changed.changes == [{"field": "given_name", "old": "Ann", "new": "Anna"}]
    assert entries[("share", "created")].username == clinician.username
    assert entries[("share", "deleted")].username == clinician.username


def test_lesion_history_covers_images_predictions_reviews_and_histopathology(
    clinician, clinician_client, api_client_for, reviewer, model_version, django_capture_on_commit_callbacks
):
    lesion = LesionFactory(patient__owner=clinician)
    api = api_client_for(clinician)
    api.patch(f"/api/v1/lesions/{lesion.pk}/", {"status": "referred"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        upload = api.post(
            "/api/v1/images/",
            {"lesion": lesion.pk, "file": SimpleUploadedFile("a.jpg", images.jpeg(*images.GATE_PASSING_SIZE, seed=5))},
            format="multipart",
        )
    assert upload.status_code == 201
    prediction = lesion.images.get().predictions.get()
    reviewed = api_client_for(reviewer).post(
        "/api/v1/reviews/",
        {
            "prediction": prediction.pk,
            "agrees_with_model": True,
            "diagnosis": prediction.predicted_class,
            "action": "discharge",
        },
        format="json",
    )
    assert reviewed.status_code == 201
    clinician_client.post(
        f"/lesions/{lesion.pk}/histopathology/",
        {"diagnosis": "NV", "diagnosed_on": "2026-01-05", "report": "naevus"},
    )
    entries = by_type(history_of(instance=lesion))
    assert entries[("lesion", "changed")].username == clinician.username
    assert entries[("lesion", "changed")].changes == [{"field": "status", "old": "monitoring", "new": "referred"}]
    assert entries[("image", "created")].username == clinician.username
    assert entries[("prediction", "created")].username == clinician.username
    # The worker's change (queued → succeeded) has no request user: it is the system's.
    assert entries[("prediction", "changed")].username == "system"
    assert {"field": "status", "old": "running", "new": "succeeded"} in entries[("prediction", "changed")].changes
    assert entries[("prediction", "changed")].username == "system"
    assert entries[("review", "created")].username == reviewer.username
    assert entries[("histopathology", "created")].username == clinician.username

    page = clinician_client.get(lesion.get_absolute_url()).content.decode()
    assert "status: monitoring → referred" in page
    api_history = api.get(f"/api/v1/lesions/{lesion.pk}/history/").json()
    assert {(e["object_type"], e["change"]) for e in api_history["results"]} >= {
        ("lesion", "changed"),
        ("image", "created"),
        ("prediction", "changed"),
        ("review", "created"),
        ("histopathology", "created"),
    }


def test_deleting_a_patient_keeps_the_record_of_it(clinician, api_client_for, admin_user):
    patient = PatientFactory(owner=clinician)
    lesion = LesionFactory(patient=patient)
    assert api_client_for(clinician).delete(f"/api/v1/patients/{patient.pk}/").status_code == 204
    deleted = Patient.history.get(id=patient.pk, history_type="-")
    assert deleted.history_user == clinician
    assert lesion.history.model.objects.filter(id=lesion.pk, history_type="-").exists()


def test_model_version_activation_is_in_its_history(admin_user, api_client_for):
    model_version = ModelVersionFactory(is_active=True)
    newer = ModelVersionFactory()
    inference_services.model_version_activate(model_version=newer)
    entries = history_of(instance=model_version)
    assert entries[0].change == "changed" and entries[0].changes == [{"field": "is_active", "old": True, "new": False}]
    api_entries = api_client_for(admin_user).get(f"/api/v1/model-versions/{newer.pk}/history/").json()
    assert api_entries["results"][0]["changes"] == [{"field": "is_active", "old": False, "new": True}]


def test_history_over_the_api_follows_the_access_rule(clinician, other_clinician, api_client_for):
    patient = PatientFactory(owner=other_clinician)
    assert api_client_for(clinician).get(f"/api/v1/patients/{patient.pk}/history/").status_code == 404
    assert api_client_for(other_clinician).get(f"/api/v1/patients/{patient.pk}/history/").status_code == 200


def test_history_in_the_admin(admin_client_, clinician):
    patient = PatientFactory(owner=clinician)
    response = admin_client_.get(f"/admin/cases/patient/{patient.pk}/history/")
    assert response.status_code == 200 and "Created" in response.content.decode()


def test_the_lesion_history_costs_the_same_queries_however_long(
    clinician, api_client_for, django_assert_max_num_queries
):
    lesion = LesionFactory(patient__owner=clinician)
    api = api_client_for(clinician)
    for label in ("a", "b"):
        api.patch(f"/api/v1/lesions/{lesion.pk}/", {"label": label}, format="json")
    with django_assert_max_num_queries(30) as few:
        history_of(instance=lesion)
    baseline = len(few.captured_queries)
    assert baseline > 0
    for n in range(20):
        api.patch(f"/api/v1/lesions/{lesion.pk}/", {"label": f"label {n}"}, format="json")
    with django_assert_max_num_queries(baseline):
        entries = history_of(instance=lesion)
    assert len([e for e in entries if e.change == "changed"]) == 22


def test_the_admin_never_reverts_to_an_earlier_version(admin_client_, clinician):
    patient = PatientFactory(owner=clinician, given_name="Before")
    patient.given_name = "After"
    patient.save()
    first = Patient.history.filter(id=patient.pk).order_by("history_date").first()
    url = f"/admin/cases/patient/{patient.pk}/history/{first.history_id}/"
    assert admin_client_.get(url).status_code == 200
    assert admin_client_.post(url, {"given_name": "Before"}).status_code == 403
    patient.refresh_from_db()
    assert patient.given_name == "After"


def test_the_history_api_never_shows_storage_paths(clinician, api_client_for):
    from inference.models import PredictionStatus

    from ..factories import PredictionFactory

    prediction = PredictionFactory(image__lesion__patient__owner=clinician, status=PredictionStatus.QUEUED)
    prediction.heatmap.name = "predictions/2026/11/secret-path/heatmap.jpg"
    prediction.raw_map.name = "predictions/2026/11/secret-path/map.npy"
    prediction.save()
    response = api_client_for(clinician).get(f"/api/v1/lesions/{prediction.image.lesion.pk}/history/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "secret-path" not in body and "images/" not in body
    changes = [c for entry in response.json()["results"] for c in entry["changes"] if c["field"] == "heatmap"]
    assert changes == [{"field": "heatmap", "old": None, "new": "(file stored)"}]
