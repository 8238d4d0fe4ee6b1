"""notification_send: one row per event, an e-mail after commit that names no patient, and
e-mail failures that never reach the caller."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from notifications import selectors
from notifications.models import Notification, NotificationKind
from notifications.services import notification_mark_all_read, notification_mark_read, notification_send

from ..factories import LesionFactory, NotificationFactory, UserFactory

pytestmark = pytest.mark.django_db


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server unreachable")


@pytest.fixture
def lesion(clinician):
    return LesionFactory(
        patient__owner=clinician,
        patient__given_name="Zebedee",
        patient__family_name="Quartermaine",
        patient__identifier="MRN-778899",
        label="pigmented lesion left scapula",
    )


def send(lesion, **changes):
    """As a careless caller would: the patient's name and MRN in the in-app text."""
    values = {
        "recipient": lesion.patient.owner,
        "kind": NotificationKind.CASE_REVIEWED,
        "title": f"Case reviewed: {lesion.label} (Zebedee Quartermaine)",
        "body": "Reviewed for MRN-778899.",
        "url": lesion.get_absolute_url(),
        "lesion": lesion,
        "event_key": "review:45",
        **changes,
    }
    return notification_send(**values)


def test_send_creates_one_row_and_emails_after_commit(
    lesion, clinician, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.SKINPORTAL_SITE_URL = "https://skinportal.example.org/"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = send(lesion)
        assert mailoutbox == []  # not before the caller's transaction commits
    assert len(callbacks) == 1
    assert Notification.objects.get() == notification
    assert notification.recipient == clinician and notification.lesion == lesion and notification.read_at is None
    [email] = mailoutbox
    assert email.to == [clinician.email]
    assert email.subject == "SkinPortal: a lesion case of yours was reviewed"
    assert f"https://skinportal.example.org/lesions/{lesion.pk}/" in email.body
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_the_email_names_no_patient_and_no_lesion(lesion, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(lesion)
        send(lesion, kind=NotificationKind.HIGH_RISK, event_key="prediction:7")
    assert len(mailoutbox) == 2
    for email in mailoutbox:
        text = f"{email.subject}\n{email.body}".lower()
        for private in ("zebedee", "quartermaine", "mrn-778899", "scapula", str(lesion.patient.date_of_birth)):
            assert private not in text


def test_the_same_event_notifies_once(lesion, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = send(lesion)
    with django_capture_on_commit_callbacks(execute=True):
        again = send(lesion, title="Another title")
    assert first is not None and again is None
    assert Notification.objects.count() == 1 and Notification.objects.get().title == first.title
    assert len(mailoutbox) == 1
    # Another event, or another kind of event with the same key, is another notification.
    assert send(lesion, event_key="review:46") is not None
    assert send(lesion, kind=NotificationKind.HIGH_RISK) is not None
    assert Notification.objects.count() == 3


def test_no_email_when_turned_off(lesion, settings, mailoutbox, django_capture_on_commit_callbacks):
    settings.SKINPORTAL_EMAIL_NOTIFICATIONS = False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = send(lesion)
    assert callbacks == [] and mailoutbox == []
    notification.refresh_from_db()
    assert notification.emailed_at is None


@pytest.mark.parametrize("account", [{"email": ""}, {"is_active": False}])
def test_no_email_without_an_address_or_for_an_inactive_account(
    account, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(username="noaddress", **account)
    lesion = LesionFactory(patient__owner=user)
    with django_capture_on_commit_callbacks(execute=True):
        notification = send(lesion)
    assert mailoutbox == []
    assert Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).exists()


def test_an_email_failure_is_logged_not_raised(lesion, settings, caplog, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    with (
        caplog.at_level(logging.ERROR, logger="notifications.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification = send(lesion)
    [record] = caplog.records
    assert "could not be sent" in record.getMessage() and record.exc_info[0] is ConnectionRefusedError
    notification.refresh_from_db()
    assert notification.emailed_at is None  # the in-app notification is there, not marked e-mailed


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(
    lesion, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        send(lesion)
        raise RuntimeError("the review failed")
    assert Notification.objects.count() == 0 and mailoutbox == []


@pytest.mark.parametrize("url", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "lesions/1/", ""])
def test_links_must_be_paths_of_this_site(lesion, url):
    with pytest.raises(ValidationError):
        send(lesion, url=url)
    assert Notification.objects.count() == 0


def test_kind_and_event_are_required(lesion):
    with pytest.raises(ValidationError):
        send(lesion, kind="birthday")
    with pytest.raises(ValidationError):
        send(lesion, event_key="")


def test_mark_read_keeps_the_first_reading_and_is_for_the_recipient_only(clinician, other_clinician):
    notification = NotificationFactory(recipient=clinician)
    with pytest.raises(PermissionDenied):
        notification_mark_read(notification=notification, user=other_clinician)
    first = notification_mark_read(notification=notification, user=clinician).read_at
    assert first is not None
    notification.refresh_from_db()
    assert notification_mark_read(notification=notification, user=clinician).read_at == first


def test_mark_all_read_touches_only_ones_own(clinician, other_clinician):
    NotificationFactory(recipient=clinician)
    NotificationFactory(recipient=clinician)
    NotificationFactory(recipient=other_clinician)
    assert selectors.unread_count(user=clinician) == 2
    assert notification_mark_all_read(user=clinician) == 2
    assert notification_mark_all_read(user=clinician) == 0
    assert selectors.unread_count(user=clinician) == 0
    assert selectors.unread_count(user=other_clinician) == 1
