"""Models of the notifications app: what a clinician is told, in the app and by e-mail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationKind(models.TextChoices):
    CASE_REVIEWED = "case_reviewed", "Case reviewed"
    HIGH_RISK = "high_risk", "High-risk result"
    NEW_IMAGE_NEEDED = "new_image_needed", "New image needed"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One event told to one user. ``event_key`` names the event (e.g. ``"prediction:123"``), so
    that the same event never notifies the same user twice, even when a task runs twice."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    event_key = models.CharField(max_length=100, help_text='The event, e.g. "prediction:123" or "review:45".')
    lesion = models.ForeignKey(
        "cases.Lesion", on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, help_text="The page to open: a path of this site, e.g. /lesions/12/.")
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "kind", "event_key"], name="notification_event_unique"),
            models.CheckConstraint(condition=Q(kind__in=NotificationKind.values), name="notification_kind_valid"),
            models.CheckConstraint(condition=~Q(event_key=""), name="notification_event_key_not_empty"),
            models.CheckConstraint(condition=~Q(title=""), name="notification_title_not_empty"),
            # A path of this site only: never another site (the UI redirects to it).
            models.CheckConstraint(
                condition=Q(url__startswith="/") & ~Q(url__startswith="//"), name="notification_url_local"
            ),
        ]
        indexes = [
            # The unread count in every page's header.
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (to {self.recipient})"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None
