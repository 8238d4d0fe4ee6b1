"""The access log: who saw which patient record, image or heatmap, who exported what, who logged
in or failed to. Rows are insert-only: the model refuses to change or delete one, and database
triggers (migration 0002) refuse UPDATE and DELETE on the table whatever the caller."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Action(models.TextChoices):
    VIEW = "view", "Viewed"
    DOWNLOAD = "download", "Downloaded a file"
    HEATMAP = "heatmap", "Viewed a heatmap"
    DENIED = "denied", "Denied (403 or 404)"
    EXPORT = "export", "Exported"
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGOUT = "logout", "Logged out"
    TOKEN_CREATED = "token_created", "Created an API token"
    RECORDED = "recorded", "Recorded a clinical finding"


class ObjectType(models.TextChoices):
    PATIENT = "patient", "Patient"
    LESION = "lesion", "Lesion"
    IMAGE = "image", "Image"
    PREDICTION = "prediction", "Prediction"
    API_TOKEN = "api_token", "API token"
    ACCESS_LOG = "access_log", "Access log"


class Channel(models.TextChoices):
    WEB = "web", "Web UI"
    API = "api", "REST API"
    ADMIN = "admin", "Admin"


class AccessLogImmutableError(Exception):
    """An access log row was about to be changed or deleted."""


def patient_ids_text(ids) -> str:
    """The stored form of a list's patients: sorted, unique, comma-fenced (',3,17,42,'), so that
    one patient is found with a plain ``contains`` on any database."""
    unique = sorted({int(i) for i in ids if i is not None})
    return f",{','.join(map(str, unique))}," if unique else ""


class AccessLogQuerySet(models.QuerySet["AccessLog"]):
    def about_patient(self, patient_id: int) -> AccessLogQuerySet:
        """Rows about one patient: of one of their records, or of a list that returned them."""
        return self.filter(Q(patient_id=patient_id) | Q(patient_ids__contains=f",{int(patient_id)},"))


class AccessLog(models.Model):
    # PROTECT: users are deactivated, never deleted, and their log rows stay theirs.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="As known, or as typed for a failed login.")
    action = models.CharField(max_length=16, choices=Action.choices)
    # No foreign keys to the objects: deleting a patient never touches its log.
    object_type = models.CharField(max_length=16, choices=ObjectType.choices, blank=True)
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    patient_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The patient the object belongs to, when there is one."
    )
    # Nullable without a default, so that adding it is an ALTER TABLE on SQLite (a rebuilt table
    # would lose the insert-only triggers of migration 0002).
    patient_ids = models.TextField(  # noqa: DJ001 - see above: NULL is "not a list", "" a list of none
        null=True,
        blank=True,
        help_text="For a list or search: the ids of every patient it returned, as ',3,17,42,' (empty: none).",
    )
    channel = models.CharField(
        max_length=8, choices=Channel.choices, blank=True, help_text="Blank when no request was involved."
    )
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=500, blank=True, help_text="With its query string.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    detail = models.CharField(max_length=255, blank=True, help_text="For an export: how many rows.")
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        constraints = [
            models.CheckConstraint(condition=Q(action__in=Action.values), name="accesslog_action_valid"),
            models.CheckConstraint(
                condition=Q(object_type__in=[*ObjectType.values, ""]), name="accesslog_object_type_valid"
            ),
            models.CheckConstraint(condition=Q(channel__in=[*Channel.values, ""]), name="accesslog_channel_valid"),
            models.CheckConstraint(
                condition=Q(object_id__isnull=True) | ~Q(object_type=""), name="accesslog_object_id_has_type"
            ),
            models.CheckConstraint(
                condition=~Q(action="login_failed") | Q(user__isnull=True), name="accesslog_login_failed_no_user"
            ),
        ]
        indexes = [
            models.Index(fields=["patient_id", "created_at"], name="accesslog_patient_idx"),
            models.Index(fields=["object_type", "object_id"], name="accesslog_object_idx"),
            models.Index(fields=["action", "created_at"], name="accesslog_action_idx"),
            models.Index(fields=["user", "created_at"], name="accesslog_user_idx"),
        ]

    def __str__(self) -> str:
        what = f" {self.object_type} {self.object_id}" if self.object_id is not None else ""
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username or 'anonymous'} {self.action}{what}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AccessLogImmutableError("Access log rows cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AccessLogImmutableError("Access log rows cannot be deleted.")

    @property
    def patient_id_list(self) -> list[int]:
        return [int(i) for i in (self.patient_ids or "").strip(",").split(",") if i]
