"""What the image analysis measures on a lesion over time: per image, the lesion's outline and
size; per pair of images, how the later one aligns to the earlier one and what changed; and the
clinician's own judgement of a change (the checklist of sequential dermoscopy).

Measurements and comparisons are results of an algorithm version (``skinml``), recomputed when
that version changes and never edited; a checklist is a clinician's record, kept with its history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


class AnalysisStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImageMeasurement(models.Model):
    """The lesion segmented on one image and measured, in pixels of the stored image."""

    image = models.ForeignKey("cases.LesionImage", on_delete=models.CASCADE, related_name="measurements")
    algorithm_version = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=AnalysisStatus.choices)
    reason = models.TextField(blank=True, help_text="Why the lesion could not be measured, in plain words.")
    area_px = models.FloatField(null=True, blank=True)
    max_diameter_px = models.FloatField(null=True, blank=True)
    perimeter_px = models.FloatField(null=True, blank=True)
    asymmetry_major = models.FloatField(null=True, blank=True, help_text="0 symmetric … 1, along the major axis.")
    asymmetry_minor = models.FloatField(null=True, blank=True, help_text="0 symmetric … 1, along the minor axis.")
    border_irregularity = models.FloatField(null=True, blank=True, help_text="Compactness: 1 for a circle.")
    colours = models.JSONField(default=list, blank=True, help_text="The dermoscopic colours present.")
    mean_lab = models.JSONField(null=True, blank=True, help_text="Mean CIELAB colour [L, a, b] of the lesion.")
    outline = models.JSONField(default=list, blank=True, help_text="Polygons in 0..1 coordinates of the image.")
    duration_ms = models.FloatField(default=0)
    measured_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-measured_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["image", "algorithm_version"], name="measurement_one_per_version"),
            models.CheckConstraint(condition=Q(status__in=AnalysisStatus.values), name="measurement_status_valid"),
            models.CheckConstraint(
                condition=Q(status="failed") | (Q(area_px__gt=0) & Q(max_diameter_px__gt=0)),
                name="measurement_succeeded_has_size",
            ),
            models.CheckConstraint(
                condition=Q(status="succeeded") | ~Q(reason=""), name="measurement_failed_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Measurement of image {self.image_id} ({self.algorithm_version}, {self.status})"

    @property
    def succeeded(self) -> bool:
        return self.status == AnalysisStatus.SUCCEEDED


class ImageComparison(models.Model):
    """The later image aligned to the earlier one and the change measured in the earlier image's
    frame: a cache of ``skinml.change.compare`` per pair and algorithm version."""

    lesion = models.ForeignKey("cases.Lesion", on_delete=models.CASCADE, related_name="comparisons")
    earlier = models.ForeignKey("cases.LesionImage", on_delete=models.CASCADE, related_name="+")
    later = models.ForeignKey("cases.LesionImage", on_delete=models.CASCADE, related_name="+")
    algorithm_version = models.CharField(max_length=96)
    status = models.CharField("alignment", max_length=16, choices=AnalysisStatus.choices)
    confidence = models.FloatField(default=0)
    registration = models.JSONField(help_text="skinml Registration.to_dict()")
    change = models.JSONField(null=True, blank=True, help_text="skinml Change.to_dict(); none if not aligned.")
    earlier_measurement = models.JSONField(null=True, blank=True)
    later_measurement = models.JSONField(null=True, blank=True, help_text="Measured in the earlier image's frame.")
    flagged = models.BooleanField(default=False, help_text="The measured change passes the configured thresholds.")
    flag_reasons = models.JSONField(default=list, blank=True)
    duration_ms = models.FloatField(default=0)
    computed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-computed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["earlier", "later", "algorithm_version"], name="comparison_one_per_pair_and_version"
            ),
            models.CheckConstraint(condition=~Q(earlier=F("later")), name="comparison_of_two_images"),
            models.CheckConstraint(condition=Q(status__in=AnalysisStatus.values), name="comparison_status_valid"),
            models.CheckConstraint(condition=Q(confidence__gte=0, confidence__lte=1), name="comparison_confidence_0_1"),
            models.CheckConstraint(
                condition=Q(status="succeeded") | Q(flagged=False), name="comparison_flag_if_aligned"
            ),
        ]

    def __str__(self) -> str:
        return f"Comparison of images {self.earlier_id} → {self.later_id} ({self.status})"

    @property
    def aligned(self) -> bool:
        return self.status == AnalysisStatus.SUCCEEDED


class ChangeVerdict(models.TextChoices):
    SIGNIFICANT = "significant", "Significant change"
    NOT_SIGNIFICANT = "not_significant", "Change, not significant"
    NO_CHANGE = "no_change", "No change"


class ChangeCriterion(models.TextChoices):
    """The criteria of sequential digital dermoscopy: the first group counts as significant."""

    ASYMMETRIC_ENLARGEMENT = "asymmetric_enlargement", "Asymmetric enlargement"
    FOCAL_PIGMENTATION = "focal_pigmentation", "Focal change of pigmentation"
    FOCAL_STRUCTURE = "focal_structure", "Focal change of structure"
    REGRESSION = "regression", "Regression"
    NEW_COLOURS = "new_colours", "New colours"
    ANY_SHORT_TERM = "any_short_term", "Any morphological change at short-term follow-up"
    GLOBAL_PIGMENTATION = "global_pigmentation", "Overall darkening or lightening"
    BROWN_GLOBULES = "brown_globules", "Change in the number of brown globules"
    FEWER_BLACK_DOTS = "fewer_black_dots", "Fewer black dots"
    MILIA_LIKE_CYSTS = "milia_like_cysts", "Milia-like cysts appearing or going"


SIGNIFICANT_CRITERIA = frozenset(
    {
        ChangeCriterion.ASYMMETRIC_ENLARGEMENT,
        ChangeCriterion.FOCAL_PIGMENTATION,
        ChangeCriterion.FOCAL_STRUCTURE,
        ChangeCriterion.REGRESSION,
        ChangeCriterion.NEW_COLOURS,
        ChangeCriterion.ANY_SHORT_TERM,
    }
)


class ChangeAssessmentQuerySet(models.QuerySet["ChangeAssessment"]):
    def visible_to(self, user) -> ChangeAssessmentQuerySet:
        from cases.models import Lesion

        return self.filter(lesion__in=Lesion.objects.visible_to(user))


class ChangeAssessment(models.Model):
    """A clinician's checklist on two visits of a lesion: the criteria seen and the verdict."""

    lesion = models.ForeignKey("cases.Lesion", on_delete=models.CASCADE, related_name="change_assessments")
    earlier = models.ForeignKey("cases.LesionImage", on_delete=models.CASCADE, related_name="+")
    later = models.ForeignKey("cases.LesionImage", on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=16, choices=ChangeVerdict.choices)
    criteria = models.JSONField(default=list, blank=True, help_text="ChangeCriterion values seen.")
    note = models.TextField(blank=True)
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assessed_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = ChangeAssessmentQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-assessed_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(verdict__in=ChangeVerdict.values), name="change_verdict_valid"),
            models.CheckConstraint(condition=~Q(earlier=F("later")), name="change_assessment_of_two_images"),
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} of {self.lesion} ({self.assessed_at:%Y-%m-%d})"

    @property
    def criteria_labels(self) -> list[str]:
        return [ChangeCriterion(value).label for value in self.criteria if value in ChangeCriterion.values]

    @property
    def significant(self) -> bool:
        return self.verdict == ChangeVerdict.SIGNIFICANT
