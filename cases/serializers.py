"""API representations of patients, lesions and images. Output serializers describe what is
returned; input serializers only parse and check a request: writes go through ``services``."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.reverse import reverse

from accounts.serializers import UserSummarySerializer
from inference.models import RiskLevel
from inference.serializers import PredictionSerializer

from .models import AnatomicSite, BodyMapView, Lesion, LesionImage, LesionStatus, Modality, MonitoringPlan, Patient, Sex
from .validators import validate_not_in_future

PATIENT_EXAMPLE = {
    "id": 12,
    "identifier": "MRN-004521",
    "given_name": "Maria",
    "family_name": "García",
    "date_of_birth": "1961-04-17",
    "sex": "female",
    "notes": "Fitzpatrick II; family history of melanoma.",
    "owner": {"id": 7, "username": "asmith", "display_name": "Alice Smith"},
    "shared_with": [{"id": 9, "username": "bjones", "display_name": "Ben Jones"}],
    "created_at": "2026-11-20T09:14:03Z",
}


@extend_schema_serializer(examples=[OpenApiExample("A patient", value=PATIENT_EXAMPLE, response_only=True)])
class PatientSerializer(serializers.ModelSerializer):
    owner = UserSummarySerializer(read_only=True)
    shared_with = UserSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "identifier",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "notes",
            "owner",
            "shared_with",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Register a patient",
            value={
                "identifier": "MRN-004521",
                "given_name": "Maria",
                "family_name": "García",
                "date_of_birth": "1961-04-17",
                "sex": "female",
                "notes": "Fitzpatrick II; family history of melanoma.",
            },
            request_only=True,
        )
    ]
)
class PatientInputSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=64, help_text="Medical record number, unique in this clinic.")
    given_name = serializers.CharField(max_length=150)
    family_name = serializers.CharField(max_length=150)
    date_of_birth = serializers.DateField(validators=[validate_not_in_future])
    sex = serializers.ChoiceField(choices=Sex.choices, default=Sex.UNKNOWN)
    notes = serializers.CharField(allow_blank=True, default="", trim_whitespace=False)


class ShareInputSerializer(serializers.Serializer):
    clinician = serializers.IntegerField(help_text="The id of an active clinician (see /api/v1/clinicians/).")


LESION_EXAMPLE = {
    "id": 31,
    "patient": 12,
    "anatomic_site": "posterior torso",
    "label": "Pigmented lesion left scapula",
    "status": "monitoring",
    "opened_on": "2026-11-20",
    "monitoring_plan": "short_term",
    "next_visit_on": "2027-02-20",
    "follow_up_overdue": False,
    "body_map_view": "back",
    "body_map_x": 0.38,
    "body_map_y": 0.27,
    "changed": False,
    "image_count": 3,
    "latest_risk": "medium",
}


@extend_schema_serializer(examples=[OpenApiExample("A lesion case", value=LESION_EXAMPLE, response_only=True)])
class LesionSerializer(serializers.ModelSerializer):
    image_count = serializers.IntegerField(read_only=True)
    latest_risk = serializers.ChoiceField(
        choices=RiskLevel.choices,
        read_only=True,
        allow_null=True,
        help_text="The highest risk among the most recent visit's results (null until a prediction succeeds).",
    )

    class Meta:
        model = Lesion
        fields = [
            "id",
            "patient",
            "anatomic_site",
            "label",
            "status",
            "opened_on",
            "monitoring_plan",
            "next_visit_on",
            "follow_up_overdue",
            "body_map_view",
            "body_map_x",
            "body_map_y",
            "changed",
            "image_count",
            "latest_risk",
        ]
        read_only_fields = fields

    follow_up_overdue = serializers.SerializerMethodField()
    changed = serializers.BooleanField(
        read_only=True,
        help_text=(
            "The lesion is flagged changed: a clinician recorded a significant change, or the measured change "
            "between its two latest visits passes the configured thresholds."
        ),
    )

    def get_follow_up_overdue(self, lesion: Lesion) -> bool:
        return lesion.follow_up_overdue()


class VisiblePrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related object the requesting user may see: anything else reads as "does not exist"."""

    def get_queryset(self):
        return self.queryset.visible_to(self.context["request"].user)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Open a lesion case",
            value={
                "patient": 12,
                "anatomic_site": "posterior torso",
                "label": "Pigmented lesion left scapula",
                "status": "monitoring",
                "opened_on": "2026-11-20",
            },
            request_only=True,
        )
    ]
)
class LesionInputSerializer(serializers.Serializer):
    patient = VisiblePrimaryKeyField(queryset=Patient.objects.all())
    anatomic_site = serializers.ChoiceField(choices=AnatomicSite.choices, default=AnatomicSite.UNKNOWN)
    label = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=LesionStatus.choices, default=LesionStatus.MONITORING)
    opened_on = serializers.DateField(validators=[validate_not_in_future], default=None)
    monitoring_plan = serializers.ChoiceField(choices=MonitoringPlan.choices, default=MonitoringPlan.NONE)
    next_visit_on = serializers.DateField(
        default=None, allow_null=True, help_text="Omit for a plan with a fixed interval: set from the last visit."
    )
    body_map_view = serializers.ChoiceField(choices=BodyMapView.choices, default="", allow_blank=True)
    body_map_x = serializers.FloatField(min_value=0, max_value=1, default=None, allow_null=True)
    body_map_y = serializers.FloatField(min_value=0, max_value=1, default=None, allow_null=True)


class LesionUpdateSerializer(LesionInputSerializer):
    """A lesion stays with its patient."""

    patient = None


IMAGE_EXAMPLE = {
    "id": 88,
    "lesion": 31,
    "captured_on": "2026-11-20",
    "modality": "dermoscopic",
    "width": 1024,
    "height": 768,
    "sha256": "3b9c1f0e5d1c2a7e8f4b6d0a9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e",
    "uploaded_by": {"id": 7, "username": "asmith", "display_name": "Alice Smith"},
    "uploaded_at": "2026-11-20T09:20:41Z",
    "file_url": "https://skinportal.example/api/v1/images/88/file/",
    "current_prediction": {
        "id": 140,
        "image": 88,
        "model_version": 2,
        "status": "queued",
        "probabilities": None,
        "predicted_class": None,
        "malignant": None,
        "risk_level": None,
        "heatmap_url": None,
        "heatmap_class": None,
        "error": "",
        "created_at": "2026-11-20T09:20:41Z",
        "finished_at": None,
    },
}


@extend_schema_serializer(examples=[OpenApiExample("An image just uploaded", value=IMAGE_EXAMPLE, response_only=True)])
class ImageSerializer(serializers.ModelSerializer):
    """``current_prediction`` comes from the view's context ``current_predictions``
    ({image id: prediction}), computed for a whole page at once."""

    uploaded_by = UserSummarySerializer(read_only=True)
    file_url = serializers.SerializerMethodField()
    current_prediction = serializers.SerializerMethodField()

    class Meta:
        model = LesionImage
        fields = [
            "id",
            "lesion",
            "captured_on",
            "modality",
            "width",
            "height",
            "pixel_spacing_mm",
            "sha256",
            "uploaded_by",
            "uploaded_at",
            "file_url",
            "current_prediction",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_file_url(self, image: LesionImage) -> str:
        return reverse("api:image-file", kwargs={"pk": image.pk}, request=self.context.get("request"))

    @extend_schema_field(PredictionSerializer(allow_null=True))
    def get_current_prediction(self, image: LesionImage) -> dict | None:
        prediction = self.context["current_predictions"].get(image.pk)
        return PredictionSerializer(prediction, context=self.context).data if prediction else None


class ImageUploadSerializer(serializers.Serializer):
    lesion = VisiblePrimaryKeyField(queryset=Lesion.objects.select_related("patient"))
    # Empty files reach the service, which rejects them with the same message as the UI.
    file = serializers.FileField(
        allow_empty_file=True,
        help_text=(
            "A JPEG, PNG or HEIC image, or a DICOM file (Dermoscopic Photography or VL Photographic) of the "
            "lesion's patient, whose study date and class replace `captured_on` and `modality` "
            "(its bytes are checked)."
        ),
    )
    captured_on = serializers.DateField(default=timezone.localdate, help_text="Visit date; today by default.")
    modality = serializers.ChoiceField(choices=Modality.choices, default=Modality.DERMOSCOPIC)
    pixel_spacing_mm = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0.000001,
        max_value=1,
        help_text="Millimetres per pixel, if known; measurements are then also given in mm.",
    )
