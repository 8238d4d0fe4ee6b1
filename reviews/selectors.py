"""Reads for case review: the queue, decisions and histopathology of a lesion, and how each
model version performs against reviewers and histopathology in this clinic."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from accounts.models import User
from cases.models import Lesion, LesionImage
from inference.models import ModelVersion, Prediction, RiskLevel
from inference.selectors import lesions_with_latest_result, risk_rank
from tracking.selectors import with_change_flag

from .models import Histopathology, Review

#: Highest risk first; within a risk level, lesions flagged changed first; then the longest waiting.
REVIEW_QUEUE_ORDER = ["risk_rank", "-changed", "latest_finished_at", "pk"]


def review_queue(
    *,
    user: User,
    risk_level: str = "",
    predicted_class: str = "",
    clinician: int | None = None,
    anatomic_site: str = "",
) -> QuerySet[Lesion]:
    """Lesion cases whose latest result is not reviewed yet: highest risk first (a result the
    quality gate withheld, "needs a new image", after medium and before low risk), within a
    risk level the lesions flagged changed first, then the longest waiting. Each lesion carries
    its ``latest_*`` annotations, ``changed``, and ``awaiting_results``: whether an image of
    that result's visit or a later one has no result to show yet."""
    lesions = with_change_flag(lesions_with_latest_result(Lesion.objects.visible_to(user))).filter(
        latest_prediction_id__isnull=False
    )
    lesions = lesions.annotate(
        reviewed=Exists(Review.objects.filter(prediction_id=OuterRef("latest_prediction_id"))),
        risk_rank=risk_rank("latest_risk", quality_field="latest_quality_status"),
        latest_captured_on=Subquery(
            Prediction.objects.filter(pk=OuterRef("latest_prediction_id")).values("image__captured_on")[:1]
        ),
        awaiting_results=Exists(_images_without_result(lesion=OuterRef("pk"), since=OuterRef("latest_captured_on"))),
    ).filter(reviewed=False)
    if risk_level:
        lesions = lesions.filter(latest_risk=risk_level)
    if predicted_class:
        lesions = lesions.filter(latest_class=predicted_class)
    if clinician:
        lesions = lesions.filter(patient__owner_id=clinician)
    if anatomic_site:
        lesions = lesions.filter(anatomic_site=anatomic_site)
    return lesions.select_related("patient__owner").order_by(*REVIEW_QUEUE_ORDER)


def _images_without_result(*, lesion: Lesion | OuterRef, since: datetime.date | OuterRef) -> QuerySet[LesionImage]:
    succeeded = Prediction.objects.filter(image=OuterRef("pk")).shown()
    return LesionImage.objects.filter(lesion=lesion, captured_on__gte=since).exclude(Exists(succeeded))


def images_without_result(*, lesion: Lesion, since: datetime.date) -> QuerySet[LesionImage]:
    """Images of the lesion from ``since`` on (the reviewed visit and later ones) that have no
    result to show: still queued or running, failed, or withheld by the quality gate. The latest result falls back to
    the most recent visit with a result, so a reviewer must know what it does not cover."""
    return _images_without_result(lesion=lesion, since=since).order_by("captured_on", "pk")


def review_target(*, lesion: Lesion) -> Prediction | None:
    """The prediction a review of this lesion decides on: its latest result."""
    annotated = lesions_with_latest_result(Lesion.objects.filter(pk=lesion.pk)).values("latest_prediction_id").first()
    if not annotated or annotated["latest_prediction_id"] is None:
        return None
    return Prediction.objects.select_related("image", "model_version").get(pk=annotated["latest_prediction_id"])


def routine_agreement_refusal(*, lesion: Lesion, prediction: Prediction | None) -> str | None:
    """Why this case may not be agreed in bulk ("agree, routine monitoring"), or None if it may:
    only a low-risk nevus whose result covers every image of its visit and later ones. Anything
    else needs the review page, and a result withheld by the quality gate most of all."""
    if prediction is not None and prediction.is_withheld:
        return "needs a new image (the model could not judge it); review it on its page."
    if prediction is not None and images_without_result(lesion=lesion, since=prediction.image.captured_on).exists():
        return "has images without a result; review it on its page."
    if prediction is None or (prediction.risk_level, prediction.predicted_class) != (RiskLevel.LOW, "NV"):
        return "not a low-risk nevus; review it on its page."
    return None


def lesion_reviews(*, lesion: Lesion) -> QuerySet[Review]:
    return lesion.reviews.select_related("reviewer", "prediction").order_by("-created_at", "-pk")


def lesion_histopathology(*, lesion: Lesion) -> QuerySet[Histopathology]:
    return lesion.histopathology_results.select_related("entered_by").order_by("-diagnosed_on", "-created_at", "-pk")


def review_list(*, user: User) -> QuerySet[Review]:
    return Review.objects.visible_to(user).select_related("reviewer", "prediction").order_by("-created_at", "-pk")


def review_get(*, user: User, pk: int) -> Review:
    return get_object_or_404(review_list(user=user), pk=pk)


def histopathology_list(*, user: User) -> QuerySet[Histopathology]:
    return Histopathology.objects.visible_to(user).select_related("entered_by").order_by("-diagnosed_on", "-pk")


# Outcomes -------------------------------------------------------------------------------

MODEL_CLASSES = ("BCC", "MEL", "NV")
REFERENCE_CLASSES = ("BCC", "MEL", "NV", "other")


@dataclass
class Comparison:
    """The model's class against a reference diagnosis, one pair per case."""

    # confusion[reference][predicted] = count
    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {ref: dict.fromkeys(MODEL_CLASSES, 0) for ref in REFERENCE_CLASSES}
    )

    def add(self, *, reference: str, predicted: str) -> None:
        self.confusion[reference][predicted] += 1

    @property
    def cases(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def correct(self) -> int:
        return sum(self.confusion[label][label] for label in MODEL_CLASSES)

    def as_dict(self) -> dict:
        melanoma = self.confusion["MEL"]
        true_positive = melanoma["MEL"]
        false_negative = melanoma["BCC"] + melanoma["NV"]
        false_positive = sum(self.confusion[ref]["MEL"] for ref in REFERENCE_CLASSES if ref != "MEL")
        true_negative = self.cases - true_positive - false_negative - false_positive
        return {
            "cases": self.cases,
            "accuracy": _ratio(self.correct, self.cases),
            "confusion_matrix": {"rows": "reference", "columns": "model", "counts": self.confusion},
            "melanoma": {
                "true_positive": true_positive,
                "false_negative": false_negative,
                "false_positive": false_positive,
                "true_negative": true_negative,
                "sensitivity": _ratio(true_positive, true_positive + false_negative),
                "specificity": _ratio(true_negative, true_negative + false_positive),
            },
        }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def model_outcomes(*, model_version: ModelVersion) -> dict:
    """How ``model_version`` performs in this clinic: its predicted class against reviewers'
    diagnoses (each review of one of its predictions; "unsure" counted apart) and against
    histopathology (per lesion with a result: the latest histopathology against the version's
    latest succeeded prediction on that lesion), with melanoma sensitivity and specificity,
    the reviewers' agreement rate and the counts."""
    # Results withheld by the quality gate were never shown: they are no outcome of the model's.
    succeeded = Prediction.objects.filter(model_version=model_version).shown()

    by_review = Comparison()
    reviews = Review.objects.filter(prediction__in=succeeded).values_list(
        "diagnosis", "agrees_with_model", "prediction__predicted_class"
    )
    agreeing = unsure = 0
    for diagnosis, agrees, predicted in reviews:
        agreeing += agrees
        if diagnosis == "unsure":
            unsure += 1
        else:
            by_review.add(reference=diagnosis, predicted=predicted)

    by_histopathology = Comparison()
    latest_predictions = (
        succeeded.order_by(
            "image__lesion_id", "-image__captured_on", "-image__uploaded_at", "-image__pk", "-created_at", "-pk"
        )
        .filter(image__lesion__histopathology_results__isnull=False)
        .distinct()
        .values_list("image__lesion_id", "predicted_class")
    )
    latest_class: dict[int, str] = {}
    for lesion_id, predicted in latest_predictions:
        latest_class.setdefault(lesion_id, predicted)
    seen: set[int] = set()
    for lesion_id, diagnosis in Histopathology.objects.filter(lesion_id__in=latest_class).values_list(
        "lesion_id", "diagnosis"
    ):  # newest first (the model's ordering)
        if lesion_id not in seen:
            seen.add(lesion_id)
            by_histopathology.add(reference=diagnosis, predicted=latest_class[lesion_id])

    review_count = len(reviews)
    return {
        "model_version": {"id": model_version.pk, "name": model_version.name, "version": model_version.version},
        "predictions_succeeded": succeeded.count(),
        "reviews": review_count,
        "reviews_unsure": unsure,
        "agreement_rate": _ratio(agreeing, review_count),
        "versus_reviewers": by_review.as_dict(),
        "versus_histopathology": by_histopathology.as_dict(),
    }
