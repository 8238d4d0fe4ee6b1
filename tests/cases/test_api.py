"""Patients, lesions and images over the API: the UI's services and access rule behind each."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases.models import Lesion, LesionImage, Patient, PatientShare
from inference.models import Prediction

from .. import images
from ..factories import (
    RESULT_PROBABILITIES,
    LesionFactory,
    LesionImageFactory,
    ModelVersionFactory,
    PatientFactory,
    PatientShareFactory,
    PredictionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "identifier": "MRN-API-1",
    "given_name": "Maria",
    "family_name": "García",
    "date_of_birth": "1961-04-17",
    "sex": "female",
    "notes": "family history of melanoma",
}


def stored_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# Patients ------------------------------------------------------------------------------


def test_register_list_get_update_and_delete_a_patient(clinician, api_client_for):
    api = api_client_for(clinician)
    created = api.post("/api/v1/patients/", NEW_PATIENT, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["identifier"] == "MRN-API-1" and body["owner"]["username"] == clinician.username
    assert body["shared_with"] == []
    patient = Patient.objects.get(pk=body["id"])
    assert patient.owner == clinician and patient.family_name == "García"

    listed = api.get("/api/v1/patients/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == patient.pk
    assert api.get(f"/api/v1/patients/{patient.pk}/").json()["notes"] == "family history of melanoma"

    changed = api.patch(f"/api/v1/patients/{patient.pk}/", {"given_name": "  Marta "}, format="json")
    assert changed.status_code == 200 and changed.json()["given_name"] == "Marta"
    patient.refresh_from_db()
    assert patient.given_name == "Marta" and patient.identifier == "MRN-API-1"

    assert api.delete(f"/api/v1/patients/{patient.pk}/").status_code == 204
    assert not Patient.objects.filter(pk=patient.pk).exists()


def test_patient_validation_errors_have_one_shape_and_the_uis_messages(clinician, api_client_for):
    PatientFactory(identifier="MRN-TAKEN")  # someone else's patient
    api = api_client_for(clinician)
    response = api.post(
        "/api/v1/patients/",
        {**NEW_PATIENT, "identifier": "MRN-TAKEN", "date_of_birth": str(timezone.localdate() + datetime.timedelta(1))},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    by_field = {error["attr"]: error["detail"] for error in body["errors"]}
    assert "date_of_birth" in by_field
    # The MRN check runs in the service, after field validation; ask again with a valid date.
    response = api.post("/api/v1/patients/", {**NEW_PATIENT, "identifier": "MRN-TAKEN"}, format="json")
    assert response.status_code == 400
    from cases.services import MRN_TAKEN

    assert response.json()["errors"] == [{"code": "invalid", "detail": MRN_TAKEN, "attr": "identifier"}]
    assert Patient.objects.filter(owner=clinician).count() == 0


def test_search_and_ordering(clinician, api_client_for):
    PatientFactory(owner=clinician, family_name="Zeller", given_name="Ann", identifier="A-1")
    PatientFactory(owner=clinician, family_name="Abbott", given_name="Ben", identifier="B-2")
    api = api_client_for(clinician)
    assert [p["family_name"] for p in api.get("/api/v1/patients/").json()["results"]] == ["Abbott", "Zeller"]
    ordered = api.get("/api/v1/patients/?ordering=-identifier").json()["results"]
    assert [p["identifier"] for p in ordered] == ["B-2", "A-1"]
    assert [p["identifier"] for p in api.get("/api/v1/patients/?search=zell").json()["results"]] == ["A-1"]


def test_another_clinicians_patients_are_404_and_admins_see_all(clinician, other_clinician, admin_user, api_client_for):
    patient = PatientFactory(owner=other_clinician)
    api = api_client_for(clinician)
    assert api.get("/api/v1/patients/").json()["count"] == 0
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"/api/v1/patients/{patient.pk}/", {}, format="json")
        assert response.status_code == 404
        assert response.json()["type"] == "client_error"
    assert api.post(f"/api/v1/patients/{patient.pk}/shares/", {"clinician": clinician.pk}).status_code == 404
    assert Patient.objects.filter(pk=patient.pk).exists()
    assert api_client_for(admin_user).get(f"/api/v1/patients/{patient.pk}/").status_code == 200


def test_only_the_owner_or_an_admin_deletes_or_shares(clinician, other_clinician, api_client_for):
    patient = PatientFactory(owner=other_clinician)
    PatientShareFactory(patient=patient, clinician=clinician)
    api = api_client_for(clinician)
    assert api.get(f"/api/v1/patients/{patient.pk}/").status_code == 200  # care team reads
    assert api.patch(f"/api/v1/patients/{patient.pk}/", {"notes": "seen"}, format="json").status_code == 200
    third = UserFactory()
    response = api.post(f"/api/v1/patients/{patient.pk}/shares/", {"clinician": third.pk}, format="json")
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "permission_denied"
    assert api.delete(f"/api/v1/patients/{patient.pk}/").status_code == 403
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_sharing_and_revoking(clinician, other_clinician, api_client_for):
    patient = PatientFactory(owner=clinician)
    api = api_client_for(clinician)
    shared = api.post(f"/api/v1/patients/{patient.pk}/shares/", {"clinician": other_clinician.pk}, format="json")
    assert shared.status_code == 201
    assert [user["username"] for user in shared.json()["shared_with"]] == [other_clinician.username]
    assert api_client_for(other_clinician).get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    assert api.delete(f"/api/v1/patients/{patient.pk}/shares/{other_clinician.pk}/").status_code == 204
    assert not PatientShare.objects.exists()
    assert api_client_for(other_clinician).get(f"/api/v1/patients/{patient.pk}/").status_code == 404
    assert api.delete(f"/api/v1/patients/{patient.pk}/shares/{other_clinician.pk}/").status_code == 404
    response = api.post(f"/api/v1/patients/{patient.pk}/shares/", {"clinician": clinician.pk}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "clinician"


# Lesions -------------------------------------------------------------------------------


def test_open_list_filter_and_update_lesions(clinician, api_client_for):
    patient, other_patient = PatientFactory(owner=clinician), PatientFactory(owner=clinician)
    api = api_client_for(clinician)
    response = api.post(
        "/api/v1/lesions/",
        {"patient": patient.pk, "label": "mole left scapula", "anatomic_site": "posterior torso"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["image_count"] == 0 and body["latest_risk"] is None and body["status"] == "monitoring"
    assert body["opened_on"] == str(timezone.localdate())
    lesion = Lesion.objects.get(pk=body["id"])
    assert lesion.created_by == clinician
    LesionFactory(patient=other_patient)

    assert api.get("/api/v1/lesions/").json()["count"] == 2
    filtered = api.get(f"/api/v1/lesions/?patient={patient.pk}").json()["results"]
    assert [item["id"] for item in filtered] == [lesion.pk]

    changed = api.patch(f"/api/v1/lesions/{lesion.pk}/", {"status": "referred"}, format="json")
    assert changed.status_code == 200 and changed.json()["status"] == "referred"
    assert changed.json()["patient"] == patient.pk
    lesion.refresh_from_db()
    assert lesion.status == "referred" and lesion.label == "mole left scapula"
    assert api.delete(f"/api/v1/lesions/{lesion.pk}/").status_code == 405


def test_a_lesion_cannot_be_opened_for_an_invisible_patient(clinician, other_clinician, api_client_for):
    hidden = PatientFactory(owner=other_clinician)
    response = api_client_for(clinician).post("/api/v1/lesions/", {"patient": hidden.pk, "label": "x"}, format="json")
    assert response.status_code == 400
    missing = api_client_for(clinician).post("/api/v1/lesions/", {"patient": 999999, "label": "x"}, format="json")
    # The same answer as for a patient that does not exist: nothing is revealed.
    assert response.json()["errors"][0]["detail"].replace(str(hidden.pk), "N") == missing.json()["errors"][0][
        "detail"
    ].replace("999999", "N")
    assert not Lesion.objects.exists()


def test_lesion_latest_risk_is_the_latest_visits(clinician, api_client_for):
    lesion = LesionFactory(patient__owner=clinician)
    old = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2025, 1, 1))
    new = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2026, 1, 1))
    model_version = ModelVersionFactory(is_active=True)
    for image, risk in ((old, "high"), (new, "low")):
        PredictionFactory(
            succeeded=True, image=image, model_version=model_version, probabilities=RESULT_PROBABILITIES["NV", risk]
        )
    body = api_client_for(clinician).get(f"/api/v1/lesions/{lesion.pk}/").json()
    assert body["image_count"] == 2 and body["latest_risk"] == "low"


# Images --------------------------------------------------------------------------------


def upload(api, lesion, content: bytes, name: str = "visit.jpg", **fields):
    return api.post(
        "/api/v1/images/",
        {"lesion": lesion.pk, "file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


def test_upload_answers_201_with_the_image_and_its_queued_prediction(
    clinician, api_client_for, model_version, django_capture_on_commit_callbacks
):
    lesion = LesionFactory(patient__owner=clinician)
    api = api_client_for(clinician)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(api, lesion, images.jpeg(320, 240), captured_on="2026-03-02", modality="clinical close-up")
    assert response.status_code == 201, response.json()
    body = response.json()
    image = LesionImage.objects.get(pk=body["id"])
    assert response["Location"].endswith(f"/api/v1/images/{image.pk}/")
    assert (body["lesion"], body["width"], body["height"]) == (lesion.pk, 320, 240)
    assert body["captured_on"] == "2026-03-02" and body["modality"] == "clinical close-up"
    assert body["sha256"] == image.sha256 and body["uploaded_by"]["id"] == clinician.pk
    assert body["file_url"] == f"http://testserver/api/v1/images/{image.pk}/file/"
    prediction = image.predictions.get()
    assert body["current_prediction"]["id"] == prediction.pk
    assert body["current_prediction"]["status"] == "queued" and body["current_prediction"]["probabilities"] is None
    assert len(callbacks) == 2  # the prediction and measurement tasks are sent once the upload has committed

    downloaded = api.get(body["file_url"])
    assert downloaded.status_code == 200 and downloaded["Content-Type"] == "image/jpeg"
    assert b"".join(downloaded.streaming_content) == image.file.open("rb").read()
    assert api.get(f"/api/v1/images/{image.pk}/thumbnail/").status_code == 200


def test_without_an_active_model_the_upload_answers_201_with_no_prediction(clinician, api_client_for):
    lesion = LesionFactory(patient__owner=clinician)
    response = upload(api_client_for(clinician), lesion, images.jpeg(320, 240))
    assert response.status_code == 201, response.json()
    assert response.json()["current_prediction"] is None
    assert not Prediction.objects.exists()


def test_an_upload_with_a_token_uses_a_fixed_number_of_queries(
    clinician, model_version, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """The load target (bench/load.py) depends on it: token, role, lesion, lock, duplicate check,
    image + its history, active model, prediction + its history (and savepoints), the prediction
    read back for the answer."""
    from rest_framework.test import APIClient

    from accounts.models import ApiToken

    lesion = LesionFactory(patient__owner=clinician)
    _, token = ApiToken.objects.create(user=clinician, expiry=datetime.timedelta(days=1), name="bench")
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    with django_capture_on_commit_callbacks(execute=False), django_assert_max_num_queries(15):
        response = upload(api, lesion, images.jpeg(320, 240))
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (images.text_file(), 415, "unsupported_image_type"),
        (images.gif(), 415, "unsupported_image_type"),
        (b"", 400, "invalid"),
        (images.truncated_jpeg(), 400, "invalid"),
        (images.png_claiming_size(50_000, 50_000), 400, "invalid"),
    ],
)
def test_bad_uploads_are_refused_with_the_uis_message_and_store_nothing(
    clinician, api_client_for, model_version, settings, content, status, code
):
    lesion = LesionFactory(patient__owner=clinician)
    response = upload(api_client_for(clinician), lesion, content, name="bad.jpg")
    assert response.status_code == status
    error = response.json()["errors"][0]
    assert error["code"] == code and error["detail"].startswith("bad.jpg: ")
    assert not LesionImage.objects.exists() and not Prediction.objects.exists()
    assert stored_files(settings) == []


def test_an_upload_over_the_size_limit_is_413(clinician, api_client_for, model_version, settings):
    settings.SKINPORTAL_MAX_UPLOAD_BYTES = 1000
    lesion = LesionFactory(patient__owner=clinician)
    response = upload(api_client_for(clinician), lesion, images.jpeg(400, 300), name="big.jpg")
    assert response.status_code == 413
    assert response.json()["errors"][0]["detail"].startswith("big.jpg: the file is")
    assert not LesionImage.objects.exists() and stored_files(settings) == []


def test_the_same_pixels_twice_is_a_409_naming_the_stored_image(clinician, api_client_for, model_version):
    lesion = LesionFactory(patient__owner=clinician)
    api = api_client_for(clinician)
    first = upload(api, lesion, images.jpeg(seed=3)).json()
    again = upload(api, lesion, images.jpeg(seed=3), name="again.jpg")
    assert again.status_code == 409
    detail = again.json()["errors"][0]["detail"]
    assert detail.startswith("again.jpg: the same pixels are already stored") and str(first["id"]) in detail
    assert LesionImage.objects.count() == 1


def test_uploads_are_json_or_multipart_only(clinician, api_client_for):
    lesion = LesionFactory(patient__owner=clinician)
    response = api_client_for(clinician).post(
        "/api/v1/images/", b"<xml/>", content_type="application/xml", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 415
    assert response.json()["type"] == "client_error"
    missing = api_client_for(clinician).post("/api/v1/images/", {"lesion": lesion.pk}, format="multipart")
    assert missing.status_code == 400 and missing.json()["errors"][0]["attr"] == "file"


def test_another_clinicians_images_are_404(clinician, other_clinician, api_client_for, model_version):
    image = LesionImageFactory(lesion__patient__owner=other_clinician)
    api = api_client_for(clinician)
    assert api.get("/api/v1/images/").json()["count"] == 0
    for url in ("", "file/", "thumbnail/"):
        assert api.get(f"/api/v1/images/{image.pk}/{url}").status_code == 404
    assert api.post(f"/api/v1/images/{image.pk}/predict/").status_code == 404
    response = upload(api, image.lesion, images.jpeg())
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "lesion"
    assert LesionImage.objects.count() == 1


def test_image_filters(clinician, api_client_for):
    lesion = LesionFactory(patient__owner=clinician)
    other_lesion = LesionFactory(patient__owner=clinician)
    early = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2025, 5, 1))
    late = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2026, 5, 1))
    LesionImageFactory(lesion=other_lesion)
    api = api_client_for(clinician)
    ids = [i["id"] for i in api.get(f"/api/v1/images/?lesion={lesion.pk}").json()["results"]]
    assert ids == [late.pk, early.pk]
    ids = [i["id"] for i in api.get(f"/api/v1/images/?lesion={lesion.pk}&captured_before=2025-12-31").json()["results"]]
    assert ids == [early.pk]


def test_list_endpoints_use_a_constant_number_of_queries(
    clinician, other_clinician, api_client_for, django_assert_max_num_queries
):
    api = api_client_for(clinician)
    model_version = ModelVersionFactory(is_active=True)

    def populate(count: int) -> None:
        for _ in range(count):
            patient = PatientFactory(owner=clinician)
            PatientShareFactory(patient=patient, clinician=other_clinician)
            image = LesionImageFactory(lesion__patient=patient)
            PredictionFactory(image=image, model_version=model_version)

    populate(2)
    counts = {}
    for url in ("/api/v1/patients/", "/api/v1/lesions/", "/api/v1/images/", "/api/v1/predictions/"):
        with django_assert_max_num_queries(10) as small:
            assert api.get(url + "?page_size=100").status_code == 200
        counts[url] = len(small.captured_queries)
    populate(20)
    for url, count in counts.items():
        with django_assert_max_num_queries(count) as large:
            body = api.get(url + "?page_size=100").json()
        assert body["count"] == 22, url
        assert len(large.captured_queries) == count, url


def test_a_shared_clinicians_delete_of_a_patient_names_deletion_not_sharing(clinician, other_clinician, api_client_for):
    from ..factories import PatientFactory, PatientShareFactory

    patient = PatientFactory(owner=clinician)
    PatientShareFactory(patient=patient, clinician=other_clinician)
    response = api_client_for(other_clinician).delete(f"/api/v1/patients/{patient.pk}/")
    assert response.status_code == 403
    detail = response.json()["errors"][0]["detail"]
    assert "delete" in detail and "shared" not in detail
