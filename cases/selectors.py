"""Reads for patients, lesions and images, always through the access rule
(``PatientQuerySet.visible_to``). Anything outside it is reported as not found (404)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from inference.models import RiskLevel
from inference.selectors import lesions_with_latest_result
from tracking.selectors import default_pair, with_change_flag

from .models import Lesion, LesionImage, LesionStatus, MonitoringPlan, Patient, PatientShare


def patient_list(*, user: User, search: str = "") -> QuerySet[Patient]:
    return (
        Patient.objects.visible_to(user)
        .search(search)
        .select_related("owner")
        .annotate(lesion_count=Count("lesions", distinct=True))
        .order_by("family_name", "given_name", "pk")
    )


def patients_with_care_team(*, user: User) -> QuerySet[Patient]:
    """The patients a user may see, each with its owner and care team (the API's patient list)."""
    return (
        Patient.objects.visible_to(user)
        .select_related("owner")
        .prefetch_related(Prefetch("shared_with", queryset=User.objects.order_by("username")))
        .order_by("family_name", "given_name", "pk")
    )


def lesions_with_results(*, user: User) -> QuerySet[Lesion]:
    """Every lesion a user may see with its image count and latest result, newest case first."""
    lesions = Lesion.objects.visible_to(user).with_image_count().order_by("-opened_on", "-pk")
    return with_change_flag(lesions_with_latest_result(lesions))


def image_list(*, user: User) -> QuerySet[LesionImage]:
    """Every image a user may see, latest visit first."""
    return (
        LesionImage.objects.visible_to(user)
        .select_related("uploaded_by")
        .order_by("-captured_on", "-uploaded_at", "-pk")
    )


def patient_get(*, user: User, pk: int) -> Patient:
    return get_object_or_404(Patient.objects.visible_to(user).select_related("owner"), pk=pk)


def patient_shares(*, patient: Patient) -> QuerySet[PatientShare]:
    return patient.shares.select_related("clinician", "granted_by").order_by("clinician__username")


def share_candidates(*, patient: Patient) -> QuerySet[User]:
    """Active clinicians who could be added to the patient's care team."""
    return (
        User.objects.filter(is_active=True)
        .exclude(pk=patient.owner_id)
        .exclude(patient_shares__patient=patient)
        .order_by("last_name", "first_name", "username")
    )


def lesion_list(*, user: User, patient: Patient) -> QuerySet[Lesion]:
    """The patient's lesions with their images, latest result and change flag."""
    lesions = (
        Lesion.objects.visible_to(user)
        .filter(patient=patient)
        .with_image_count()
        .prefetch_related(Prefetch("images", queryset=LesionImage.objects.timeline(), to_attr="timeline_images"))
    )
    return with_change_flag(lesions_with_latest_result(lesions))


def lesion_get(*, user: User, pk: int) -> Lesion:
    return get_object_or_404(Lesion.objects.visible_to(user).select_related("patient", "created_by"), pk=pk)


def image_timeline(*, lesion: Lesion) -> QuerySet[LesionImage]:
    return lesion.images.timeline().select_related("uploaded_by")


def visit_images(*, lesion: Lesion, captured_on: datetime.date) -> QuerySet[LesionImage]:
    """The lesion's images of one visit (one date)."""
    return image_timeline(lesion=lesion).filter(captured_on=captured_on)


def image_get(*, user: User, pk: int) -> LesionImage:
    return get_object_or_404(
        LesionImage.objects.visible_to(user).select_related("lesion__patient", "uploaded_by"), pk=pk
    )


def images_in_scope(*, lesion_id: int | None = None, patient_id: int | None = None) -> QuerySet[LesionImage]:
    """Every image of one lesion, of one patient, or (neither given) of all, oldest first; for
    management commands, which run with no user and so outside the access rule."""
    images = LesionImage.objects.order_by("pk")
    if lesion_id is not None:
        images = images.filter(lesion_id=lesion_id)
    elif patient_id is not None:
        images = images.filter(lesion__patient_id=patient_id)
    return images


def recent_images(*, user: User, limit: int = 12) -> QuerySet[LesionImage]:
    return (
        LesionImage.objects.visible_to(user).select_related("lesion__patient").order_by("-uploaded_at", "-pk")[:limit]
    )


def my_patients(*, user: User, limit: int = 10) -> QuerySet[Patient]:
    """The patients a user owns or shares, most recently changed first (admins: their own only)."""
    return (
        Patient.objects.visible_to(user)
        .owned_or_shared_by(user)
        .annotate(lesion_count=Count("lesions", distinct=True))
        .order_by("-updated_at", "-pk")[:limit]
    )


def clinician_get(*, pk: int) -> User:
    return get_object_or_404(User, pk=pk)


def image_neighbours(*, image: LesionImage) -> tuple[LesionImage | None, LesionImage | None]:
    """The images just before and after ``image`` in its lesion's timeline."""
    timeline = list(image_timeline(lesion=image.lesion))
    position = next(index for index, item in enumerate(timeline) if item.pk == image.pk)
    previous_image = timeline[position - 1] if position > 0 else None
    next_image = timeline[position + 1] if position + 1 < len(timeline) else None
    return previous_image, next_image


def original_filename_for(*, image: LesionImage, user: User) -> str | None:
    """The uploaded file's name is private to its uploader: others get None."""
    return image.original_filename if image.uploaded_by_id == user.pk else None


#: The worklist's horizons: follow-ups due within this many days, results of this many days.
FOLLOW_UP_DUE_SOON_DAYS = 14
NEW_RESULT_DAYS = 14


@dataclass(frozen=True)
class Worklist:
    overdue: list[Lesion]
    due_soon: list[Lesion]
    high_risk: list[Lesion]
    changed: list[Lesion]

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("overdue", "due_soon", "high_risk", "changed")}

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())

    @property
    def lesions(self) -> list[Lesion]:
        return [*self.overdue, *self.due_soon, *self.high_risk, *self.changed]


def worklist(*, user: User, today: datetime.date | None = None) -> Worklist:
    """The dashboard's work for a clinician, over the patients they own or share: overdue and
    soon-due follow-ups, new high-risk results, and lesions flagged changed."""
    today = today or timezone.localdate()
    lesions = with_change_flag(
        lesions_with_latest_result(
            Lesion.objects.visible_to(user)
            .filter(patient__in=Patient.objects.visible_to(user).owned_or_shared_by(user))
            .exclude(status__in=[LesionStatus.EXCISED, LesionStatus.CLOSED])
            .select_related("patient")
        )
    )
    overdue = lesions.filter(next_visit_on__lt=today).exclude(monitoring_plan=MonitoringPlan.NONE)
    due_soon = lesions.filter(
        next_visit_on__gte=today, next_visit_on__lte=today + datetime.timedelta(days=FOLLOW_UP_DUE_SOON_DAYS)
    ).exclude(monitoring_plan=MonitoringPlan.NONE)
    since = timezone.now() - datetime.timedelta(days=NEW_RESULT_DAYS)
    high_risk = lesions.filter(latest_risk=RiskLevel.HIGH, latest_finished_at__gte=since)
    return Worklist(
        overdue=list(overdue.order_by("next_visit_on", "pk")),
        due_soon=list(due_soon.order_by("next_visit_on", "pk")),
        high_risk=list(high_risk.order_by("-latest_finished_at", "pk")),
        changed=list(lesions.filter(changed=True).order_by("-latest_comparison_at", "pk")),
    )


def next_follow_up(*, patient: Patient) -> Lesion | None:
    """The patient's lesion due first for its next visit."""
    return (
        patient.lesions.exclude(monitoring_plan=MonitoringPlan.NONE)
        .filter(next_visit_on__isnull=False)
        .order_by("next_visit_on", "pk")
        .first()
    )


def body_map(*, lesions: list[Lesion]) -> tuple[list[dict], list[Lesion]]:
    """The markers of the patient page's body map (lesions with a position, each with its latest
    risk) and the lesions not placed yet."""
    markers, unplaced = [], []
    for lesion in lesions:
        if not lesion.has_body_map_position:
            unplaced.append(lesion)
            continue
        risk = getattr(lesion, "latest_risk", None)
        markers.append(
            {
                "lesion": lesion,
                "url": lesion.get_absolute_url(),
                "label": lesion.label,
                "view": lesion.body_map_view,
                "x": lesion.body_map_x,
                "y": lesion.body_map_y,
                "risk_level": risk or None,
                "risk_label": RiskLevel(risk).label if risk else "No result",
                "site": lesion.get_anatomic_site_display(),
            }
        )
    return markers, unplaced


def lesion_image_get(*, lesion: Lesion, pk: int) -> LesionImage:
    """One of the lesion's images (404 for any other)."""
    return get_object_or_404(lesion.images.select_related("lesion"), pk=pk)


def comparison_pair(
    *, lesion: Lesion, from_pk: int | None, to_pk: int | None
) -> tuple[LesionImage, LesionImage] | None:
    """The two images to compare: the ones asked for (each 404 unless of this lesion), or by
    default the latest visit and the one before; None when the lesion has fewer than two."""
    if from_pk is None and to_pk is None:
        return default_pair(lesion=lesion)
    if from_pk is None or to_pk is None:
        pair = default_pair(lesion=lesion)
        if pair is None:
            return None
        from_pk = from_pk if from_pk is not None else pair[0].pk
        to_pk = to_pk if to_pk is not None else pair[1].pk
    return lesion_image_get(lesion=lesion, pk=from_pk), lesion_image_get(lesion=lesion, pk=to_pk)
