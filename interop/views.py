"""The web UI's exports: the buttons on the patient, lesion and image pages. Thin: the access
rule and the files come from ``interop.exports``; the access log records each (audit)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET

from core.views import refused

from . import exports


@require_GET
def patient_report(request: HttpRequest, pk: int) -> HttpResponse:
    return exports.patient_report_pdf(user=request.user, patient_id=pk).response()


@require_GET
def lesion_report(request: HttpRequest, pk: int) -> HttpResponse:
    return exports.lesion_report_pdf(user=request.user, lesion_id=pk).response()


@require_GET
def image_dicom(request: HttpRequest, pk: int) -> HttpResponse:
    return exports.image_dicom(user=request.user, image_id=pk).response()


@require_GET
def visit_dicom(request: HttpRequest, pk: int) -> HttpResponse:
    """``?visit=YYYY-MM-DD``: that visit's study; without it, the latest visit's."""
    raw = request.GET.get("visit", "")
    try:
        visit = parse_date(raw) if raw else None
    except ValueError:
        visit = None
    if raw and visit is None:
        return refused(
            request,
            message=f"“{raw}” is not a date (YYYY-MM-DD).",
            status=400,
            back_url=reverse("cases:lesion-detail", kwargs={"pk": pk}),
            back_label="Back to the lesion",
        )
    return exports.visit_dicom_zip(user=request.user, lesion_id=pk, visit=visit).response()
