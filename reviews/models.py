"""Case review: a reviewer's decision on a lesion's latest result, and histopathology (the
ground truth, when a lesion is biopsied or excised)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cases.models import Lesion
from cases.validators import validate_not_in_future

MAX_FOLLOW_UP_MONTHS = 24


class ReviewDiagnosis(models.TextChoices):
    MEL = "MEL", "Melanoma"
    NV = "NV", "Nevus"
    BCC = "BCC", "Basal cell carcinoma"
    OTHER = "other", "Other"
    UNSURE = "unsure", "Unsure"


class RecommendedAction(models.TextChoices):
    ROUTINE_MONITORING = "routine_monitoring", "Routine monitoring"
    SHORT_TERM_FOLLOW_UP = "short_term_follow_up", "Short-term follow-up"
    BIOPSY_EXCISION = "biopsy_excision", "Biopsy / excision"
    DISCHARGE = "discharge", "Discharge"


class HistopathologyDiagnosis(models.TextChoices):
    MEL = "MEL", "Melanoma"
    NV = "NV", "Nevus"
    BCC = "BCC", "Basal cell carcinoma"
    OTHER = "other", "Other"


class ReviewQuerySet(models.QuerySet["Review"]):
    def visible_to(self, user) -> ReviewQuerySet:
        from cases.models import Lesion

        return self.filter(lesion__in=Lesion.objects.visible_to(user))


class Review(models.Model):
    """A reviewer's decision on one prediction (the lesion's latest result when reviewed)."""

    lesion = models.ForeignKey("cases.Lesion", on_delete=models.CASCADE, related_name="reviews")
    prediction = models.ForeignKey("inference.Prediction", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    agrees_with_model = models.BooleanField(help_text="Does the reviewer agree with the model's result?")
    diagnosis = models.CharField("reviewer's diagnosis", max_length=16, choices=ReviewDiagnosis.choices)
    action = models.CharField("recommended action", max_length=32, choices=RecommendedAction.choices)
    follow_up_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For a short-term follow-up: in how many months."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    objects = ReviewQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One decision per result: a reviewed case leaves the queue until a new result arrives.
            models.UniqueConstraint(fields=["prediction"], name="review_one_per_prediction"),
            models.CheckConstraint(condition=Q(diagnosis__in=ReviewDiagnosis.values), name="review_diagnosis_valid"),
            models.CheckConstraint(condition=Q(action__in=RecommendedAction.values), name="review_action_valid"),
            models.CheckConstraint(
                condition=(
                    Q(
                        action=RecommendedAction.SHORT_TERM_FOLLOW_UP,
                        follow_up_months__gte=1,
                        follow_up_months__lte=MAX_FOLLOW_UP_MONTHS,
                    )
                    | (~Q(action=RecommendedAction.SHORT_TERM_FOLLOW_UP) & Q(follow_up_months__isnull=True))
                ),
                name="review_follow_up_months_with_follow_up_only",
            ),
        ]

    def __str__(self) -> str:
        return f"Review of {self.lesion} by {self.reviewer}: {self.get_diagnosis_display()}"

    @property
    def action_display(self) -> str:
        if self.action == RecommendedAction.SHORT_TERM_FOLLOW_UP:
            return f"Short-term follow-up in {self.follow_up_months} month{'s' if self.follow_up_months != 1 else ''}"
        return self.get_action_display()


class HistopathologyQuerySet(models.QuerySet["Histopathology"]):
    def visible_to(self, user) -> HistopathologyQuerySet:
        from cases.models import Lesion

        return self.filter(lesion__in=Lesion.objects.visible_to(user))


class Histopathology(models.Model):
    """A histopathology result for a lesion: the ground truth the model and reviewers are
    measured against. The latest one per lesion counts."""

    lesion = models.ForeignKey("cases.Lesion", on_delete=models.CASCADE, related_name="histopathology_results")
    diagnosis = models.CharField(max_length=16, choices=HistopathologyDiagnosis.choices)
    diagnosed_on = models.DateField("report date", validators=[validate_not_in_future])
    report = models.TextField("report text")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = HistopathologyQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-diagnosed_on", "-created_at", "-pk"]
        verbose_name_plural = "histopathology results"
        constraints = [
            models.CheckConstraint(
                condition=Q(diagnosis__in=HistopathologyDiagnosis.values), name="histopathology_diagnosis_valid"
            ),
            models.CheckConstraint(condition=~Q(report=""), name="histopathology_report_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Histopathology of {self.lesion}: {self.get_diagnosis_display()} ({self.diagnosed_on})"


class ReviewQueueItem(Lesion):
    """The review queue as an admin list (a proxy of Lesion: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "case to review"
        verbose_name_plural = "review queue"
