"""Admin for case review: the queue (with filters and a bulk "agree" action), decisions and
histopathology. Writes go through the services, so the admin, the web UI and the API agree."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html

from core import permissions
from core.admin import ReadOnlyAdminMixin, VisibleToUserAdmin
from inference.models import QualityStatus

from . import selectors, services
from .models import Histopathology, Review, ReviewQueueItem


class LatestRiskFilter(admin.SimpleListFilter):
    title = "risk"
    parameter_name = "risk_level"

    def lookups(self, request, model_admin):
        return [("high", "High"), ("medium", "Medium"), ("low", "Low")]

    def queryset(self, request, queryset):
        return queryset.filter(latest_risk=self.value()) if self.value() else queryset


class LatestClassFilter(admin.SimpleListFilter):
    title = "model's class"
    parameter_name = "predicted_class"

    def lookups(self, request, model_admin):
        return [("BCC", "BCC"), ("MEL", "MEL"), ("NV", "NV")]

    def queryset(self, request, queryset):
        return queryset.filter(latest_class=self.value()) if self.value() else queryset


class ForReviewers(ReadOnlyAdminMixin):
    """Admin pages that reviewers as well as admins open, read-only: review decisions and
    histopathology are written through the services (the review page, the API, actions)."""

    def can_view(self, user) -> bool:
        return permissions.can_review(user=user)


@admin.register(ReviewQueueItem)
class ReviewQueueAdmin(ForReviewers, admin.ModelAdmin):
    list_display = (
        "label",
        "risk",
        "latest_class",
        "anatomic_site",
        "patient",
        "clinician",
        "waiting_since",
        "awaiting",
        "review",
    )
    list_filter = (
        LatestRiskFilter,
        LatestClassFilter,
        "anatomic_site",
        ("patient__owner", admin.RelatedOnlyFieldListFilter),
    )
    list_display_links = None
    actions = ["agree_routine_monitoring"]

    def get_queryset(self, request):
        return selectors.review_queue(user=request.user)

    def get_ordering(self, request):
        return selectors.REVIEW_QUEUE_ORDER  # the queue's own order: risk, then the longest waiting

    @admin.display(description="risk", ordering="risk_rank")
    def risk(self, obj) -> str:
        if obj.latest_quality_status == QualityStatus.REJECTED:
            return "Needs a new image"
        return (obj.latest_risk or "").capitalize()

    @admin.display(description="model's class")
    def latest_class(self, obj) -> str:
        return obj.latest_class or "—"

    @admin.display(description="clinician")
    def clinician(self, obj) -> str:
        return obj.patient.owner.display_name

    @admin.display(description="result since", ordering="latest_finished_at")
    def waiting_since(self, obj):
        return obj.latest_finished_at

    @admin.display(description="images without a result", boolean=True)
    def awaiting(self, obj) -> bool:
        return obj.awaiting_results

    @admin.display(description="")
    def review(self, obj) -> str:
        return format_html('<a class="button" href="{}">Review</a>', reverse("reviews:review", args=[obj.pk]))

    @admin.action(description="Agree with the model (low-risk nevi only); routine monitoring")
    def agree_routine_monitoring(self, request, queryset) -> None:
        """For the bulk of benign results only: anything else needs the review page, and so does
        a case with images the result does not cover."""
        done = 0
        for lesion in queryset:
            try:
                services.review_agree_routine_monitoring(lesion=lesion, reviewer=request.user)
            except services.RoutineAgreementRefused as refusal:
                self.message_user(request, f"{lesion}: {refusal}", messages.WARNING)
            except (ValidationError, PermissionDenied, services.ReviewConflict) as error:
                self.message_user(
                    request, f"{lesion}: {' '.join(getattr(error, 'messages', [str(error)]))}", messages.ERROR
                )
            else:
                done += 1
        self.message_user(request, f"{done} case{'s' if done != 1 else ''} reviewed.", messages.SUCCESS)


class ReviewerAdmin(ForReviewers, VisibleToUserAdmin):
    """Decisions and histopathology: admins may also delete one entered in error."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.is_admin(user=request.user)


@admin.register(Review)
class ReviewAdmin(ReviewerAdmin):
    list_display = ("lesion", "diagnosis", "agrees_with_model", "action", "reviewer", "created_at")
    list_filter = (
        "diagnosis",
        "agrees_with_model",
        "action",
        "created_at",
        ("reviewer", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("lesion__label", "lesion__patient__identifier", "notes")
    list_select_related = ("lesion", "reviewer")
    readonly_fields = [f.name for f in Review._meta.fields]


@admin.register(Histopathology)
class HistopathologyAdmin(ReviewerAdmin):
    list_display = ("lesion", "diagnosis", "diagnosed_on", "entered_by", "created_at")
    list_filter = ("diagnosis", "diagnosed_on")
    search_fields = ("lesion__label", "lesion__patient__identifier", "report")
    list_select_related = ("lesion", "entered_by")
    readonly_fields = [f.name for f in Histopathology._meta.fields]
