"""The notifications page, its actions and the unread count in the header."""

from __future__ import annotations

import copy

import pytest
from django.test import Client, RequestFactory

from notifications.context_processors import unread_count
from notifications.models import Notification

from ..factories import NotificationFactory

pytestmark = pytest.mark.django_db

CONTEXT_PROCESSOR = "notifications.context_processors.unread_count"


@pytest.fixture
def with_unread_count(settings):
    templates = copy.deepcopy(settings.TEMPLATES)
    processors = templates[0]["OPTIONS"]["context_processors"]
    if CONTEXT_PROCESSOR not in processors:
        processors.append(CONTEXT_PROCESSOR)
    settings.TEMPLATES = templates


def test_the_list_shows_ones_own_newest_first(clinician, other_clinician, clinician_client):
    NotificationFactory(recipient=clinician, title="Older one")
    NotificationFactory(recipient=clinician, title="Newer one")
    NotificationFactory(recipient=other_clinician, title="Olga's result")
    page = clinician_client.get("/notifications/").content.decode()
    assert page.index("Newer one") < page.index("Older one")
    assert "Olga" not in page
    assert page.count('class="notification unread"') == 2 and "Mark all read" in page


def test_the_list_is_paginated(clinician, clinician_client):
    for number in range(30):
        NotificationFactory(recipient=clinician, title=f"Result {number:02d}")
    first = clinician_client.get("/notifications/").content.decode()
    assert "Result 29" in first and "Result 04" not in first and "Page 1 of 2" in first
    assert "Result 04" in clinician_client.get("/notifications/?page=2").content.decode()


def test_opening_marks_read_and_goes_to_the_page(clinician, clinician_client):
    notification = NotificationFactory(recipient=clinician, url="/lesions/7/")
    assert clinician_client.get(f"/notifications/{notification.pk}/open/").status_code == 405
    response = clinician_client.post(f"/notifications/{notification.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "/lesions/7/"
    notification.refresh_from_db()
    assert notification.read_at is not None
    page = clinician_client.get("/notifications/").content.decode()
    assert 'class="notification unread"' not in page and "Mark all read" not in page


def test_anothers_notification_is_not_found(clinician, other_client):
    notification = NotificationFactory(recipient=clinician)
    assert other_client.post(f"/notifications/{notification.pk}/open/").status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read(clinician, other_clinician, clinician_client):
    NotificationFactory(recipient=clinician)
    NotificationFactory(recipient=clinician)
    NotificationFactory(recipient=other_clinician)
    response = clinician_client.post("/notifications/read-all/", follow=True)
    assert response.redirect_chain == [("/notifications/", 302)]
    assert "2 notifications marked read." in response.content.decode()
    assert not Notification.objects.filter(recipient=clinician, read_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=other_clinician, read_at__isnull=True).count() == 1


def test_actions_need_the_csrf_token(clinician):
    notification = NotificationFactory(recipient=clinician)
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    assert client.post(f"/notifications/{notification.pk}/open/").status_code == 403
    assert client.post("/notifications/read-all/").status_code == 403
    notification.refresh_from_db()
    assert notification.read_at is None


def test_anonymous_users_are_sent_to_log_in(clinician):
    notification = NotificationFactory(recipient=clinician)
    for response in (
        Client().get("/notifications/"),
        Client().post(f"/notifications/{notification.pk}/open/"),
        Client().post("/notifications/read-all/"),
    ):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_header_shows_the_unread_count(clinician, clinician_client, with_unread_count):
    page = clinician_client.get("/notifications/").content.decode()
    assert 'href="/notifications/">Notifications</a>' in page  # no badge at zero
    NotificationFactory(recipient=clinician)
    NotificationFactory(recipient=clinician)
    read = NotificationFactory(recipient=clinician)
    clinician_client.post(f"/notifications/{read.pk}/open/")
    page = clinician_client.get("/").content.decode()
    assert '<span class="badge badge-unread">2<span class="visually-hidden"> unread</span></span>' in page


def test_the_unread_count_is_one_query_and_only_when_shown(clinician, django_assert_num_queries):
    NotificationFactory(recipient=clinician)
    request = RequestFactory().get("/")
    request.user = clinician
    with django_assert_num_queries(0):
        context = unread_count(request)
    with django_assert_num_queries(1):
        assert bool(context["unread_notifications"]) and str(context["unread_notifications"]) == "1"
    request.user = type("Anonymous", (), {"is_authenticated": False})()
    assert unread_count(request) == {}


def test_the_admin_lists_notifications_read_only(clinician, admin_client_, clinician_client):
    notification = NotificationFactory(recipient=clinician, title="High-risk result: mole")
    page = admin_client_.get("/admin/notifications/notification/?read=no").content.decode()
    assert "High-risk result: mole" in page
    assert admin_client_.get("/admin/notifications/notification/?read=yes").content.decode().count("mole") == 0
    assert admin_client_.get("/admin/notifications/notification/add/").status_code == 403
    detail = admin_client_.get(f"/admin/notifications/notification/{notification.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert clinician_client.get("/admin/notifications/notification/").status_code == 302
