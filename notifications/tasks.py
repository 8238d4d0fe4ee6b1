"""E-mail of notifications, sent by a worker so that no web request waits on the mail server."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=60)
def send_notification_email(notification_pk: int) -> None:
    """Idempotent: a notification already e-mailed is not sent again."""
    services.notification_email_send(notification_pk=notification_pk)
