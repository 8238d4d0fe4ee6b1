from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken, AuthTokenManager

REVIEWER_GROUP = "Reviewers"


class User(AbstractUser):
    """A SkinPortal user.

    Roles: every user is a clinician; members of the "Reviewers" group are also reviewers;
    staff users (``is_staff``) are admins and see every patient.
    """

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.is_staff or self.is_superuser)

    @property
    def is_reviewer(self) -> bool:
        return self.is_admin or self.groups.filter(name=REVIEWER_GROUP).exists()

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def roles(self) -> list[str]:
        roles = ["clinician"]
        if self.is_reviewer:
            roles.append("reviewer")
        if self.is_admin:
            roles.append("admin")
        return roles

    def __str__(self) -> str:
        return self.display_name


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def unexpired(self) -> ApiTokenQuerySet:
        return self.filter(models.Q(expiry__isnull=True) | models.Q(expiry__gt=timezone.now()))


class ApiToken(AbstractAuthToken):
    """A personal API token (django-rest-knox): only a SHA-512 digest is stored, the token
    itself is shown once, when it is created. Revoking deletes the row."""

    name = models.CharField(max_length=100, help_text='What the token is for, e.g. "EHR integration".')

    # knox's manager: create(user=..., expiry=...) returns (token row, the token itself).
    objects = AuthTokenManager.from_queryset(ApiTokenQuerySet)()

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…, {self.user})"
