"""The API shapes of lesion tracking (the dicts of ``tracking.selectors``, documented)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from inference.models import RiskLevel

from .models import ChangeAssessment, ChangeCriterion, ChangeVerdict

# Examples: ISIC_0000029 (a melanoma, 600×450) and the same picture turned 12°, enlarged 10 % and
# shifted, as a later visit; the figures are skinml's own for that pair.
MEASUREMENT_EXAMPLE = {
    "image": 88,
    "status": "succeeded",
    "reason": "",
    "area_px": 97730.3,
    "max_diameter_px": 394.9,
    "perimeter_px": 1180.6,
    "asymmetry": [0.053, 0.042],
    "border_irregularity": 1.135,
    "colours": ["light_brown", "dark_brown", "black"],
    "mean_lab": [23.7, 14.64, 11.25],
    "pixel_spacing_mm": 0.02,
    "mm": {"area_mm2": 39.09, "max_diameter_mm": 7.9, "perimeter_mm": 23.61},
    "algorithm_version": "measure-1",
    "measured_at": "2026-11-20T09:20:44Z",
    "outline": [[[0.341, 0.119], [0.226, 0.314], [0.266, 0.688], [0.501, 0.919], [0.693, 0.857], [0.809, 0.561]]],
}
RESULT_EXAMPLE = {
    "prediction": 140,
    "status": "succeeded",
    "figures_shown": True,
    "withheld": False,
    "withheld_reason": "",
    "risk_level": "high",
    "predicted_class": "MEL",
    "probabilities": {"BCC": 0.04, "MEL": 0.71, "NV": 0.25},
    "model_version": "skinportal-mobilenetv2 1.1.0",
    "heatmap_class": "MEL",
}
COMPARISON_EXAMPLE = {
    "lesion": 31,
    "from": {
        "image": 88,
        "captured_on": "2026-03-01",
        "modality": "dermoscopic",
        "measurements": MEASUREMENT_EXAMPLE,
        "result": {
            **RESULT_EXAMPLE,
            "prediction": 131,
            "risk_level": "medium",
            "probabilities": {"BCC": 0.03, "MEL": 0.38, "NV": 0.59},
            "predicted_class": "NV",
            "heatmap_class": "MEL",
        },
    },
    "to": {
        "image": 97,
        "captured_on": "2026-06-01",
        "modality": "dermoscopic",
        "measurements": {**MEASUREMENT_EXAMPLE, "image": 97, "area_px": 118250.1, "max_diameter_px": 434.6},
        "result": RESULT_EXAMPLE,
    },
    "registration": {
        "status": "succeeded",
        "method": "features",
        "rotation_degrees": 12.0,
        "scale": 0.909,
        "translation_px": [60.5, -25.6],
        "inliers": 615,
        "confidence": 1.0,
        "reason": "",
    },
    "change": {
        "area_percent": -0.1,
        "diameter_percent": 0.0,
        "asymmetry_change": -0.0,
        "colours_gained": [],
        "colours_lost": [],
        "delta_e": 0.63,
        "probability_changes": [
            {"label": "BCC", "name": "Basal cell carcinoma", "from": 0.03, "to": 0.04, "delta": 0.01},
            {"label": "MEL", "name": "Melanoma", "from": 0.38, "to": 0.71, "delta": 0.33},
            {"label": "NV", "name": "Nevus", "from": 0.59, "to": 0.25, "delta": -0.34},
        ],
        "risk_change": "Medium → High",
        "summary": "No clear change in size.",
    },
    "flagged": False,
    "flag_reasons": [],
    "summary": "No clear change in size. Melanoma probability 38% → 71%. Risk Medium → High.",
    "algorithm_version": "align-2+measure-1+change-1",
    "computed_at": "2026-11-20T09:21:02Z",
}


class MillimetresSerializer(serializers.Serializer):
    area_mm2 = serializers.FloatField()
    max_diameter_mm = serializers.FloatField()
    perimeter_mm = serializers.FloatField(allow_null=True)


@extend_schema_serializer(
    examples=[
        OpenApiExample("A measured lesion with a known pixel spacing", value=MEASUREMENT_EXAMPLE, response_only=True),
        OpenApiExample(
            "Not measured yet",
            value={
                "image": 97,
                "status": "pending",
                "reason": "Not measured yet.",
                "pixel_spacing_mm": None,
                "mm": None,
                "algorithm_version": None,
                "measured_at": None,
                "outline": [],
            },
            response_only=True,
        ),
    ]
)
class MeasurementSerializer(serializers.Serializer):
    image = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["succeeded", "failed", "pending"], help_text="pending: no worker has measured the image yet."
    )
    reason = serializers.CharField(help_text="Why the lesion could not be measured, when it could not.")
    area_px = serializers.FloatField(allow_null=True, required=False)
    max_diameter_px = serializers.FloatField(allow_null=True, required=False)
    perimeter_px = serializers.FloatField(allow_null=True, required=False)
    asymmetry = serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        required=False,
        help_text="Along the two principal axes, 0 (symmetric) to 1.",
    )
    border_irregularity = serializers.FloatField(allow_null=True, required=False, help_text="1 for a circle.")
    colours = serializers.ListField(child=serializers.CharField(), required=False)
    mean_lab = serializers.ListField(child=serializers.FloatField(), allow_null=True, required=False)
    pixel_spacing_mm = serializers.FloatField(allow_null=True)
    mm = MillimetresSerializer(
        allow_null=True, help_text="Only where the image's pixel spacing is known: never a guessed millimetre figure."
    )
    algorithm_version = serializers.CharField(allow_null=True)
    measured_at = serializers.DateTimeField(allow_null=True)
    outline = serializers.ListField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.FloatField())),
        help_text="The lesion's outline: polygons of [x, y] points in 0..1 of the image.",
    )


class ResultSummarySerializer(serializers.Serializer):
    prediction = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    figures_shown = serializers.BooleanField()
    withheld = serializers.BooleanField()
    withheld_reason = serializers.CharField()
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, allow_null=True)
    predicted_class = serializers.CharField(allow_null=True)
    probabilities = serializers.DictField(child=serializers.FloatField(allow_null=True))
    model_version = serializers.CharField(allow_null=True)
    heatmap_class = serializers.CharField(allow_null=True, help_text="The class driving the risk level.")


class ComparisonSideSerializer(serializers.Serializer):
    image = serializers.IntegerField()
    captured_on = serializers.DateField()
    modality = serializers.CharField()
    measurements = MeasurementSerializer()
    result = ResultSummarySerializer()


class RegistrationSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    method = serializers.CharField(allow_null=True)
    rotation_degrees = serializers.FloatField(allow_null=True)
    scale = serializers.FloatField(allow_null=True)
    translation_px = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    inliers = serializers.IntegerField(allow_null=True)
    confidence = serializers.FloatField()
    reason = serializers.CharField(help_text="Why the alignment cannot be trusted, when it cannot.")


class ProbabilityChangeSerializer(serializers.Serializer):
    label = serializers.CharField()
    name = serializers.CharField()
    to = serializers.FloatField()
    delta = serializers.FloatField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.FloatField()  # a Python keyword
        return fields


class ChangeSerializer(serializers.Serializer):
    area_percent = serializers.FloatField(allow_null=True)
    diameter_percent = serializers.FloatField(allow_null=True)
    asymmetry_change = serializers.FloatField(allow_null=True)
    colours_gained = serializers.ListField(child=serializers.CharField())
    colours_lost = serializers.ListField(child=serializers.CharField())
    delta_e = serializers.FloatField(allow_null=True, help_text="Mean CIEDE2000 colour difference inside the lesion.")
    probability_changes = ProbabilityChangeSerializer(many=True)
    risk_change = serializers.CharField()
    summary = serializers.CharField()


@extend_schema_serializer(
    examples=[
        OpenApiExample("Two visits aligned", value=COMPARISON_EXAMPLE, response_only=True),
        OpenApiExample(
            "Two images that cannot be aligned",
            value={
                **COMPARISON_EXAMPLE,
                "registration": {
                    "status": "failed",
                    "method": "features",
                    "rotation_degrees": 41.3,
                    "scale": 1.62,
                    "translation_px": [-88.0, 140.2],
                    "inliers": 9,
                    "confidence": 0.12,
                    "reason": "Too few matching features between the two images (9); they may show different lesions.",
                },
                "change": None,
                "summary": "Not aligned: too few matching features between the two images (9); they may show "
                "different lesions. The images are shown unaligned and no change is measured.",
            },
            response_only=True,
        ),
    ]
)
class ComparisonSerializer(serializers.Serializer):
    lesion = serializers.IntegerField()
    to = ComparisonSideSerializer()
    registration = RegistrationSerializer()
    change = ChangeSerializer(allow_null=True, help_text="null when the two images could not be aligned.")
    flagged = serializers.BooleanField(help_text="The measured change passes the configured thresholds.")
    flag_reasons = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField(help_text="One line in words.")
    algorithm_version = serializers.CharField()
    computed_at = serializers.DateTimeField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = ComparisonSideSerializer()  # a Python keyword
        return fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Three visits",
            value=[
                {
                    "image": 80,
                    "captured_on": "2025-12-01",
                    "modality": "dermoscopic",
                    "risk_level": "low",
                    "probability_mel": 0.01,
                    "probability_bcc": 0.02,
                    "probability_nv": 0.97,
                    "withheld": False,
                    "area_px": 95120.0,
                    "max_diameter_px": 391.0,
                    "area_mm2": None,
                    "measurement_status": "succeeded",
                },
                {
                    "image": 88,
                    "captured_on": "2026-03-01",
                    "modality": "dermoscopic",
                    "risk_level": "medium",
                    "probability_mel": 0.21,
                    "probability_bcc": 0.03,
                    "probability_nv": 0.76,
                    "withheld": False,
                    "area_px": 97730.3,
                    "max_diameter_px": 394.9,
                    "area_mm2": None,
                    "measurement_status": "succeeded",
                },
                {
                    "image": 97,
                    "captured_on": "2026-06-01",
                    "modality": "dermoscopic",
                    "risk_level": "high",
                    "probability_mel": 0.42,
                    "probability_bcc": 0.04,
                    "probability_nv": 0.54,
                    "withheld": False,
                    "area_px": 118250.1,
                    "max_diameter_px": 434.6,
                    "area_mm2": None,
                    "measurement_status": "succeeded",
                },
            ],
            response_only=True,
        )
    ]
)
class TrendPointSerializer(serializers.Serializer):
    image = serializers.IntegerField()
    captured_on = serializers.DateField()
    modality = serializers.CharField()
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, allow_null=True)
    probability_mel = serializers.FloatField(allow_null=True)
    probability_bcc = serializers.FloatField(allow_null=True)
    probability_nv = serializers.FloatField(allow_null=True)
    withheld = serializers.BooleanField()
    area_px = serializers.FloatField(allow_null=True)
    max_diameter_px = serializers.FloatField(allow_null=True)
    area_mm2 = serializers.FloatField(allow_null=True)
    area_relative = serializers.FloatField(
        allow_null=True,
        help_text=(
            "The lesion's area as a share of the first measured visit, through the aligned comparisons of "
            "consecutive visits (scale-corrected); null from the first pair that could not be aligned on."
        ),
    )
    measurement_status = serializers.CharField()


CHECKLIST_EXAMPLE = {
    "earlier": 88,
    "later": 97,
    "verdict": "significant",
    "criteria": ["asymmetric_enlargement", "new_colours"],
    "note": "Grew towards the scar; a blue-grey area appeared at 2 o'clock.",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A recorded checklist",
            value={
                "id": 5,
                "lesion": 31,
                **CHECKLIST_EXAMPLE,
                "assessed_by": "dana",
                "assessed_at": "2026-06-01T10:12:00Z",
            },
            response_only=True,
        )
    ]
)
class ChangeAssessmentSerializer(serializers.ModelSerializer):
    assessed_by = serializers.CharField(source="assessed_by.username", read_only=True)

    class Meta:
        model = ChangeAssessment
        fields = ["id", "lesion", "earlier", "later", "verdict", "criteria", "note", "assessed_by", "assessed_at"]
        read_only_fields = fields


@extend_schema_serializer(examples=[OpenApiExample("Record a checklist", value=CHECKLIST_EXAMPLE, request_only=True)])
class ChangeAssessmentInputSerializer(serializers.Serializer):
    earlier = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="An image of this lesion.")
    later = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="Another image of this lesion.")
    verdict = serializers.ChoiceField(choices=ChangeVerdict.choices)
    criteria = serializers.ListField(
        child=serializers.ChoiceField(choices=ChangeCriterion.choices), required=False, default=list
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class ComparisonQuerySerializer(serializers.Serializer):
    """``?from=&to=`` (both optional: the latest visit against the one before)."""

    to = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    mode = serializers.ChoiceField(choices=["aligned", "swipe", "blink", "difference"], required=False)
    position = serializers.FloatField(required=False, min_value=0, max_value=1)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
        return fields
