"""Reads for patients, lesions and images, always through the access rule
(``PatientQuerySet.visible_to``). Anything outside it is reported as not found (404)."""

from __future__ import annotations

import datetime

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from inference.selectors import lesions_with_latest_result

from .models import Lesion, LesionImage, Patient, PatientShare


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
    return lesions_with_latest_result(lesions)


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
    return (
        Lesion.objects.visible_to(user)
        .filter(patient=patient)
        .with_image_count()
        .prefetch_related(Prefetch("images", queryset=LesionImage.objects.timeline(), to_attr="timeline_images"))
    )


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
