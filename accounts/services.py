"""Writes for accounts: personal API tokens. The token pages, the admin and the API call these."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError

from core import permissions

from .models import ApiToken, User

TOKEN_LIFETIMES_DAYS = (30, 90, 365)
DEFAULT_TOKEN_LIFETIME_DAYS = 90


def api_token_create(*, user: User, name: str, lifetime_days: int) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token itself, which is not stored
    (only its digest is) and so can be shown this once only."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Say what the token is for."})
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise ValidationError({"name": "Use at most 100 characters."})
    if not 1 <= lifetime_days <= settings.SKINPORTAL_API_TOKEN_MAX_DAYS:
        raise ValidationError(
            {"lifetime_days": f"A token lives between 1 and {settings.SKINPORTAL_API_TOKEN_MAX_DAYS} days."}
        )
    if not user.is_active:
        raise ValidationError("This account is not active.")
    return ApiToken.objects.create(user=user, expiry=datetime.timedelta(days=lifetime_days), name=name)


def api_token_revoke(*, token: ApiToken, actor: User) -> None:
    """Revoke (delete) a token: its owner or an admin may."""
    if not permissions.can_revoke_api_token(user=actor, token=token):
        raise PermissionDenied("Only the token's owner or an admin can revoke it.")
    token.delete()


def api_tokens_revoke_all(*, user: User) -> int:
    """Revoke every API token of ``user`` (a changed password ends them: whoever knew the old
    one may have made some); how many there were."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted
