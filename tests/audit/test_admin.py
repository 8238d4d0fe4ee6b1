"""The access log in the admin: read only, filtered, exported as CSV (and the export logged)."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from audit import services
from audit.models import AccessLog, Action, Channel, ObjectType
from audit.selectors import CSV_COLUMNS

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:audit_accesslog_changelist")
EXPORT = reverse("admin:audit_accesslog_export")


def _csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="access-log-')
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == CSV_COLUMNS
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]


@pytest.fixture
def entries(clinician, other_clinician):
    return [
        services.access_log_record(
            action=Action.VIEW, user=clinician, object_type=ObjectType.PATIENT, object_id=3, patient_id=3
        ),
        services.access_log_record(
            action=Action.DOWNLOAD, user=clinician, object_type=ObjectType.IMAGE, object_id=8, patient_id=3
        ),
        services.access_log_record(
            action=Action.VIEW, user=other_clinician, object_type=ObjectType.LESION, object_id=5, patient_id=4
        ),
        services.access_log_record(action=Action.LOGIN_FAILED, username='=HYPERLINK("http://evil")'),
    ]


def test_admins_list_and_filter_the_log(admin_client_, entries):
    response = admin_client_.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Export all matching as CSV" in page and "Add access log entry" not in page
    assert "delete_selected" not in page
    response = admin_client_.get(CHANGELIST, {"action__exact": "view"})
    assert {entry.pk for entry in response.context["cl"].result_list} == {entries[0].pk, entries[2].pk}
    response = admin_client_.get(CHANGELIST, {"patient_id": "3"})  # the patient column links here
    assert {entry.pk for entry in response.context["cl"].result_list} == {entries[0].pk, entries[1].pk}
    response = admin_client_.get(CHANGELIST, {"q": "olga"})
    assert [entry.pk for entry in response.context["cl"].result_list] == [entries[2].pk]


def test_clinicians_do_not_see_the_log(clinician_client, entries):
    assert clinician_client.get(CHANGELIST).status_code == 302  # to the admin login
    assert clinician_client.get(EXPORT).status_code == 302
    assert not AccessLog.objects.filter(action=Action.EXPORT).exists()


def test_the_admin_cannot_add_change_or_delete_a_row(admin_client_, entries):
    entry = entries[0]
    count = AccessLog.objects.count()
    assert admin_client_.get(reverse("admin:audit_accesslog_add")).status_code == 403
    change_url = reverse("admin:audit_accesslog_change", args=[entry.pk])
    page = admin_client_.get(change_url)
    assert page.status_code == 200 and not page.context["has_change_permission"]  # view only
    assert admin_client_.post(change_url, {"action": "export", "username": "x"}).status_code == 403
    delete_url = reverse("admin:audit_accesslog_delete", args=[entry.pk])
    assert admin_client_.post(delete_url, {"post": "yes"}).status_code == 403
    response = admin_client_.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert response.status_code == 302  # "no action selected": the action does not exist
    assert AccessLog.objects.filter(pk=entry.pk, action=Action.VIEW, username="dana").exists()
    # Nothing changed or went; the two refused writes (change, delete) are rows of their own.
    added = AccessLog.objects.order_by("pk")[count:]
    assert [(row.action, row.method, row.status_code) for row in added] == [(Action.DENIED, "POST", 403)] * 2


def test_export_all_matching_exports_the_filtered_rows_and_is_logged(admin_user, admin_client_, entries):
    rows = _csv(admin_client_.get(EXPORT, {"action__exact": "view"}, REMOTE_ADDR="198.51.100.7"))
    assert [row["id"] for row in rows] == [str(entries[2].pk), str(entries[0].pk)]  # newest first
    assert rows[1] | {"created_at": ""} == {
        "id": str(entries[0].pk),
        "created_at": "",
        "user_id": str(entries[0].user_id),
        "username": "dana",
        "action": "view",
        "object_type": "patient",
        "object_id": "3",
        "patient_id": "3",
        "patient_ids": "",
        "channel": "",
        "method": "",
        "path": "",
        "status_code": "",
        "ip": "",
        "user_agent": "",
        "detail": "",
    }
    assert rows[1]["created_at"] == entries[0].created_at.isoformat()

    export = AccessLog.objects.get(action=Action.EXPORT)
    assert (export.user, export.object_type, export.channel, export.ip, export.detail) == (
        admin_user,
        ObjectType.ACCESS_LOG,
        Channel.ADMIN,
        "198.51.100.7",
        "2 rows",
    )
    assert export.path == f"{EXPORT}?action__exact=view"  # what was exported


def test_the_export_action_exports_the_selected_rows(admin_client_, entries):
    selected = [entries[1].pk, entries[3].pk]
    response = admin_client_.post(CHANGELIST, {"action": "export_selected", "_selected_action": selected})
    rows = _csv(response)
    assert [row["id"] for row in rows] == [str(entries[3].pk), str(entries[1].pk)]
    # A name typed at a failed login is data, never a spreadsheet formula.
    assert rows[0]["username"] == '\'=HYPERLINK("http://evil")'
    assert AccessLog.objects.get(action=Action.EXPORT).detail == "2 rows"


def test_an_export_does_not_contain_itself(admin_client_, entries):
    count = AccessLog.objects.count()
    first = _csv(admin_client_.get(EXPORT))
    assert len(first) == count and "export" not in [row["action"] for row in first]
    second = _csv(admin_client_.get(EXPORT))
    assert len(second) == count + 1 and second[0]["action"] == "export"
