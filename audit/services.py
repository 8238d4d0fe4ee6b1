"""Writes for the access log: one function adds a row; nothing changes or deletes one."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import Count, Max
from django.http import HttpRequest

from accounts.models import User

from . import selectors
from .models import AccessLog, AccessLogQuerySet, Action, ObjectType, patient_ids_text


def _truncate(value: str, field: str) -> str:
    return value[: AccessLog._meta.get_field(field).max_length]


def access_log_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    user: User | None = None,
    username: str = "",
    object_type: str = "",
    object_id: int | None = None,
    patient_id: int | None = None,
    patient_ids: list[int] | None = None,
    status_code: int | None = None,
    detail: str = "",
) -> AccessLog:
    """Add a row. Where, how and from which address come from ``request`` when there is one
    (a Django request, or DRF's, which passes them through)."""
    if user is not None and not username:
        username = user.get_username()
    entry = AccessLog(
        user=user,
        username=_truncate(username, "username"),
        action=action,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        patient_ids=patient_ids_text(patient_ids) if patient_ids is not None else None,
        status_code=status_code,
        detail=_truncate(detail, "detail"),
    )
    if request is not None:
        entry.channel = selectors.request_channel(request=request)
        entry.method = _truncate(request.method or "", "method")
        entry.path = _truncate(request.get_full_path(), "path")
        entry.ip = selectors.client_ip(request=request)
        entry.user_agent = _truncate(request.META.get("HTTP_USER_AGENT", ""), "user_agent")
    entry.save()  # the database checks the choices (constraints)
    return entry


class _Echo:
    """A file-like object whose ``write`` returns the line, for ``csv.writer`` to stream."""

    def write(self, value: str) -> str:
        return value


def access_log_export_csv(*, queryset: AccessLogQuerySet, actor: User, request: HttpRequest) -> Iterator[str]:
    """Export the rows of ``queryset`` as CSV lines (``selectors.CSV_COLUMNS``), and log the
    export first. The export holds the rows that existed when it was asked for (not itself)."""
    snapshot = queryset.aggregate(count=Count("pk"), last=Max("pk"))
    access_log_record(
        action=Action.EXPORT,
        request=request,
        user=actor,
        object_type=ObjectType.ACCESS_LOG,
        status_code=200,
        detail=f"{snapshot['count']} rows",
    )
    rows = queryset.filter(pk__lte=snapshot["last"]) if snapshot["last"] is not None else queryset.none()
    writer = csv.writer(_Echo())
    return (writer.writerow(row) for row in selectors.access_log_csv_rows(queryset=rows))
