"""A limit on failed logins per client address, across usernames (password spraying): the
first authentication backend, so it applies to every login channel (the web login, the admin
login, ``POST /api/v1/auth/token/``: they all call ``authenticate()``). The failed logins are
the access log's own rows, so every web process and host counts together."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from core.accessnotes import note_login_address_locked

from . import selectors


def address_lockout_message() -> str:
    return (
        f"Too many failed logins from your network: logins from this address are paused for up to "
        f"{settings.SKINPORTAL_LOGIN_ADDRESS_WINDOW_MINUTES} minutes. Try again later, or ask an administrator."
    )


class LoginAddressLimitBackend:
    """Refuses (before any password is checked) a login from a client address that failed
    ``SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS`` logins, whatever the usernames, in the last
    ``SKINPORTAL_LOGIN_ADDRESS_WINDOW_MINUTES``. The request is marked so that the login page
    and the API answer 429 (``audit.middleware.LoginAddressLimitMiddleware``, ``accounts.api``)."""

    def authenticate(self, request, **credentials):
        if request is None:
            return None
        address = selectors.client_ip(request=request)
        if address is None:
            return None
        since = timezone.now() - datetime.timedelta(minutes=settings.SKINPORTAL_LOGIN_ADDRESS_WINDOW_MINUTES)
        if selectors.failed_logins_from(ip=address, since=since) >= settings.SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS:
            note_login_address_locked(request)
            raise PermissionDenied(address_lockout_message())
        return None

    # No get_user(): it never logs anyone in (and so is never a session's backend).
