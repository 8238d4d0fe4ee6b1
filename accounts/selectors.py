"""Reads for accounts."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import ApiToken, User


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """A user's tokens that still work, newest first."""
    return ApiToken.objects.filter(user=user).unexpired().order_by("-created")


def api_token_get(*, user: User, digest: str) -> ApiToken:
    """One of the user's own tokens (404 otherwise), by its digest (the primary key)."""
    return get_object_or_404(ApiToken.objects.filter(user=user), digest=digest)


def active_clinicians() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("last_name", "first_name", "username")


def clinician_find(*, pk: int) -> User | None:
    """The user with id ``pk``, or None (callers say what a missing clinician means)."""
    return User.objects.filter(pk=pk).first()
