"""Model versions (the registry) and predictions (every result, with its history)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

# The access rule lives with the patient: a prediction is visible to whoever may see its patient.
from cases.models import Patient
from skinml import risk


class DiagnosisClass(models.TextChoices):
    """The classifier's classes in its output order (``skinml.classes.CLASSES``; a test holds them equal)."""

    BCC = "BCC", "Basal cell carcinoma"
    MEL = "MEL", "Melanoma"
    NV = "NV", "Nevus"


class RiskLevel(models.TextChoices):
    """``skinml.risk.RISK_LEVELS`` (a test holds them equal)."""

    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class PredictionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class QualityStatus(models.TextChoices):
    """The image quality and out-of-scope gate's verdict on a succeeded prediction
    (``skinml.gate.assess``): ``rejected`` withholds the result's figures (``Prediction.is_withheld``)."""

    OK = "ok", "Good"
    WARNING = "warning", "Warning"
    REJECTED = "rejected", "Cannot be judged"


class ModelVersionQuerySet(models.QuerySet["ModelVersion"]):
    def active(self) -> ModelVersion | None:
        """The active version, without its card and metrics (large JSON, read on every upload
        and prediction otherwise; they load on first access)."""
        return self.filter(is_active=True).defer("card", "metrics").first()


class ModelVersion(models.Model):
    """A registered model file with its card. Exactly one version is active at a time."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    file = models.CharField(max_length=255, help_text="Keras model, relative to SKINPORTAL_MODELS_DIR.")
    sha256 = models.CharField("SHA-256", max_length=64)
    runtime_file = models.CharField(
        max_length=255, help_text="LiteRT export used by the workers, relative to SKINPORTAL_MODELS_DIR."
    )
    runtime_sha256 = models.CharField("runtime SHA-256", max_length=64)
    architecture = models.CharField(max_length=200)
    input_size = models.PositiveIntegerField()
    class_labels = models.JSONField(help_text="Class labels in the model's output order.")
    preprocessing = models.CharField(max_length=100)
    gradcam_layer = models.CharField(max_length=100)
    temperature = models.FloatField(default=1.0, help_text="Calibration: logits are divided by it before softmax.")
    thresholds = models.JSONField(help_text='Risk thresholds on P(BCC) + P(MEL): {"medium": t1, "high": t2}.')
    metrics = models.JSONField(default=dict, blank=True)
    card = models.JSONField(default=dict, blank=True, help_text="The full model card as registered.")
    quality_statistics_file = models.CharField(
        max_length=255,
        blank=True,
        help_text=(
            "Out-of-scope statistics (skinml.ood) relative to SKINPORTAL_MODELS_DIR; "
            "blank: only the image quality checks apply."
        ),
    )
    quality_statistics_sha256 = models.CharField("quality statistics SHA-256", max_length=64, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ModelVersionQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["card"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_version_unique"),
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="model_version_one_active"),
            models.CheckConstraint(condition=Q(temperature__gt=0), name="model_version_temperature_positive"),
            models.CheckConstraint(condition=Q(input_size__gt=0), name="model_version_input_size_positive"),
            models.CheckConstraint(
                condition=Q(quality_statistics_file="", quality_statistics_sha256="")
                | (~Q(quality_statistics_file="") & ~Q(quality_statistics_sha256="")),
                name="model_version_quality_statistics_with_sha256",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def risk_level(self, *, malignant_probability: float) -> RiskLevel:
        return RiskLevel(risk.risk_level(malignant_probability=malignant_probability, thresholds=self.thresholds))


def _heatmap_path(instance: Prediction, filename: str) -> str:
    return f"heatmaps/{uuid.uuid4().hex}.jpg"


def _raw_map_path(instance: Prediction, filename: str) -> str:
    return f"heatmaps/{uuid.uuid4().hex}.npy"


#: A withheld result, as a query: succeeded, but the quality gate could not judge the image.
#: ``Prediction.is_withheld`` is the same rule for one row (a test holds them equal).
WITHHELD = Q(status=PredictionStatus.SUCCEEDED, quality_status=QualityStatus.REJECTED)


class PredictionQuerySet(models.QuerySet["Prediction"]):
    def visible_to(self, user) -> PredictionQuerySet:
        return self.filter(image__lesion__patient__in=Patient.objects.visible_to(user))

    def withheld(self) -> PredictionQuerySet:
        return self.filter(WITHHELD)

    def shown(self) -> PredictionQuerySet:
        """Succeeded predictions whose figures are shown to clinicians and reviewers."""
        return self.filter(status=PredictionStatus.SUCCEEDED).exclude(quality_status=QualityStatus.REJECTED)


class Prediction(models.Model):
    """One run of one model version on one image. A succeeded prediction is never changed:
    re-running, or running a new model version, adds a row."""

    image = models.ForeignKey("cases.LesionImage", on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    status = models.CharField(max_length=16, choices=PredictionStatus.choices, default=PredictionStatus.QUEUED)
    probability_bcc = models.FloatField(null=True, blank=True)
    probability_mel = models.FloatField(null=True, blank=True)
    probability_nv = models.FloatField(null=True, blank=True)
    predicted_class = models.CharField(max_length=8, choices=DiagnosisClass.choices, blank=True)
    malignant = models.BooleanField(null=True, blank=True, help_text="Predicted class is BCC or MEL.")
    risk_level = models.CharField(max_length=8, choices=RiskLevel.choices, blank=True)
    heatmap = models.FileField(upload_to=_heatmap_path, max_length=255, blank=True)
    raw_map = models.FileField(
        upload_to=_raw_map_path, max_length=255, blank=True, help_text="Class maps before ReLU (h, w, classes)."
    )
    heatmap_class = models.CharField(max_length=8, choices=DiagnosisClass.choices, blank=True)
    preprocess_ms = models.FloatField(null=True, blank=True)
    inference_ms = models.FloatField(null=True, blank=True, help_text="Probabilities and Grad-CAM.")
    overlay_ms = models.FloatField(null=True, blank=True)
    quality_ms = models.FloatField(null=True, blank=True, help_text="The image quality and out-of-scope gate.")
    total_ms = models.FloatField(null=True, blank=True)
    quality_status = models.CharField(
        max_length=16,
        choices=QualityStatus.choices,
        blank=True,
        help_text="The quality gate's verdict; blank until succeeded, and for results from before the gate.",
    )
    quality = models.JSONField(
        default=dict,
        blank=True,
        help_text='The gate\'s verdict: {"status", "reasons": [...], "scores": {...}}.',
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = PredictionQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["image", "status", "-created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PredictionStatus.values), name="prediction_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=PredictionStatus.SUCCEEDED)
                | (
                    Q(probability_bcc__isnull=False, probability_mel__isnull=False, probability_nv__isnull=False)
                    & Q(malignant__isnull=False, finished_at__isnull=False)
                    & ~Q(predicted_class="")
                    & ~Q(risk_level="")
                    & ~Q(heatmap="")
                    & ~Q(raw_map="")
                ),
                name="prediction_succeeded_is_complete",
            ),
            models.CheckConstraint(
                condition=~Q(status=PredictionStatus.FAILED) | ~Q(error=""), name="prediction_failed_has_reason"
            ),
            models.CheckConstraint(
                condition=Q(quality_status__in=["", *QualityStatus.values]), name="prediction_quality_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Prediction {self.pk} ({self.get_status_display()}) of image {self.image_id}"

    def get_heatmap_url(self) -> str:
        return reverse("inference:prediction-heatmap", kwargs={"pk": self.pk})

    @property
    def probabilities(self) -> dict[str, float | None]:
        return {"BCC": self.probability_bcc, "MEL": self.probability_mel, "NV": self.probability_nv}

    @property
    def malignant_probability(self) -> float | None:
        if self.probability_bcc is None or self.probability_mel is None:
            return None
        return self.probability_bcc + self.probability_mel

    @property
    def is_withheld(self) -> bool:
        """The result exists but its figures (probabilities, class, risk, heatmap) are withheld
        from clinicians and reviewers: the quality gate could not judge the image. Who may still
        see them is ``core.permissions.can_see_withheld_result``."""
        return self.status == PredictionStatus.SUCCEEDED and self.quality_status == QualityStatus.REJECTED

    @property
    def quality_reasons(self) -> list[dict]:
        """The gate's findings in plain words: [{"code", "severity", "message", "advice"}]."""
        return list((self.quality or {}).get("reasons", []))

    @property
    def is_finished(self) -> bool:
        return self.status in (PredictionStatus.SUCCEEDED, PredictionStatus.FAILED)
