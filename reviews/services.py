"""Writes for case review: decisions and histopathology results. The review pages, the
admin and the API call these; the owning clinician is notified of each decision."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from cases.models import Lesion
from cases.services import lesion_schedule_follow_up
from core import permissions
from inference.models import Prediction
from notifications.models import NotificationKind
from notifications.services import notification_send

from .models import MAX_FOLLOW_UP_MONTHS, Histopathology, RecommendedAction, Review, ReviewDiagnosis
from .selectors import review_target, routine_agreement_refusal


class ReviewConflict(Exception):
    """The result is no longer the one to review (reviewed already, or a newer one arrived)."""


class RoutineAgreementRefused(Exception):
    """The case is not one that may be agreed in bulk (see ``selectors.routine_agreement_refusal``)."""


def require_reviewer(*, user: User) -> None:
    """Reviewing (the queue, decisions, outcomes) is for reviewers and admins: anyone else gets
    PermissionDenied, a 403 in the web UI and the API alike."""
    if not permissions.can_review(user=user):
        raise PermissionDenied("Only reviewers and admins can review cases.")


def _check_decision(*, prediction: Prediction, agrees_with_model: bool, diagnosis: str) -> None:
    """Agreeing means the reviewer's diagnosis is the model's class; disagreeing, another one
    (or "unsure"). Outcomes count on this. A result withheld by the quality gate shows the
    reviewer no class to agree with: it may only be disagreed with, with any diagnosis (and the
    refusal names no class, which would give the withheld figure away)."""
    if prediction.is_withheld:
        if agrees_with_model:
            raise ValidationError(
                {"agrees_with_model": "The model could not judge this image, so there is no result to agree with."}
            )
        return
    if agrees_with_model and diagnosis != prediction.predicted_class:
        raise ValidationError(
            {"diagnosis": f"You agree with the model, so your diagnosis is {prediction.predicted_class}."}
        )
    if not agrees_with_model and diagnosis == prediction.predicted_class:
        raise ValidationError({"diagnosis": "You disagree with the model: choose another diagnosis, or “unsure”."})


@transaction.atomic
def review_create(
    *,
    prediction: Prediction,
    reviewer: User,
    agrees_with_model: bool,
    diagnosis: str,
    action: str,
    follow_up_months: int | None = None,
    notes: str = "",
) -> Review:
    """Record a reviewer's decision on the result they saw (``prediction``), which must still
    be the lesion's result to review, and tell the patient's owner."""
    require_reviewer(user=reviewer)
    lesion = prediction.image.lesion
    Lesion.objects.select_for_update().filter(pk=lesion.pk).first()  # one decision at a time per lesion
    if Review.objects.filter(prediction=prediction).exists():
        raise ReviewConflict("This result has been reviewed already.")
    if review_target(lesion=lesion) != prediction:
        raise ReviewConflict("A newer or more concerning result of this case has arrived: review that one.")
    if diagnosis not in ReviewDiagnosis.values:
        raise ValidationError({"diagnosis": f"Unknown diagnosis {diagnosis!r}."})
    _check_decision(prediction=prediction, agrees_with_model=agrees_with_model, diagnosis=diagnosis)
    if action != RecommendedAction.SHORT_TERM_FOLLOW_UP:
        follow_up_months = None
    elif follow_up_months is None or not 1 <= follow_up_months <= MAX_FOLLOW_UP_MONTHS:
        raise ValidationError(
            {"follow_up_months": f"Say in how many months to follow up (1 to {MAX_FOLLOW_UP_MONTHS})."}
        )
    review = Review(
        lesion=lesion,
        prediction=prediction,
        reviewer=reviewer,
        agrees_with_model=agrees_with_model,
        diagnosis=diagnosis,
        action=action,
        follow_up_months=follow_up_months,
        notes=notes.strip(),
    )
    review.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            review.save()
    except IntegrityError as error:  # pragma: no cover - the lesion lock makes this a race of two databases
        raise ReviewConflict("This result has been reviewed already.") from error
    if follow_up_months is not None:
        # The recommendation becomes the lesion's monitoring plan: its next visit is due then.
        lesion_schedule_follow_up(lesion=lesion, months=follow_up_months)
    notification_send(
        recipient=lesion.patient.owner,
        kind=NotificationKind.CASE_REVIEWED,
        title=f"Case reviewed: {lesion.label}",
        body=(
            f"{reviewer.display_name} reviewed this case: {review.get_diagnosis_display()}; "
            f"recommended: {review.action_display}."
        ),
        url=lesion.get_absolute_url(),
        lesion=lesion,
        event_key=f"review:{review.pk}",
    )
    return review


def _require_can_record_histopathology(*, lesion: Lesion, actor: User) -> None:
    if not permissions.can_record_histopathology(user=actor, lesion=lesion):
        raise PermissionDenied("Only the patient's care team, reviewers and admins can record histopathology.")


@transaction.atomic
def histopathology_add(
    *, lesion: Lesion, entered_by: User, diagnosis: str, diagnosed_on: datetime.date, report: str
) -> Histopathology:
    """Attach a histopathology result (the ground truth) to a lesion."""
    _require_can_record_histopathology(lesion=lesion, actor=entered_by)
    result = Histopathology(
        lesion=lesion, diagnosis=diagnosis, diagnosed_on=diagnosed_on, report=report.strip(), entered_by=entered_by
    )
    result.full_clean()
    result.save()
    return result


def review_agree_routine_monitoring(*, lesion: Lesion, reviewer: User) -> Review:
    """Agree with the model on a low-risk nevus and recommend routine monitoring: the bulk
    action for benign results. Raises RoutineAgreementRefused for any other case."""
    prediction = review_target(lesion=lesion)
    refusal = routine_agreement_refusal(lesion=lesion, prediction=prediction)
    if refusal is not None:
        raise RoutineAgreementRefused(refusal)
    return review_create(
        prediction=prediction,
        reviewer=reviewer,
        agrees_with_model=True,
        diagnosis=prediction.predicted_class,
        action=RecommendedAction.ROUTINE_MONITORING,
    )
