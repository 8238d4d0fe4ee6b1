"""What an export holds, gathered in one place through the access rule (the cases selectors:
anything outside ``PatientQuerySet.visible_to`` is a 404).

``lesion_report`` is the one function that says what is known about a lesion case: the PDF
report, the FHIR bundle and the DICOM files all read it, so that a new kind of data (the
measurements and body-map positions of issue 12) is added here once. Exports never carry the
figures of a result the quality gate withheld, whoever asks (admins see them in the app only).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from itertools import groupby

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from cases import selectors as case_selectors
from cases.models import Lesion, LesionImage, MonitoringPlan, Patient
from core import permissions
from core.dates import add_months
from inference.models import ModelVersion, Prediction, PredictionStatus
from inference.selectors import current_prediction
from reviews import selectors as review_selectors
from reviews.models import Histopathology, RecommendedAction, Review
from tracking import selectors as tracking_selectors


@dataclass
class ImageEntry:
    image: LesionImage
    #: The result the image shows (``inference.selectors.current_prediction``), or None.
    prediction: Prediction | None
    #: Every succeeded result of the image, newest first (the FHIR export has one Observation each).
    results: list[Prediction] = field(default_factory=list)

    @property
    def figures_shown(self) -> bool:
        """Whether the shown result's figures go into an export: succeeded and not withheld."""
        return (
            self.prediction is not None
            and self.prediction.status == PredictionStatus.SUCCEEDED
            and not self.prediction.is_withheld
        )


@dataclass
class Visit:
    date: datetime.date
    images: list[ImageEntry]


@dataclass
class FollowUp:
    due: datetime.date | None
    action: str  # the recommended action or the monitoring plan, in words
    recommended_on: datetime.date | None = None  # a review's date; None for the lesion's plan


@dataclass
class MeasurementRow:
    date: datetime.date
    value: str  # the lesion's size on the image, in words (mm only with a known pixel spacing)
    change: str  # the measured change since the visit before, in words


@dataclass
class LesionReport:
    patient: Patient
    lesion: Lesion
    visits: list[Visit]
    reviews: list[Review]
    histopathology: list[Histopathology]
    next_follow_up: FollowUp | None
    #: Left / right where the body-map marker lies clearly off the midline; None otherwise.
    laterality: str | None = None
    #: The body-map position in words, and the measured size of each image with its change.
    body_map_position: str | None = None
    measurements: list[MeasurementRow] = field(default_factory=list)

    @property
    def images(self) -> list[ImageEntry]:
        return [entry for visit in self.visits for entry in visit.images]


@dataclass
class PatientReport:
    patient: Patient
    lesions: list[LesionReport]
    generated_by: User
    generated_at: datetime.datetime


def _require_export(*, user: User, patient: Patient) -> None:
    if not permissions.can_export_patient_records(user=user, patient=patient):
        raise PermissionDenied("You may not export this patient's records.")


def lesion_report(*, user: User, lesion_id: int) -> PatientReport:
    """One lesion case with all its visits, as the report and the exports show it (404 outside
    the access rule); wrapped in its patient's report, which holds who generated it and when."""
    lesion = case_selectors.lesion_get(user=user, pk=lesion_id)
    _require_export(user=user, patient=lesion.patient)
    return PatientReport(
        patient=lesion.patient,
        lesions=[_lesion_report(lesion)],
        generated_by=user,
        generated_at=timezone.now(),
    )


def patient_report(*, user: User, patient_id: int) -> PatientReport:
    """Every lesion case of a patient (oldest first), each as ``lesion_report`` gives it."""
    patient = case_selectors.patient_get(user=user, pk=patient_id)
    _require_export(user=user, patient=patient)
    lesions = Lesion.objects.visible_to(user).filter(patient=patient).select_related("patient", "created_by")
    return PatientReport(
        patient=patient,
        lesions=[_lesion_report(lesion) for lesion in lesions.order_by("opened_on", "pk")],
        generated_by=user,
        generated_at=timezone.now(),
    )


def _lesion_report(lesion: Lesion) -> LesionReport:
    images = list(case_selectors.image_timeline(lesion=lesion))
    predictions: dict[int, list[Prediction]] = {image.pk: [] for image in images}
    for prediction in (
        Prediction.objects.filter(image__in=images).select_related("model_version").order_by("-created_at", "-pk")
    ):
        predictions[prediction.image_id].append(prediction)
    active = ModelVersion.objects.active()
    entries = [
        ImageEntry(
            image=image,
            prediction=current_prediction(predictions[image.pk], active=active),
            results=[p for p in predictions[image.pk] if p.status == PredictionStatus.SUCCEEDED],
        )
        for image in images
    ]
    visits = [
        Visit(date=date, images=list(group)) for date, group in groupby(entries, key=lambda e: e.image.captured_on)
    ]
    reviews = list(review_selectors.lesion_reviews(lesion=lesion))
    return LesionReport(
        patient=lesion.patient,
        lesion=lesion,
        visits=visits,
        reviews=reviews,
        histopathology=list(review_selectors.lesion_histopathology(lesion=lesion)),
        next_follow_up=_plan_follow_up(lesion) or _next_follow_up(reviews),
        laterality=_laterality(lesion),
        body_map_position=_body_map_position(lesion),
        measurements=_measurement_rows(images),
    )


#: Body-map markers within this distance of the vertical midline have no laterality.
MIDLINE = 0.05


def _laterality(lesion: Lesion) -> str | None:
    """From the body-map marker: the front view shows the patient's right on the viewer's left,
    the back view on the viewer's right."""
    if not lesion.has_body_map_position or abs(lesion.body_map_x - 0.5) <= MIDLINE:
        return None
    on_viewers_left = lesion.body_map_x < 0.5
    return "right" if on_viewers_left == (lesion.body_map_view == "front") else "left"


def _body_map_position(lesion: Lesion) -> str | None:
    if not lesion.has_body_map_position:
        return None
    return (
        f"{lesion.get_body_map_view_display()} view, {lesion.body_map_x:.0%} across and "
        f"{lesion.body_map_y:.0%} down the outline"
    )


def _plan_follow_up(lesion: Lesion) -> FollowUp | None:
    """The lesion's monitoring plan (set by its clinicians or from a review's follow-up)."""
    if lesion.monitoring_plan == MonitoringPlan.NONE:
        return None
    return FollowUp(due=lesion.next_visit_on, action=lesion.get_monitoring_plan_display())


def _measurement_rows(images: list[LesionImage]) -> list[MeasurementRow]:
    rows = []
    previous: LesionImage | None = None
    for image in images:
        report = tracking_selectors.measurement_report(image=image)
        if report["status"] != "succeeded":
            previous = image
            continue
        size = f"area {report['area_px']:,.0f} px², largest diameter {report['max_diameter_px']:,.0f} px"
        if report["mm"]:
            size += f" ({report['mm']['area_mm2']:.1f} mm², {report['mm']['max_diameter_mm']:.1f} mm)"
        size += f"; {len(report['colours'])} colour{'s' if len(report['colours']) != 1 else ''}"
        change = "—"
        if previous is not None:
            comparison = tracking_selectors.stored_comparison(earlier=previous, later=image)
            if comparison is None:
                change = "not compared yet"
            elif not comparison.aligned:
                change = "not measured: the images could not be aligned"
            else:
                change = (comparison.change or {}).get("summary", "")
        rows.append(MeasurementRow(date=image.captured_on, value=size, change=change))
        previous = image
    return rows


def _next_follow_up(reviews: list[Review]) -> FollowUp | None:
    """What the latest review decision recommends next: a short-term follow-up is due its months
    after the decision; routine monitoring and biopsy / excision have no date here; a discharge
    ends the follow-up (None)."""
    if not reviews:
        return None
    latest = reviews[0]  # newest first
    if latest.action == RecommendedAction.DISCHARGE:
        return None
    decided_on = timezone.localdate(latest.created_at)
    due = None
    if latest.action == RecommendedAction.SHORT_TERM_FOLLOW_UP and latest.follow_up_months:
        due = add_months(decided_on, latest.follow_up_months)
    return FollowUp(due=due, action=latest.action_display, recommended_on=decided_on)


def image_export(*, user: User, image_id: int) -> LesionImage:
    """One image for a DICOM export (404 outside the access rule)."""
    image = case_selectors.image_get(user=user, pk=image_id)
    _require_export(user=user, patient=image.lesion.patient)
    return image


def visit_export(*, user: User, lesion_id: int, visit: datetime.date | None) -> tuple[Lesion, list[LesionImage]]:
    """A lesion's images of one visit (its latest when ``visit`` is None), for a DICOM study;
    404 outside the access rule or when the lesion has no image that day."""
    lesion = case_selectors.lesion_get(user=user, pk=lesion_id)
    _require_export(user=user, patient=lesion.patient)
    timeline = case_selectors.image_timeline(lesion=lesion)
    if visit is None:
        latest = timeline.last()
        if latest is None:
            raise Http404("This lesion has no images.")
        visit = latest.captured_on
    images = list(case_selectors.visit_images(lesion=lesion, captured_on=visit))
    if not images:
        raise Http404(f"This lesion has no images of {visit:%d %b %Y}.")
    return lesion, images
