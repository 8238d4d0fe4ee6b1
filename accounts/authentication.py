"""API token authentication: django-rest-knox's, without its per-request sweep."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token authentication, minus the query it spends on every request looking for the
    user's other expired tokens to delete. An expired token is refused and deleted when it is
    presented, as knox does; until then the admin lists it, flagged as expired."""

    def _cleanup_token(self, auth_token) -> bool:  # knox 5.1: True means "refuse this token"
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the class above: knox's."""

    target_class = "accounts.authentication.TokenAuthentication"
