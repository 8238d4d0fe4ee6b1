"""What every page's navigation may offer the user (``user_can``), from ``core.permissions``."""

from __future__ import annotations

from django.http import HttpRequest

from . import permissions


def user_can(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"user_can": {"review": permissions.can_review(user=user), "admin": permissions.is_admin(user=user)}}
