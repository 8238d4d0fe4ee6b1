"""One's own notifications over the API: list, read, read all; anyone else's is a 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from notifications.models import Notification

from ..factories import NotificationFactory

pytestmark = pytest.mark.django_db


def test_the_list_has_ones_own_newest_first(clinician, other_clinician, api_client_for):
    older = NotificationFactory(recipient=clinician, title="Older")
    newer = NotificationFactory(recipient=clinician, title="Newer", lesion=None)
    NotificationFactory(recipient=other_clinician)
    body = api_client_for(clinician).get("/api/v1/notifications/").json()
    assert body["count"] == 2 and [item["id"] for item in body["results"]] == [newer.pk, older.pk]
    assert body["results"][0] == {
        "id": newer.pk,
        "kind": "high_risk",
        "title": "Newer",
        "body": newer.body,
        "url": newer.url,
        "lesion": None,
        "created_at": body["results"][0]["created_at"],
        "read_at": None,
    }


def test_the_list_filters_unread_and_is_paginated(clinician, api_client_for):
    api = api_client_for(clinician)
    read, unread = NotificationFactory(recipient=clinician), NotificationFactory(recipient=clinician)
    api.post(f"/api/v1/notifications/{read.pk}/read/")
    assert [item["id"] for item in api.get("/api/v1/notifications/?unread=true").json()["results"]] == [unread.pk]
    assert [item["id"] for item in api.get("/api/v1/notifications/?unread=false").json()["results"]] == [read.pk]
    page = api.get("/api/v1/notifications/?page_size=1&page=2").json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["previous"]
    # As model-versions' is_active: a value that is not a boolean filters nothing.
    assert api.get("/api/v1/notifications/?unread=maybe").json()["count"] == 2


def test_read_marks_one_read(clinician, api_client_for):
    notification = NotificationFactory(recipient=clinician)
    response = api_client_for(clinician).post(f"/api/v1/notifications/{notification.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"] is not None
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_read_all_marks_ones_own(clinician, other_clinician, api_client_for):
    NotificationFactory(recipient=clinician)
    NotificationFactory(recipient=clinician)
    NotificationFactory(recipient=other_clinician)
    api = api_client_for(clinician)
    assert api.post("/api/v1/notifications/read-all/").json() == {"marked_read": 2}
    assert api.post("/api/v1/notifications/read-all/").json() == {"marked_read": 0}
    assert Notification.objects.filter(recipient=other_clinician, read_at__isnull=True).count() == 1


def test_anothers_notification_is_not_found(clinician, admin_user, api_client_for):
    notification = NotificationFactory(recipient=clinician)
    for user in (admin_user,):  # not even an admin's: notifications are personal
        api = api_client_for(user)
        assert api.get(f"/api/v1/notifications/{notification.pk}/").status_code == 404
        response = api.post(f"/api/v1/notifications/{notification.pk}/read/")
        assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"
        assert api.get("/api/v1/notifications/").json()["count"] == 0
    notification.refresh_from_db()
    assert notification.read_at is None


def test_anonymous_clients_get_401(clinician):
    notification = NotificationFactory(recipient=clinician)
    client = APIClient()
    for method, url in (
        ("get", "/api/v1/notifications/"),
        ("get", f"/api/v1/notifications/{notification.pk}/"),
        ("post", f"/api/v1/notifications/{notification.pk}/read/"),
        ("post", "/api/v1/notifications/read-all/"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert response.json()["errors"][0]["code"] == "not_authenticated"


def test_the_schema_describes_the_endpoints(clinician, api_client_for):
    paths = api_client_for(clinician).get("/api/schema/?format=json").json()["paths"]
    assert {"get"} <= set(paths["/api/v1/notifications/"])
    assert "unread" in {parameter["name"] for parameter in paths["/api/v1/notifications/"]["get"]["parameters"]}
    assert set(paths["/api/v1/notifications/{id}/read/"]) == {"post"}
    assert set(paths["/api/v1/notifications/read-all/"]) == {"post"}
    read_all = paths["/api/v1/notifications/read-all/"]["post"]
    assert "requestBody" not in read_all
    assert read_all["responses"]["200"]["content"]["application/json"]["examples"]
