"""Deployment checks of the notification settings (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

#: Django's e-mail backends that deliver nothing (the default EMAIL_URL is the console's).
UNDELIVERED_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}


@register("notifications", deploy=True)
def check_email_delivery(app_configs, **kwargs) -> list[CheckMessage]:
    if settings.SKINPORTAL_EMAIL_NOTIFICATIONS and settings.EMAIL_BACKEND in UNDELIVERED_BACKENDS:
        return [
            Warning(
                f"E-mail notifications are on but go to {settings.EMAIL_BACKEND.rsplit('.', 2)[-2]}: "
                "clinicians would not receive the e-mails of reviewed cases and high-risk results.",
                hint=(
                    "Set EMAIL_URL (e.g. smtp+tls://user:password@smtp.example.org:587), or "
                    "SKINPORTAL_EMAIL_NOTIFICATIONS=false to notify in the app only."
                ),
                id="notifications.W001",
            )
        ]
    return []
