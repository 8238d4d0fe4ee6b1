"""Receivers of Django's login signals (the only hook it gives for logins), connected in
``AuditConfig.ready``. They apply to every login form (web UI, admin) and every
``authenticate()`` call, including the API's password-for-token exchange."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from . import services
from .models import Action


def record_login(sender, request, user, **kwargs) -> None:
    services.access_log_record(action=Action.LOGIN, request=request, user=user)


def record_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    # Only the username as typed: Django has already masked the password in ``credentials``,
    # and nothing else of them is kept.
    username = credentials.get(get_user_model().USERNAME_FIELD) or ""
    services.access_log_record(action=Action.LOGIN_FAILED, request=request, username=str(username))


def record_logout(sender, request, user, **kwargs) -> None:
    if user is None:  # logging out without being logged in
        return
    services.access_log_record(action=Action.LOGOUT, request=request, user=user)
