"""What the access log records: every view of a patient record, image or heatmap (web UI, API,
admin, files), denied attempts, logins, failed logins, logouts and API tokens created."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AccessLog, Action, Channel, ObjectType
from audit.selectors import client_ip
from cases import services as case_services

from ..factories import LesionImageFactory, PatientFactory, PredictionFactory
from .conftest import log_rows

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.7"

# (URL name, its id argument, the object it shows, action, object type)
WEB_VIEWS = [
    ("cases:patient-detail", "pk", "patient", Action.VIEW, ObjectType.PATIENT),
    ("cases:lesion-detail", "pk", "lesion", Action.VIEW, ObjectType.LESION),
    ("cases:image-detail", "pk", "image", Action.VIEW, ObjectType.IMAGE),
    ("cases:image-file", "pk", "image", Action.DOWNLOAD, ObjectType.IMAGE),
    ("cases:image-thumbnail", "pk", "image", Action.DOWNLOAD, ObjectType.IMAGE),
    ("inference:image-analysis", "image_pk", "image", Action.VIEW, ObjectType.IMAGE),
    ("inference:prediction-heatmap", "pk", "prediction", Action.HEATMAP, ObjectType.PREDICTION),
    ("interop:patient-report", "pk", "patient", Action.EXPORT, ObjectType.PATIENT),
    ("interop:lesion-report", "pk", "lesion", Action.EXPORT, ObjectType.LESION),
    ("interop:visit-dicom", "pk", "lesion", Action.EXPORT, ObjectType.LESION),
    ("interop:image-dicom", "pk", "image", Action.EXPORT, ObjectType.IMAGE),
]
API_VIEWS = [
    ("api:patient-detail", "pk", "patient", Action.VIEW, ObjectType.PATIENT),
    ("api:lesion-detail", "pk", "lesion", Action.VIEW, ObjectType.LESION),
    ("api:image-detail", "pk", "image", Action.VIEW, ObjectType.IMAGE),
    ("api:image-file", "pk", "image", Action.DOWNLOAD, ObjectType.IMAGE),
    ("api:image-thumbnail", "pk", "image", Action.DOWNLOAD, ObjectType.IMAGE),
    ("api:prediction-detail", "pk", "prediction", Action.VIEW, ObjectType.PREDICTION),
    ("api:prediction-heatmap", "pk", "prediction", Action.HEATMAP, ObjectType.PREDICTION),
    ("api:patient-report", "pk", "patient", Action.EXPORT, ObjectType.PATIENT),
    ("api:patient-fhir", "pk", "patient", Action.EXPORT, ObjectType.PATIENT),
    ("api:lesion-report", "pk", "lesion", Action.EXPORT, ObjectType.LESION),
    ("api:lesion-dicom", "pk", "lesion", Action.EXPORT, ObjectType.LESION),
    ("api:image-dicom", "pk", "image", Action.EXPORT, ObjectType.IMAGE),
]
ADMIN_VIEWS = [
    ("admin:cases_patient_change", "object_id", "patient", Action.VIEW, ObjectType.PATIENT),
    ("admin:cases_lesion_change", "object_id", "lesion", Action.VIEW, ObjectType.LESION),
    ("admin:cases_lesionimage_change", "object_id", "image", Action.VIEW, ObjectType.IMAGE),
    ("admin:inference_prediction_change", "object_id", "prediction", Action.VIEW, ObjectType.PREDICTION),
]


def _assert_one_row(*, user, channel, url, action, object_type, target, patient) -> AccessLog:
    rows = log_rows()
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row.user, row.username, row.action, row.object_type) == (user, user.username, action, object_type)
    assert (row.object_id, row.patient_id) == (target.pk, patient.pk)
    assert (row.channel, row.method, row.path, row.status_code, row.ip) == (channel, "GET", url, 200, ADDRESS)
    return row


@pytest.mark.parametrize(("url_name", "kwarg", "target", "action", "object_type"), WEB_VIEWS)
def test_a_web_page_or_file_is_logged(
    clinician, clinician_client, record, url_name, kwarg, target, action, object_type
):
    target = getattr(record, target)
    url = reverse(url_name, kwargs={kwarg: target.pk})
    response = clinician_client.get(url, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 200
    _assert_one_row(
        user=clinician,
        channel=Channel.WEB,
        url=url,
        action=action,
        object_type=object_type,
        target=target,
        patient=record.patient,
    )


@pytest.mark.parametrize(("url_name", "kwarg", "target", "action", "object_type"), API_VIEWS)
def test_an_api_read_with_a_token_is_logged_as_the_token_user(
    clinician, token_client, record, url_name, kwarg, target, action, object_type
):
    # DRF authenticates the token inside the view; the row must still name its user.
    target = getattr(record, target)
    url = reverse(url_name, kwargs={kwarg: target.pk})
    response = token_client(clinician).get(url, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 200
    _assert_one_row(
        user=clinician,
        channel=Channel.API,
        url=url,
        action=action,
        object_type=object_type,
        target=target,
        patient=record.patient,
    )


@pytest.mark.parametrize(("url_name", "kwarg", "target", "action", "object_type"), ADMIN_VIEWS)
def test_an_admin_change_page_is_logged(
    admin_user, admin_client_, record, url_name, kwarg, target, action, object_type
):
    target = getattr(record, target)
    url = reverse(url_name, kwargs={kwarg: target.pk})
    response = admin_client_.get(url, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 200
    _assert_one_row(
        user=admin_user,
        channel=Channel.ADMIN,
        url=url,
        action=action,
        object_type=object_type,
        target=target,
        patient=record.patient,
    )


def test_a_session_api_request_and_a_heatmap_for_another_class_are_logged(clinician, api_client_for, record):
    url = f"/api/v1/predictions/{record.prediction.pk}/heatmap/?class=MEL&opacity=0.5"
    assert api_client_for(clinician).get(url).status_code == 200
    [row] = log_rows()
    assert (row.user, row.action, row.object_id, row.patient_id) == (
        clinician,
        Action.HEATMAP,
        record.prediction.pk,
        record.patient.pk,
    )
    assert row.path == url  # the class and opacity shown


def test_an_attempt_outside_the_access_rule_is_logged_as_denied(
    clinician, other_clinician, other_client, token_client, record
):
    assert other_client.get(reverse("cases:patient-detail", args=[record.patient.pk])).status_code == 404
    assert token_client(other_clinician).get(f"/api/v1/images/{record.image.pk}/file/").status_code == 404
    assert other_client.get(reverse("cases:image-detail", args=[999_999])).status_code == 404

    rows = log_rows()
    assert [(row.user, row.action, row.status_code, row.channel) for row in rows] == [
        (other_clinician, Action.DENIED, 404, Channel.WEB),
        (other_clinician, Action.DENIED, 404, Channel.API),
        (other_clinician, Action.DENIED, 404, Channel.WEB),
    ]
    assert [(row.object_type, row.object_id, row.patient_id) for row in rows] == [
        (ObjectType.PATIENT, record.patient.pk, record.patient.pk),
        (ObjectType.IMAGE, record.image.pk, record.patient.pk),
        (ObjectType.IMAGE, 999_999, None),  # no such image: no patient
    ]
    # Nothing was shown: no row says "view" or "download".
    assert not log_rows(action__in=[Action.VIEW, Action.DOWNLOAD])


def test_anonymous_requests_writes_and_failures_are_not_logged(clinician, api_client_for, record):
    patient_url = reverse("cases:patient-detail", args=[record.patient.pk])
    assert Client().get(patient_url).status_code == 302  # to the login page
    assert APIClient().get(f"/api/v1/patients/{record.patient.pk}/").status_code == 401
    api = api_client_for(clinician)
    response = api.patch(f"/api/v1/lesions/{record.lesion.pk}/", {"label": "renamed"}, format="json")
    assert response.status_code == 200  # a change is in the change history, not the access log
    queued = PredictionFactory(image=record.image, model_version=record.prediction.model_version)
    assert api.get(f"/api/v1/predictions/{queued.pk}/heatmap/").status_code == 409  # nothing shown
    assert AccessLog.objects.exclude(action=Action.LOGIN).count() == 0


def test_deleting_a_patient_leaves_its_log(clinician, clinician_client, record):
    clinician_client.get(reverse("cases:patient-detail", args=[record.patient.pk]))
    patient_pk = record.patient.pk
    case_services.patient_delete(patient=record.patient, actor=clinician)
    [row] = log_rows()
    assert (row.object_type, row.object_id, row.patient_id) == (ObjectType.PATIENT, patient_pk, patient_pk)


def test_the_client_address_trusts_x_forwarded_for_only_as_deep_as_the_proxies(settings):
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.66, 198.51.100.9")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    assert client_ip(request=request) == "10.0.0.2"  # the header is ignored: anyone can send it
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_ip(request=request) == "198.51.100.9"  # what the one trusted proxy saw
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}
    assert client_ip(request=request) == "203.0.113.66"
    assert client_ip(request=factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")) is None


def test_a_logged_view_behind_a_proxy_records_the_forwarded_address(clinician, clinician_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    patient = PatientFactory(owner=clinician)
    clinician_client.get(
        reverse("cases:patient-detail", args=[patient.pk]), REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ADDRESS
    )
    assert [row.ip for row in log_rows()] == [ADDRESS]


def test_login_failed_login_and_logout_are_logged(clinician):
    client = Client(HTTP_USER_AGENT="Firefox/140.0")
    response = client.post(
        reverse("login"), {"username": "dana", "password": "not-her-password-42"}, REMOTE_ADDR=ADDRESS
    )
    assert response.status_code == 200  # the form again
    response = client.post(
        reverse("login"), {"username": "dana", "password": "correct-horse-battery"}, REMOTE_ADDR=ADDRESS
    )
    assert response.status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR=ADDRESS)

    rows = list(AccessLog.objects.order_by("pk"))
    assert [(row.action, row.user, row.username) for row in rows] == [
        (Action.LOGIN_FAILED, None, "dana"),
        (Action.LOGIN, clinician, "dana"),
        (Action.LOGOUT, clinician, "dana"),
    ]
    assert {(row.channel, row.method, row.ip, row.user_agent) for row in rows} == {
        (Channel.WEB, "POST", ADDRESS, "Firefox/140.0")
    }
    assert rows[0].path == reverse("login")
    # The password typed is nowhere in the log.
    for values in AccessLog.objects.values():
        assert not any("not-her-password" in str(value) for value in values.values())


def test_a_failed_login_of_an_unknown_user_keeps_the_name_typed(db):
    Client().post(reverse("login"), {"username": "mallory", "password": "guess"}, REMOTE_ADDR=ADDRESS)
    [row] = AccessLog.objects.all()
    assert (row.action, row.user, row.username, row.ip) == (Action.LOGIN_FAILED, None, "mallory", ADDRESS)


def test_api_tokens_created_and_wrong_passwords_are_logged(clinician):
    client = APIClient()
    wrong = client.post(
        "/api/v1/auth/token/", {"username": "dana", "password": "guess-1234"}, format="json", REMOTE_ADDR=ADDRESS
    )
    assert wrong.status_code == 401
    created = client.post(
        "/api/v1/auth/token/",
        {"username": "dana", "password": "correct-horse-battery", "name": "EHR"},
        format="json",
        REMOTE_ADDR=ADDRESS,
    )
    assert created.status_code == 201

    rows = list(AccessLog.objects.order_by("pk"))
    assert [(row.action, row.user, row.username, row.channel, row.ip) for row in rows] == [
        (Action.LOGIN_FAILED, None, "dana", Channel.API, ADDRESS),
        (Action.TOKEN_CREATED, clinician, "dana", Channel.API, ADDRESS),  # a token is not a login
    ]
    token_row = rows[1]
    assert (token_row.object_type, token_row.status_code, token_row.method) == (ObjectType.API_TOKEN, 201, "POST")
    assert token_row.detail == f"{created.json()['token'][:15]}… (EHR)"
    assert created.json()["token"] not in str(list(AccessLog.objects.values()))  # only knox's public prefix


def test_a_token_request_for_another_user_is_not_mixed_up(clinician, other_clinician):
    # The row names the token's owner, not whoever is logged in on the same client.
    client = APIClient()
    client.force_login(other_clinician)
    response = client.post(
        "/api/v1/auth/token/", {"username": "dana", "password": "correct-horse-battery"}, format="json"
    )
    assert response.status_code == 201
    [row] = log_rows()
    assert (row.action, row.user) == (Action.TOKEN_CREATED, clinician)


def test_a_file_served_as_a_redirect_to_s3_is_logged(clinician, clinician_client, settings, monkeypatch):
    # With S3 storage a file view answers 302 to a signed URL: that is the file handed out.
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        boto3.client("s3", region_name="eu-central-1").create_bucket(
            Bucket="audit-test", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "audit-test", "region_name": "eu-central-1", "default_acl": "private"},
            },
        }
        image = LesionImageFactory(lesion__patient__owner=clinician)
        response = clinician_client.get(reverse("cases:image-file", args=[image.pk]))
    assert response.status_code == 302 and "audit-test" in response["Location"]
    [row] = log_rows()
    assert (row.action, row.object_id, row.patient_id, row.status_code) == (
        Action.DOWNLOAD,
        image.pk,
        image.lesion.patient_id,
        302,
    )
