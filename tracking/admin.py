"""Admin for lesion tracking: measurements, comparisons and change checklists, read-only (the
analysis writes the first two, clinicians the third through the compare page and the API)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin, ReadOnlyHistoryAdmin

from .models import ChangeAssessment, ImageComparison, ImageMeasurement


@admin.register(ImageMeasurement)
class ImageMeasurementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["image", "status", "area_px", "max_diameter_px", "algorithm_version", "duration_ms", "measured_at"]
    list_filter = ["status", "algorithm_version"]
    search_fields = ["image__lesion__label", "image__lesion__patient__identifier"]
    list_select_related = ["image__lesion"]


@admin.register(ImageComparison)
class ImageComparisonAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["lesion", "earlier", "later", "status", "confidence", "flagged", "algorithm_version", "duration_ms"]
    list_filter = ["status", "flagged", "algorithm_version"]
    search_fields = ["lesion__label", "lesion__patient__identifier"]
    list_select_related = ["lesion", "earlier", "later"]


@admin.register(ChangeAssessment)
class ChangeAssessmentAdmin(ReadOnlyAdminMixin, ReadOnlyHistoryAdmin):
    list_display = ["lesion", "verdict", "assessed_by", "assessed_at"]
    list_filter = ["verdict"]
    search_fields = ["lesion__label", "lesion__patient__identifier", "note"]
    list_select_related = ["lesion", "assessed_by"]
