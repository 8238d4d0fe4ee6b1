"""The change history of records (django-simple-history): every create, update and delete keeps
a version with who, when and what changed. ``history_of`` gathers the versions of a record and
of the records that belong to it (a patient's care team; a lesion's images, their results,
its reviews...) for the lesion page, the admin and the API.

Each app registers its historical models and how they belong to a record, in its
``AppConfig.ready()``::

    history.register(LesionImage, of=Lesion, object_type="image", field="lesion_id")
    history.register(Prediction, of=Lesion, object_type="prediction", field="image_id", through=LesionImage)

``field`` is the historical row's field holding the record's id, or, with ``through``, the id
of another model registered for the same record (a prediction belongs to a lesion through its
image). Versions of deleted rows count too: they are looked up in the history, never in the
live tables. One query per registered model, however many versions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from itertools import chain

from django.core.exceptions import ImproperlyConfigured
from django.db.models import FileField, Model

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


@dataclass(frozen=True)
class TrackedModel:
    """A model whose versions are part of the history of another model's records."""

    model: type[Model]
    object_type: str  # how entries name it: "lesion", "image", ...
    field: str  # the historical field holding the record's id (or the ``through`` model's)
    through: type[Model] | None = None


# The record's model → the models in its history, in registration order.
_registry: dict[type[Model], list[TrackedModel]] = {}


def register(
    model: type[Model], *, of: type[Model], object_type: str, field: str = "id", through: type[Model] | None = None
) -> None:
    """Make the versions of ``model`` part of the history of each ``of`` record. Registering
    the same model for the same record again changes nothing."""
    tracked = TrackedModel(model=model, object_type=object_type, field=field, through=through)
    entries = _registry.setdefault(of, [])
    if tracked not in entries:
        entries.append(tracked)


def history_of(*, instance: Model, limit: int | None = None) -> list[HistoryEntry]:
    """The history of ``instance`` and of every record registered as belonging to it, newest
    first (at most ``limit`` entries)."""
    tracked_models = _registry.get(type(instance)._meta.concrete_model, [])
    if not tracked_models:
        raise ImproperlyConfigured(f"No change history is registered for {type(instance).__name__}.")
    ids_of: dict[type[Model], set[int]] = {}
    entry_lists: dict[TrackedModel, list[HistoryEntry]] = {}
    pending = list(tracked_models)
    while pending:
        ready = [t for t in pending if t.through is None or t.through in ids_of]
        if not ready:
            names = ", ".join(t.model.__name__ for t in pending)
            raise ImproperlyConfigured(f"{names}: registered through a model not in this history.")
        for tracked in ready:
            ids = [instance.pk] if tracked.through is None else ids_of[tracked.through]
            records = list(
                tracked.model.history.filter(**{f"{tracked.field}__in": ids})
                .select_related("history_user")
                .order_by("-history_date", "-history_id")
            )
            ids_of[tracked.model] = {record.id for record in records}
            entry_lists[tracked] = _entries(records, object_type=tracked.object_type)
            pending.remove(tracked)
    # Chained in registration order, so that entries of the same moment keep one order.
    entries = sorted(chain(*(entry_lists[t] for t in tracked_models)), key=lambda entry: entry.when, reverse=True)
    return entries[:limit] if limit else entries


def _entries(records: list, *, object_type: str) -> list[HistoryEntry]:
    """Entries for historical records (newest first, every version of each object), each with
    its differences from the version before it, found in the same list (no query per record)."""
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
                changes = [
                    {"field": c.field, "old": _shown(record, c.field, c.old), "new": _shown(record, c.field, c.new)}
                    for c in delta.changes
                ]
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


# What a file field's value shows instead of its storage path (paths are not for clients).
FILE_STORED = "(file stored)"


def _shown(record, field_name: str, value) -> str | int | float | bool | None:
    """A field's value as the history shows it: a file field says whether a file is stored,
    never where; anything else in plain form."""
    try:
        # The historical model keeps a file field as text: ask the tracked model itself.
        model = getattr(record, "instance_type", type(record))
        is_file = isinstance(model._meta.get_field(field_name), FileField)
    except Exception:  # a field the historical model does not have: show the value as it is
        is_file = False
    if is_file:
        return FILE_STORED if value else None
    return _plain(value)


def _plain(value) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Model):
        return value.pk
    return str(value)
