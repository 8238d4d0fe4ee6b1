"""What every app's web views share."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def refused(request: HttpRequest, *, message: str, status: int, back_url: str, back_label: str) -> HttpResponse:
    """The answer to a refused action in the web UI: the status the API gives for the same
    refusal (400, 403, 404, 409), and a page that says why, with the way back."""
    return render(
        request,
        "refused.html",
        {"message": message, "back_url": back_url, "back_label": back_label},
        status=status,
    )
