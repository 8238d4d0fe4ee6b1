"""The unread count in every page's header (``unread_notifications``)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from . import selectors


def unread_count(request: HttpRequest) -> dict:
    # Lazy: one query, and only on pages that show it.
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: selectors.unread_count(user=user))}
