"""API representations of model versions and predictions."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.reverse import reverse

from . import selectors
from .models import DiagnosisClass, ModelVersion, Prediction, QualityStatus, RiskLevel

PREDICTION_EXAMPLE = {
    "id": 140,
    "image": 88,
    "model_version": 2,
    "status": "succeeded",
    "probabilities": {"BCC": 0.04, "MEL": 0.61, "NV": 0.35},
    "predicted_class": "MEL",
    "malignant": True,
    "risk_level": "high",
    "heatmap_url": "https://skinportal.example/api/v1/predictions/140/heatmap/",
    "heatmap_class": "MEL",
    "quality": {
        "status": "ok",
        "reasons": [],
        "scores": {"resolution_px": 1024.0, "focus_laplacian": 61.2, "mean_luminance": 131.5, "mahalanobis": 19.8},
    },
    "withheld": False,
    "error": "",
    "created_at": "2026-11-20T09:20:41Z",
    "finished_at": "2026-11-20T09:20:42Z",
}


class QualityReasonSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text=(
            'A stable code: "low_resolution", "out_of_focus", "over_exposed", "under_exposed", "not_skin" '
            'or "out_of_distribution".'
        )
    )
    severity = serializers.ChoiceField(choices=["warning", "rejected"])
    message = serializers.CharField(help_text='In plain words, e.g. "out of focus".')
    advice = serializers.CharField(help_text="How to take a better image.")


class QualitySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=QualityStatus.choices,
        help_text="ok; warning (the result is shown, with the reasons); rejected (the result is withheld).",
    )
    reasons = QualityReasonSerializer(many=True)
    scores = serializers.DictField(child=serializers.FloatField(), help_text="The gate's measurements.")


class ProbabilitiesSerializer(serializers.Serializer):
    BCC = serializers.FloatField(min_value=0, max_value=1, help_text="Basal cell carcinoma (malignant).")
    MEL = serializers.FloatField(min_value=0, max_value=1, help_text="Melanoma (malignant).")
    NV = serializers.FloatField(min_value=0, max_value=1, help_text="Nevus (benign).")


@extend_schema_serializer(
    examples=[
        OpenApiExample("A succeeded prediction", value=PREDICTION_EXAMPLE, response_only=True),
        OpenApiExample(
            "A failed prediction",
            value={
                **PREDICTION_EXAMPLE,
                "status": "failed",
                "probabilities": None,
                "predicted_class": None,
                "malignant": None,
                "risk_level": None,
                "heatmap_url": None,
                "heatmap_class": None,
                "quality": None,
                "error": "The stored image cannot be decoded: image file is truncated.",
            },
            response_only=True,
        ),
        OpenApiExample(
            "A withheld result (the image could not be judged), as a clinician or reviewer sees it",
            value={
                **PREDICTION_EXAMPLE,
                "probabilities": None,
                "predicted_class": None,
                "malignant": None,
                "risk_level": None,
                "heatmap_url": None,
                "heatmap_class": None,
                "quality": {
                    "status": "rejected",
                    "reasons": [
                        {
                            "code": "out_of_focus",
                            "severity": "rejected",
                            "message": "out of focus",
                            "advice": "Hold the dermatoscope still and focus on the lesion before taking the picture.",
                        }
                    ],
                    "scores": {
                        "resolution_px": 450.0,
                        "focus_laplacian": 4.546,
                        "focus_tenengrad": 0.65,
                        "clipped_highlights": 0.001,
                        "clipped_shadows": 0.0,
                        "mean_luminance": 112.946,
                        "skin_fraction": 1.0,
                        "colourfulness": 36.145,
                        "appearance_distance": 3.114,
                        "energy": -3.373,
                        "mahalanobis": 23.978,
                    },
                },
                "withheld": True,
            },
            response_only=True,
        ),
    ]
)
class PredictionSerializer(serializers.ModelSerializer):
    """Result fields are null until the prediction has succeeded, and when its result is
    withheld (``withheld``: the quality gate could not judge the image) unless you are an admin."""

    probabilities = serializers.SerializerMethodField()
    predicted_class = serializers.SerializerMethodField()
    malignant = serializers.SerializerMethodField()
    risk_level = serializers.SerializerMethodField()
    heatmap_class = serializers.SerializerMethodField()
    heatmap_url = serializers.SerializerMethodField()
    quality = serializers.SerializerMethodField()
    withheld = serializers.BooleanField(
        source="is_withheld",
        read_only=True,
        help_text=(
            "True when the quality gate could not judge the image: the result's figures are null for "
            "clinicians and reviewers (admins see them, for audit) and its heatmap answers 409."
        ),
    )

    class Meta:
        model = Prediction
        fields = [
            "id",
            "image",
            "model_version",
            "status",
            "probabilities",
            "predicted_class",
            "malignant",
            "risk_level",
            "heatmap_url",
            "heatmap_class",
            "quality",
            "withheld",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def _shown(self, prediction: Prediction) -> bool:
        """Succeeded, and its figures are shown to the requesting user (the one rule of every channel)."""
        request = self.context.get("request")
        return selectors.result_figures_shown(prediction=prediction, user=getattr(request, "user", None))

    @extend_schema_field(ProbabilitiesSerializer(allow_null=True))
    def get_probabilities(self, prediction: Prediction) -> dict | None:
        return prediction.probabilities if self._shown(prediction) else None

    @extend_schema_field(serializers.ChoiceField(choices=DiagnosisClass.choices, allow_null=True))
    def get_predicted_class(self, prediction: Prediction) -> str | None:
        return prediction.predicted_class if self._shown(prediction) else None

    @extend_schema_field(serializers.BooleanField(allow_null=True, help_text="The predicted class is BCC or MEL."))
    def get_malignant(self, prediction: Prediction) -> bool | None:
        return prediction.malignant if self._shown(prediction) else None

    @extend_schema_field(serializers.ChoiceField(choices=RiskLevel.choices, allow_null=True))
    def get_risk_level(self, prediction: Prediction) -> str | None:
        return prediction.risk_level if self._shown(prediction) else None

    @extend_schema_field(serializers.ChoiceField(choices=DiagnosisClass.choices, allow_null=True))
    def get_heatmap_class(self, prediction: Prediction) -> str | None:
        return prediction.heatmap_class if self._shown(prediction) else None

    @extend_schema_field(
        QualitySerializer(
            allow_null=True,
            help_text="The image quality and out-of-scope gate's verdict; null until succeeded and for results "
            "from before the gate.",
        )
    )
    def get_quality(self, prediction: Prediction) -> dict | None:
        if not prediction.quality_status:
            return None
        return {
            "status": prediction.quality_status,
            "reasons": prediction.quality_reasons,
            "scores": dict((prediction.quality or {}).get("scores", {})),
        }

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_heatmap_url(self, prediction: Prediction) -> str | None:
        if not self._shown(prediction):
            return None
        return reverse("api:prediction-heatmap", kwargs={"pk": prediction.pk}, request=self.context.get("request"))


class PredictRequestSerializer(serializers.Serializer):
    model_version = serializers.PrimaryKeyRelatedField(
        queryset=ModelVersion.objects.all(),
        required=False,
        allow_null=True,
        help_text="A registered model version's id; the active version when omitted.",
    )


class HeatmapQuerySerializer(serializers.Serializer):
    # "class" is a Python keyword, hence the source mapping in the view.
    opacity = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Heatmap opacity over the image; 1 = the map alone."
    )


class QualityGateSummarySerializer(serializers.Serializer):
    statistics_sha256 = serializers.CharField(
        help_text="SHA-256 of the version's out-of-scope statistics; empty when it has none (image checks only)."
    )
    out_of_scope_thresholds = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField()),
        help_text='Scores above these are flagged: {"energy": {"warning", "rejected"}, "mahalanobis": {...}}.',
    )
    false_reject_rate_test = serializers.FloatField(
        allow_null=True, help_text="Share of the held-out test split's good images the whole gate rejects."
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "The bundled model",
            value={
                "id": 2,
                "name": "skinportal-mobilenetv2",
                "version": "1.1.0",
                "architecture": "MobileNetV2 (alpha 1.0), global average pooling, dense softmax",
                "input_size": 224,
                "class_labels": ["BCC", "MEL", "NV"],
                "preprocessing": "rgb-exif-bilinear-mobilenetv2-v1",
                "temperature": 1.094,
                "thresholds": {"medium": 0.176, "high": 0.3312},
                "metrics": {"balanced_accuracy": 0.818, "auc": {"BCC": 0.985, "MEL": 0.898, "NV": 0.909}},
                "quality_gate": {
                    "statistics_sha256": "88012819e6d2" + "0" * 52,
                    "out_of_scope_thresholds": {
                        "energy": {"warning": -1.089, "rejected": -1.089},
                        "mahalanobis": {"warning": 45.95, "rejected": 45.95},
                    },
                    "false_reject_rate_test": 0.035,
                },
                "is_active": True,
                "created_at": "2026-11-01T12:00:00Z",
            },
            response_only=True,
        )
    ]
)
class ModelVersionSerializer(serializers.ModelSerializer):
    class_labels = serializers.ListField(child=serializers.CharField())
    thresholds = serializers.DictField(child=serializers.FloatField(), help_text="Risk thresholds on P(BCC) + P(MEL).")
    metrics = serializers.JSONField(help_text="Held-out evaluation (see docs/model-evaluation.md).")
    quality_gate = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "version",
            "architecture",
            "input_size",
            "class_labels",
            "preprocessing",
            "temperature",
            "thresholds",
            "metrics",
            "quality_gate",
            "is_active",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(QualityGateSummarySerializer)
    def get_quality_gate(self, version: ModelVersion) -> dict:
        """The version's quality gate, from its card (what it was fitted and measured with)."""
        quality = (version.card or {}).get("quality", {})
        test_rates = quality.get("ood_flag_rates", {}).get("test", {})
        return {
            "statistics_sha256": version.quality_statistics_sha256,
            "out_of_scope_thresholds": quality.get("ood_thresholds", {}),
            "false_reject_rate_test": test_rates.get("gate_rejected", test_rates.get("rejected")),
        }
