"""``/api/v1/audit-log/``: admins only, filtered, paginated, and exported as CSV."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from audit.models import AccessLog, Action, Channel, ObjectType
from audit.selectors import CSV_COLUMNS

pytestmark = pytest.mark.django_db

LIST = "/api/v1/audit-log/"
EXPORT = "/api/v1/audit-log/export/"
NOON = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def entries(clinician, other_clinician):
    def add(hours: int, **values) -> AccessLog:
        return AccessLog.objects.create(created_at=NOON + datetime.timedelta(hours=hours), **values)

    return {
        "patient": add(
            -30,
            user=clinician,
            username="dana",
            action=Action.VIEW,
            object_type=ObjectType.PATIENT,
            object_id=3,
            patient_id=3,
            channel=Channel.WEB,
        ),
        "image": add(
            -1,
            user=clinician,
            username="dana",
            action=Action.DOWNLOAD,
            object_type=ObjectType.IMAGE,
            object_id=8,
            patient_id=3,
            channel=Channel.API,
        ),
        "lesion": add(
            1,
            user=other_clinician,
            username="olga",
            action=Action.VIEW,
            object_type=ObjectType.LESION,
            object_id=5,
            patient_id=4,
            channel=Channel.ADMIN,
        ),
        "failed": add(30, username="mallory", action=Action.LOGIN_FAILED, channel=Channel.WEB),
    }


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_admins_list_the_log_newest_first(admin_user, api_client_for, entries):
    response = api_client_for(admin_user).get(LIST, {"created_before": "2026-11-30"})
    assert _ids(response) == [entries[name].pk for name in ("failed", "lesion", "image", "patient")]
    assert response.json()["count"] == 4
    row = response.json()["results"][2]
    assert row == {
        "id": entries["image"].pk,
        "created_at": "2026-11-20T11:00:00Z",
        "user": entries["image"].user_id,
        "username": "dana",
        "action": "download",
        "object_type": "image",
        "object_id": 8,
        "patient": 3,
        "patients": [],
        "channel": "api",
        "method": "",
        "path": "",
        "status_code": None,
        "ip": None,
        "user_agent": "",
        "detail": "",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"patient": 3}, ["image", "patient"]),
        ({"action": "view"}, ["lesion", "patient"]),
        ({"object_type": "lesion", "object_id": 5}, ["lesion"]),
        ({"channel": "api"}, ["image"]),
        ({"username": "mallory"}, ["failed"]),
        ({"created_after": "2026-11-20", "created_before": "2026-11-20"}, ["lesion", "image"]),  # whole days
        ({"created_after": "2026-11-20T12:00:00Z"}, ["failed", "lesion"]),
        ({"created_before": "2026-11-20T10:59:59Z"}, ["patient"]),
        ({"patient": 3, "ordering": "created_at"}, ["patient", "image"]),
    ],
)
def test_admins_filter_the_log(admin_user, api_client_for, entries, query, expected):
    assert _ids(api_client_for(admin_user).get(LIST, query)) == [entries[name].pk for name in expected]


def test_filter_by_user(admin_user, other_clinician, api_client_for, entries):
    assert _ids(api_client_for(admin_user).get(LIST, {"user": other_clinician.pk})) == [entries["lesion"].pk]


def test_a_bad_filter_value_is_a_400_naming_it(admin_user, api_client_for, entries):
    response = api_client_for(admin_user).get(LIST, {"created_after": "yesterday"})
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "created_after"
    response = api_client_for(admin_user).get(LIST, {"action": "edit"})
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "action"


def test_clinicians_get_403_and_anonymous_clients_401(clinician, api_client_for, entries):
    for url in (LIST, EXPORT):
        response = api_client_for(clinician).get(url)
        assert response.status_code == 403 and response.json()["errors"][0]["code"] == "permission_denied"
        response = api_client_for(None).get(url)
        assert response.status_code == 401 and response.json()["errors"][0]["code"] == "not_authenticated"
    assert not AccessLog.objects.filter(action=Action.EXPORT).exists()


def test_the_csv_export_holds_the_filtered_rows_and_is_logged(admin_user, api_client_for, entries):
    response = api_client_for(admin_user).get(EXPORT, {"patient": 3}, HTTP_ACCEPT="text/csv", REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == CSV_COLUMNS
    assert [(row[0], row[4], row[7]) for row in rows[1:]] == [
        (str(entries["image"].pk), "download", "3"),
        (str(entries["patient"].pk), "view", "3"),
    ]
    export = AccessLog.objects.get(action=Action.EXPORT)
    assert (export.user, export.channel, export.object_type, export.ip, export.detail, export.path) == (
        admin_user,
        Channel.API,
        ObjectType.ACCESS_LOG,
        "192.0.2.1",
        "2 rows",
        f"{EXPORT}?patient=3",
    )


def test_the_log_is_read_only_over_the_api(admin_user, api_client_for, entries):
    api = api_client_for(admin_user)
    assert api.post(LIST, {"action": "view"}, format="json").status_code == 405
    assert api.delete(f"{LIST}{entries['patient'].pk}/").status_code == 404  # no such URL
    assert AccessLog.objects.filter(pk=entries["patient"].pk).exists()
