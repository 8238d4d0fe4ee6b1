"""Writes of the notifications app. Other apps call ``notification_send`` when something
happens that a clinician must know about; it knows nothing of reviews or predictions."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.models import User
from core import permissions
from core.tasks import send_task_on_commit

from .models import Notification, NotificationKind

if TYPE_CHECKING:
    from cases.models import Lesion

logger = logging.getLogger(__name__)

# E-mail is not a secure channel: its text depends on the kind only, never on the caller's title
# or body, so it can name no patient, MRN or lesion. The link leads to the page, behind login.
EMAIL_TEXT = {
    NotificationKind.CASE_REVIEWED: (
        "SkinPortal: a lesion case of yours was reviewed",
        "A lesion case of yours was reviewed in SkinPortal.",
    ),
    NotificationKind.HIGH_RISK: (
        "SkinPortal: a new high-risk result in one of your lesion cases",
        "A new image analysis of one of your lesion cases has a high risk level "
        "(decision support only, not a diagnosis).",
    ),
    NotificationKind.NEW_IMAGE_NEEDED: (
        "SkinPortal: a new image is needed in one of your lesion cases",
        "The model could not judge a new image of one of your lesion cases (for example blurred, or not "
        "a skin lesion it knows); no result is shown for it. Please take a new image.",
    ),
}


def notification_send(
    *,
    recipient: User,
    kind: str,
    title: str,
    body: str,
    url: str,
    lesion: Lesion | None = None,
    event_key: str,
) -> Notification | None:
    """Notify ``recipient`` of an event, in the app and, when e-mail notifications are on and the
    recipient is active with an address, by e-mail once the caller's transaction commits.

    ``event_key`` names the event (e.g. ``"prediction:123"``, ``"review:45"``): a second call for
    the same recipient, kind and event does nothing and returns None, so a task that runs twice
    notifies once. ``url`` is a path of this site (e.g. the lesion's page). ``title`` (cut at 200
    characters) and ``body`` are shown in the app only; keep them minimal (the lesion's label, no
    patient name or MRN).
    The e-mail says only what kind of event happened, with a link. An e-mail that cannot be sent
    is logged, never raised, and leaves ``emailed_at`` empty."""
    if kind not in NotificationKind.values:
        raise ValidationError({"kind": f"Unknown notification kind: {kind!r}."})
    if not event_key:
        raise ValidationError({"event_key": "Name the event this notification is about."})
    if not url.startswith("/") or not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        raise ValidationError({"url": "The link must be a path of this site, e.g. /lesions/12/."})
    notification, created = Notification.objects.get_or_create(
        recipient=recipient,
        kind=kind,
        event_key=event_key,
        defaults={"title": title[:200], "body": body, "url": url, "lesion": lesion},
    )
    if not created:
        return None
    if settings.SKINPORTAL_EMAIL_NOTIFICATIONS and recipient.is_active and recipient.email:
        from .tasks import send_notification_email

        # A broker that cannot be reached loses only the e-mail (logged); the notification is in the app.
        send_task_on_commit(send_notification_email, notification.pk)
    return notification


def notification_email_send(*, notification_pk: int) -> None:
    """Send a notification's e-mail (once: ``emailed_at`` records it)."""
    notification = Notification.objects.select_related("recipient").filter(pk=notification_pk).first()
    if notification is None or notification.emailed_at is not None:
        return
    subject, sentence = EMAIL_TEXT[notification.kind]
    site_url = settings.SKINPORTAL_SITE_URL.rstrip("/")
    message = (
        f"Hello,\n\n{sentence}\n\n"
        f"Open it in SkinPortal (login required):\n{site_url}{notification.url}\n\n"
        f"All your notifications: {site_url}{reverse('notifications:list')}\n\n"
        "For your patients' privacy, this e-mail names no patient.\n"
    )
    try:
        send_mail(subject, message, None, [notification.recipient.email], fail_silently=False)
    except Exception:
        logger.exception(
            "The e-mail of notification %s to user %s could not be sent.", notification.pk, notification.recipient_id
        )
        return
    Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())


def notification_mark_read(*, notification: Notification, user: User) -> Notification:
    """Mark one's own notification read (the first reading time is kept)."""
    if not permissions.can_mark_notification_read(user=user, notification=notification):
        raise PermissionDenied("This notification is not yours.")
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now
    return notification


def notification_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of ``user`` read; returns how many there were."""
    return Notification.objects.filter(recipient=user).unread().update(read_at=timezone.now())
