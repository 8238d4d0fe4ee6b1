"""Each export as a file: gathered through ``interop.selectors`` (the access rule), built by
``pdf``, ``fhir`` or ``dicom``. The web views and the API answer the same ``Export``."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse

from accounts.models import User

from . import dicom, fhir, pdf, selectors


@dataclass(frozen=True)
class Export:
    content: bytes
    content_type: str
    filename: str

    def response(self) -> HttpResponse:
        response = HttpResponse(self.content, content_type=self.content_type)
        response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        response["Cache-Control"] = "no-store"  # patient records must not linger in shared browsers
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _uids() -> dicom.Uids:
    return dicom.Uids(settings.SKINPORTAL_DICOM_UID_ROOT)


def lesion_report_pdf(*, user: User, lesion_id: int) -> Export:
    report = selectors.lesion_report(user=user, lesion_id=lesion_id)
    content = pdf.render(report, title=f"Lesion report: {report.lesions[0].lesion.label}")
    return Export(content, pdf.MEDIA_TYPE, f"lesion-{lesion_id}-report.pdf")


def patient_report_pdf(*, user: User, patient_id: int) -> Export:
    report = selectors.patient_report(user=user, patient_id=patient_id)
    content = pdf.render(report, title="Patient report: all lesion cases")
    return Export(content, pdf.MEDIA_TYPE, f"patient-{patient_id}-report.pdf")


def patient_fhir(*, user: User, patient_id: int, absolute_url: Callable[[str], str]) -> Export:
    """``absolute_url`` makes a path absolute (``request.build_absolute_uri``): each Media's
    content URL is the image's access-controlled file endpoint of the API."""
    report = selectors.patient_report(user=user, patient_id=patient_id)
    bundle = fhir.bundle(
        report,
        mrn_system=settings.SKINPORTAL_MRN_SYSTEM,
        uids=_uids(),
        file_url=lambda image: absolute_url(reverse("api:image-file", kwargs={"pk": image.pk})),
    )
    return Export(json.dumps(bundle).encode(), fhir.MEDIA_TYPE, f"patient-{patient_id}-fhir.json")


def _dicom_file(image) -> tuple[str, bytes]:
    with image.file.open("rb") as handle:
        jpeg = handle.read()
    dataset = dicom.image_dataset(
        image=image,
        jpeg=jpeg,
        uids=_uids(),
        issuer=settings.SKINPORTAL_MRN_SYSTEM,
        device_serial_number=settings.SKINPORTAL_DICOM_UID_ROOT[-16:],
    )
    return f"{dataset.Modality}/IMG{image.pk:06d}.dcm", dicom.to_bytes(dataset)


def image_dicom(*, user: User, image_id: int) -> Export:
    image = selectors.image_export(user=user, image_id=image_id)
    _, content = _dicom_file(image)
    return Export(content, dicom.MEDIA_TYPE, f"image-{image_id}.dcm")


def visit_dicom_zip(*, user: User, lesion_id: int, visit: datetime.date | None) -> Export:
    """The DICOM study of one visit of a lesion (its latest when ``visit`` is None) as a ZIP."""
    lesion, images = selectors.visit_export(user=user, lesion_id=lesion_id, visit=visit)
    content = dicom.study_zip(_dicom_file(image) for image in images)
    return Export(content, "application/zip", f"lesion-{lesion.pk}-visit-{images[0].captured_on}-dicom.zip")
