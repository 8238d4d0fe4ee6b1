"""Receivers connected in ``AccountsConfig.ready``."""

from __future__ import annotations

from . import services


def revoke_tokens_on_password_change(sender, instance, created: bool, **kwargs) -> None:
    """A user saved with a new password (``set_password`` then ``save``: the password change
    page, the admin, ``manage.py changepassword``) loses every API token. Django leaves the new
    raw password in ``_password`` until its own ``save`` ends; a hash upgrade at login clears it
    first, so it revokes nothing."""
    if not created and getattr(instance, "_password", None) is not None:
        services.api_tokens_revoke_all(user=instance)
