"""The change history of clinical records (django-simple-history): every create, update and
delete of patients, shares, lesions, images, predictions, reviews and histopathology keeps a
version with who, when and what changed. These selectors gather it per patient and per lesion
for the lesion page, the admin and the API."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from itertools import chain

from django.db.models import Model

from .models import Lesion, Patient, PatientShare

CHANGE_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
# Bookkeeping fields not worth showing as changes.
IGNORED_FIELDS = {"updated_at", "started_at", "attempts", "preprocess_ms", "inference_ms", "overlay_ms", "total_ms"}


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime.datetime
    user_id: int | None
    username: str  # "system" for changes made by a worker or a command
    object_type: str
    object_id: int
    change: str  # created, changed, deleted
    changes: list[dict] = field(default_factory=list)  # [{"field", "old", "new"}]

    @property
    def summary(self) -> str:
        return ", ".join(f"{c['field']}: {c['old']} → {c['new']}" for c in self.changes)


def _entries(records, *, object_type: str) -> list[HistoryEntry]:
    """Entries for historical records (newest first, every version of each object), each with
    its differences from the version before it, found in the same list (no query per record)."""
    records = list(records)
    previous_of: dict[int, object] = {}
    last_seen: dict[int, object] = {}
    for record in reversed(records):  # oldest first
        previous_of[record.history_id] = last_seen.get(record.id)
        last_seen[record.id] = record
    entries = []
    for record in records:
        changes = []
        if record.history_type == "~":
            previous = previous_of[record.history_id]
            if previous is not None:
                delta = record.diff_against(previous, excluded_fields=IGNORED_FIELDS)
                changes = [{"field": c.field, "old": _plain(c.old), "new": _plain(c.new)} for c in delta.changes]
            if not changes:
                continue  # a save that changed nothing worth showing
        user = record.history_user
        entries.append(
            HistoryEntry(
                when=record.history_date,
                user_id=user.pk if user else None,
                username=user.username if user else "system",
                object_type=object_type,
                object_id=record.id,
                change=CHANGE_TYPES[record.history_type],
                changes=changes,
            )
        )
    return entries


def _plain(value) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Model):
        return value.pk
    return str(value)


def _newest_first(*entry_lists: list[HistoryEntry], limit: int | None) -> list[HistoryEntry]:
    entries = sorted(chain(*entry_lists), key=lambda entry: entry.when, reverse=True)
    return entries[:limit] if limit else entries


def patient_history(*, patient: Patient, limit: int | None = None) -> list[HistoryEntry]:
    """The patient record and its care team (shares)."""
    records = (
        Patient.history.filter(id=patient.pk).select_related("history_user").order_by("-history_date", "-history_id")
    )
    shares = (
        PatientShare.history.filter(patient_id=patient.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")
    )
    return _newest_first(_entries(records, object_type="patient"), _entries(shares, object_type="share"), limit=limit)


def lesion_history(*, lesion: Lesion, limit: int | None = None) -> list[HistoryEntry]:
    """The lesion case, its images, their predictions, its reviews and histopathology."""
    from inference.models import Prediction
    from reviews.models import Histopathology, Review

    from .models import LesionImage

    def of(model, **lookup):
        return model.history.filter(**lookup).select_related("history_user").order_by("-history_date", "-history_id")

    image_ids = list(LesionImage.history.filter(lesion_id=lesion.pk).values_list("id", flat=True).distinct())
    return _newest_first(
        _entries(of(Lesion, id=lesion.pk), object_type="lesion"),
        _entries(of(LesionImage, lesion_id=lesion.pk), object_type="image"),
        _entries(of(Prediction, image_id__in=image_ids), object_type="prediction"),
        _entries(of(Review, lesion_id=lesion.pk), object_type="review"),
        _entries(of(Histopathology, lesion_id=lesion.pk), object_type="histopathology"),
        limit=limit,
    )


def model_version_history(*, model_version, limit: int | None = None) -> list[HistoryEntry]:
    from inference.models import ModelVersion

    records = (
        ModelVersion.history.filter(id=model_version.pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")
    )
    return _newest_first(_entries(records, object_type="model_version"), limit=limit)
