"""API representations of review decisions, histopathology, the queue and outcomes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from accounts.serializers import UserSummarySerializer
from cases.models import Lesion
from cases.serializers import VisiblePrimaryKeyField
from cases.validators import validate_not_in_future
from inference.models import DiagnosisClass, Prediction, QualityStatus, RiskLevel

from .models import (
    MAX_FOLLOW_UP_MONTHS,
    Histopathology,
    HistopathologyDiagnosis,
    RecommendedAction,
    Review,
    ReviewDiagnosis,
)

REVIEW_EXAMPLE = {
    "id": 4,
    "lesion": 31,
    "prediction": 140,
    "reviewer": {"id": 3, "username": "drreview", "display_name": "Dr Rana Review"},
    "agrees_with_model": True,
    "diagnosis": "MEL",
    "action": "biopsy_excision",
    "follow_up_months": None,
    "notes": "Atypical network, regression structures.",
    "created_at": "2026-11-21T10:02:11Z",
}


@extend_schema_serializer(examples=[OpenApiExample("A review decision", value=REVIEW_EXAMPLE, response_only=True)])
class ReviewSerializer(serializers.ModelSerializer):
    reviewer = UserSummarySerializer(read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "lesion",
            "prediction",
            "reviewer",
            "agrees_with_model",
            "diagnosis",
            "action",
            "follow_up_months",
            "notes",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Review the latest result of a lesion",
            value={
                "prediction": 140,
                "agrees_with_model": False,
                "diagnosis": "NV",
                "action": "short_term_follow_up",
                "follow_up_months": 3,
                "notes": "Symmetric; recheck in 3 months.",
            },
            request_only=True,
        )
    ]
)
class ReviewInputSerializer(serializers.Serializer):
    prediction = VisiblePrimaryKeyField(
        queryset=Prediction.objects.select_related("image__lesion__patient"),
        help_text="The result reviewed: the case's current one (see review-queue/); otherwise 409.",
    )
    agrees_with_model = serializers.BooleanField()
    diagnosis = serializers.ChoiceField(choices=ReviewDiagnosis.choices)
    action = serializers.ChoiceField(choices=RecommendedAction.choices)
    follow_up_months = serializers.IntegerField(
        min_value=1, max_value=MAX_FOLLOW_UP_MONTHS, required=False, allow_null=True
    )
    notes = serializers.CharField(allow_blank=True, default="")


HISTOPATHOLOGY_EXAMPLE = {
    "id": 2,
    "lesion": 31,
    "diagnosis": "MEL",
    "diagnosed_on": "2026-11-28",
    "report": "Superficial spreading melanoma, Breslow 0.4 mm, margins clear.",
    "entered_by": {"id": 7, "username": "asmith", "display_name": "Alice Smith"},
    "created_at": "2026-11-29T08:00:00Z",
}


@extend_schema_serializer(
    examples=[OpenApiExample("A histopathology result", value=HISTOPATHOLOGY_EXAMPLE, response_only=True)]
)
class HistopathologySerializer(serializers.ModelSerializer):
    entered_by = UserSummarySerializer(read_only=True)

    class Meta:
        model = Histopathology
        fields = ["id", "lesion", "diagnosis", "diagnosed_on", "report", "entered_by", "created_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Record a result",
            value={k: HISTOPATHOLOGY_EXAMPLE[k] for k in ("lesion", "diagnosis", "diagnosed_on", "report")},
            request_only=True,
        )
    ]
)
class HistopathologyInputSerializer(serializers.Serializer):
    lesion = VisiblePrimaryKeyField(queryset=Lesion.objects.all())
    diagnosis = serializers.ChoiceField(choices=HistopathologyDiagnosis.choices)
    diagnosed_on = serializers.DateField(validators=[validate_not_in_future])
    report = serializers.CharField()


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A case waiting for review",
            value={
                "lesion": 31,
                "label": "Pigmented lesion left scapula",
                "anatomic_site": "posterior torso",
                "patient": 12,
                "clinician": {"id": 7, "username": "asmith", "display_name": "Alice Smith"},
                "prediction": 140,
                "risk_level": "high",
                "predicted_class": "MEL",
                "needs_new_image": False,
                "result_since": "2026-11-20T09:20:42Z",
                "awaiting_results": False,
            },
            response_only=True,
        )
    ]
)
class QueueItemSerializer(serializers.Serializer):
    lesion = serializers.IntegerField(source="pk")
    label = serializers.CharField()
    anatomic_site = serializers.CharField()
    patient = serializers.IntegerField(source="patient_id")
    clinician = UserSummarySerializer(source="patient.owner")
    prediction = serializers.IntegerField(source="latest_prediction_id")
    risk_level = serializers.ChoiceField(
        source="latest_risk", choices=RiskLevel.choices, allow_null=True, help_text="Null when it needs a new image."
    )
    predicted_class = serializers.ChoiceField(
        source="latest_class",
        choices=DiagnosisClass.choices,
        allow_null=True,
        help_text="Null when it needs a new image.",
    )
    needs_new_image = serializers.SerializerMethodField(
        help_text=(
            "True when the quality gate could not judge the latest result's image: its figures are withheld, it "
            "ranks after medium and before low risk, and it cannot be agreed in bulk."
        )
    )
    result_since = serializers.DateTimeField(source="latest_finished_at")
    awaiting_results = serializers.BooleanField(
        help_text=(
            "True when an image of the reviewed visit or a later one has no result (not analysed yet, "
            "queued, running, failed or could not be judged): the result does not cover it."
        )
    )

    def get_needs_new_image(self, lesion) -> bool:
        return lesion.latest_quality_status == QualityStatus.REJECTED


class _MelanomaSerializer(serializers.Serializer):
    true_positive = serializers.IntegerField()
    false_negative = serializers.IntegerField()
    false_positive = serializers.IntegerField()
    true_negative = serializers.IntegerField()
    sensitivity = serializers.FloatField(allow_null=True)
    specificity = serializers.FloatField(allow_null=True)


class _ConfusionSerializer(serializers.Serializer):
    rows = serializers.CharField()
    columns = serializers.CharField()
    counts = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))


class _ComparisonSerializer(serializers.Serializer):
    cases = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)
    confusion_matrix = _ConfusionSerializer()
    melanoma = _MelanomaSerializer()


class _ModelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.CharField()


def _comparison_example(tp: int, fn: int, fp: int, tn: int) -> dict:
    return {
        "cases": tp + fn + fp + tn,
        "accuracy": 0.75,
        "confusion_matrix": {
            "rows": "reference",
            "columns": "model",
            "counts": {
                "BCC": {"BCC": 1, "MEL": 0, "NV": 0},
                "MEL": {"BCC": 0, "MEL": tp, "NV": fn},
                "NV": {"BCC": 0, "MEL": fp, "NV": tn - 1},
                "other": {"BCC": 0, "MEL": 0, "NV": 0},
            },
        },
        "melanoma": {
            "true_positive": tp,
            "false_negative": fn,
            "false_positive": fp,
            "true_negative": tn,
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
        },
    }


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Outcomes of the bundled model",
            value={
                "model_version": {"id": 2, "name": "skinportal-mobilenetv2", "version": "1.0.0"},
                "predictions_succeeded": 120,
                "reviews": 9,
                "reviews_unsure": 1,
                "agreement_rate": 0.78,
                "versus_reviewers": _comparison_example(3, 1, 1, 3),
                "versus_histopathology": _comparison_example(2, 0, 1, 1),
            },
            response_only=True,
        )
    ]
)
class OutcomesSerializer(serializers.Serializer):
    model_version = _ModelRefSerializer()
    predictions_succeeded = serializers.IntegerField()
    reviews = serializers.IntegerField()
    reviews_unsure = serializers.IntegerField()
    agreement_rate = serializers.FloatField(allow_null=True)
    versus_reviewers = _ComparisonSerializer()
    versus_histopathology = _ComparisonSerializer()
