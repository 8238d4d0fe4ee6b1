"""HTTP helpers shared by the admin's and the API's exports."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import StreamingHttpResponse
from django.utils import timezone


def csv_response(*, lines: Iterable[str]) -> StreamingHttpResponse:
    """Stream CSV lines as a download named after the moment of the export."""
    filename = f"access-log-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return StreamingHttpResponse(
        lines,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
