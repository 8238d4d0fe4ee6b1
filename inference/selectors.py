"""Reads for predictions, always through the cases access rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Case, CharField, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.shortcuts import get_object_or_404

from accounts.models import User
from core import permissions

from .models import ModelVersion, Prediction, PredictionStatus, QualityStatus, RiskLevel

if TYPE_CHECKING:
    from cases.models import Lesion, LesionImage


def model_version_by_name(*, reference: str) -> ModelVersion | None:
    """The registered version named ``NAME:VERSION``, or None."""
    name, _, version = reference.rpartition(":")
    if not name:
        return None
    return ModelVersion.objects.filter(name=name, version=version).first()


def model_version_for_report(*, pk: int | None = None) -> ModelVersion | None:
    """The model version a report is about: the one with id ``pk`` (404 if there is none), else
    the active one, else the newest registered; None when no version is registered."""
    if pk is not None:
        return get_object_or_404(ModelVersion, pk=pk)
    return ModelVersion.objects.active() or ModelVersion.objects.order_by("-created_at", "-pk").first()


def result_figures_shown(*, prediction: Prediction | None, user: User) -> bool:
    """Whether ``user`` sees this prediction's figures (probabilities, class, risk, heatmap): it
    has succeeded and is not withheld by the quality gate, or the user may see withheld results
    (``core.permissions.can_see_withheld_result``: admins, for audit). The image page, the
    lesion timeline, the review page, the API and the heatmap in both channels all ask this."""
    if prediction is None or prediction.status != PredictionStatus.SUCCEEDED:
        return False
    return not prediction.is_withheld or permissions.can_see_withheld_result(user=user)


def prediction_get(*, user: User, pk: int) -> Prediction:
    return get_object_or_404(
        Prediction.objects.visible_to(user).select_related("model_version", "image__lesion__patient"), pk=pk
    )


def image_predictions(*, image: LesionImage) -> QuerySet[Prediction]:
    """Every prediction of an image, newest first."""
    return image.predictions.select_related("model_version", "requested_by").order_by("-created_at", "-pk")


def current_prediction(predictions: Iterable[Prediction], *, active: ModelVersion | None) -> Prediction | None:
    """The prediction an image shows, from its predictions newest first: the latest succeeded one
    of the active model; else one of the active model still queued or running; else the
    latest of the active model (failed); else the latest succeeded one of any version."""
    predictions = list(predictions)
    of_active = [p for p in predictions if active is not None and p.model_version_id == active.pk]
    for candidates, statuses in (
        (of_active, {PredictionStatus.SUCCEEDED}),
        (of_active, {PredictionStatus.QUEUED, PredictionStatus.RUNNING}),
        (of_active, {PredictionStatus.FAILED}),
        (predictions, {PredictionStatus.SUCCEEDED}),
    ):
        for prediction in candidates:
            if prediction.status in statuses:
                return prediction
    return None


def image_analysis(*, image: LesionImage) -> tuple[Prediction | None, list[Prediction], bool]:
    """(the prediction to show, the others as history, whether any is still queued or running)."""
    predictions = list(image_predictions(image=image))
    current = current_prediction(predictions, active=ModelVersion.objects.active())
    pending = any(not p.is_finished for p in predictions)
    return current, [p for p in predictions if p != current], pending


def timeline_risks(*, images: Iterable[LesionImage]) -> dict[int, Prediction | None]:
    """The shown prediction of each image, in two queries whatever the number of images."""
    images = list(images)
    active = ModelVersion.objects.active()
    by_image: dict[int, list[Prediction]] = {image.pk: [] for image in images}
    for prediction in Prediction.objects.filter(image__in=images).order_by("-created_at", "-pk"):
        by_image[prediction.image_id].append(prediction)
    return {pk: current_prediction(predictions, active=active) for pk, predictions in by_image.items()}


#: How a result needing a new image (withheld by the quality gate) ranks: after medium risk,
#: before low risk. A case the model could not judge is never treated as a low-risk one.
WITHHELD_RANK = 2


def risk_rank(field: str = "risk_level", *, quality_field: str = "quality_status") -> Case:
    """An expression ranking a result for ordering: high 0, medium 1, withheld (the quality gate
    rejected the image: it needs a new one) 2, low or anything else 3. The withheld rule comes
    first, so a rejected result's own (withheld) risk level never counts."""
    return Case(
        When(**{quality_field: QualityStatus.REJECTED}, then=Value(WITHHELD_RANK)),
        When(**{field: RiskLevel.HIGH}, then=Value(0)),
        When(**{field: RiskLevel.MEDIUM}, then=Value(1)),
        default=Value(3),
        output_field=IntegerField(),
    )


def _unless_withheld(field: str) -> Case:
    """A result's field, or null when the quality gate withheld the result."""
    return Case(
        When(quality_status=QualityStatus.REJECTED, then=Value(None)), default=F(field), output_field=CharField()
    )


def lesions_with_latest_result(lesions: QuerySet[Lesion]) -> QuerySet[Lesion]:
    """Annotate the lesion's latest result, in the same query: of the most recent visit's
    succeeded predictions, the most concerning one (highest risk, an image that needs retaking
    above low risk (``risk_rank``); then the active model's, then the newest), so that no
    high-risk image of a visit hides behind a low-risk one: ``latest_prediction_id``,
    ``latest_risk``, ``latest_class`` (both null when the result is withheld, for everyone),
    ``latest_quality_status`` and ``latest_finished_at``."""
    latest = Prediction.objects.filter(image__lesion=OuterRef("pk"), status=PredictionStatus.SUCCEEDED).order_by(
        "-image__captured_on",
        risk_rank(),
        F("model_version__is_active").desc(),
        "-created_at",
        "-pk",
    )
    return lesions.annotate(
        latest_prediction_id=Subquery(latest.values("pk")[:1]),
        latest_risk=Subquery(latest.annotate(shown=_unless_withheld("risk_level")).values("shown")[:1]),
        latest_class=Subquery(latest.annotate(shown=_unless_withheld("predicted_class")).values("shown")[:1]),
        latest_quality_status=Subquery(latest.values("quality_status")[:1]),
        latest_finished_at=Subquery(latest.values("finished_at")[:1]),
    )


def prediction_list(*, user: User) -> QuerySet[Prediction]:
    return Prediction.objects.visible_to(user).order_by("-created_at", "-pk")


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.order_by("-created_at", "-pk")
