"""Admin for the model registry and for reviewing predictions. Writes go through the services."""

from __future__ import annotations

from django.contrib import admin, messages

from core import permissions
from core.admin import AdminOnlyMixin, ReadOnlyHistoryAdmin, VisibleToUserAdmin, image_link_html, thumbnail_html

from . import services
from .models import ModelVersion, Prediction


@admin.register(ModelVersion)
class ModelVersionAdmin(AdminOnlyMixin, ReadOnlyHistoryAdmin):
    """Admins only. Every field is read-only: the change permission is there for the action."""

    list_display = ("name", "version", "is_active", "input_size", "temperature", "prediction_count", "created_at")
    list_filter = ("is_active", "name")
    search_fields = ("name", "version", "sha256")
    readonly_fields = [field.name for field in ModelVersion._meta.fields]
    actions = ["activate"]

    def has_add_permission(self, request) -> bool:
        return False  # `manage.py register_model PATH` checks the files and the export

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # predictions refer to it

    @admin.display(description="predictions")
    def prediction_count(self, obj: ModelVersion) -> int:
        return obj.predictions.count()

    @admin.action(description="Activate the selected model version")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one model version to activate.", messages.ERROR)
            return
        version = services.model_version_activate(model_version=queryset.get())
        self.message_user(request, f"{version} is now the active model; new uploads are analysed with it.")


@admin.register(Prediction)
class PredictionAdmin(VisibleToUserAdmin):
    list_display = (
        "pk",
        "image_preview",
        "heatmap_preview",
        "status",
        "quality_status",
        "withheld",
        "predicted_class",
        "risk_level",
        "malignant_probability_display",
        "model_version",
        "created_at",
        "finished_at",
        "error_short",
    )
    list_display_links = ("pk", "image_preview")
    list_filter = ("status", "quality_status", "predicted_class", "risk_level", "model_version", "created_at")
    search_fields = ("image__lesion__patient__identifier", "image__lesion__label", "error")
    date_hierarchy = "created_at"
    list_select_related = ("image__lesion__patient", "model_version")
    actions = ["rerun"]
    fields = (
        "large_image_preview",
        "large_heatmap_preview",
        "image",
        "model_version",
        "status",
        "quality_status",
        "withheld",
        "quality",
        "probability_bcc",
        "probability_mel",
        "probability_nv",
        "predicted_class",
        "malignant",
        "risk_level",
        "heatmap_class",
        "preprocess_ms",
        "inference_ms",
        "quality_ms",
        "overlay_ms",
        "total_ms",
        "attempts",
        "error",
        "requested_by",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields
    #: What the quality gate withholds from whoever may not see withheld results.
    withheld_fields = (
        "large_heatmap_preview",
        "probability_bcc",
        "probability_mel",
        "probability_nv",
        "predicted_class",
        "malignant",
        "risk_level",
        "heatmap_class",
    )

    withheld_columns = ("heatmap_preview", "predicted_class", "risk_level", "malignant_probability_display")

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # results are kept with their history

    def get_fields(self, request, obj=None):
        """A withheld result's figures only for those who may see them (admins: this page is
        theirs alone today, so this guards against the admin ever opening to other roles)."""
        if obj is not None and obj.is_withheld and not permissions.can_see_withheld_result(user=request.user):
            return [field for field in self.fields if field not in self.withheld_fields]
        return self.fields

    def get_list_display(self, request):
        if not permissions.can_see_withheld_result(user=request.user):
            return [column for column in self.list_display if column not in self.withheld_columns]
        return self.list_display

    @admin.display(description="withheld", boolean=True)
    def withheld(self, obj: Prediction) -> bool:
        """The quality gate could not judge the image: clinicians and reviewers see no figures."""
        return obj.is_withheld

    @admin.display(description="image")
    def image_preview(self, obj: Prediction) -> str:
        return thumbnail_html(obj.image)

    @admin.display(description="image")
    def large_image_preview(self, obj: Prediction) -> str:
        return thumbnail_html(obj.image, size=320)

    def _heatmap(self, obj: Prediction, size: int) -> str:
        if obj.status != "succeeded":
            return "—"
        url = obj.get_heatmap_url()
        return image_link_html(href=url, src=url, alt=f"Grad-CAM for {obj.heatmap_class}", size=size)

    @admin.display(description="heatmap")
    def heatmap_preview(self, obj: Prediction) -> str:
        return self._heatmap(obj, 80)

    @admin.display(description="heatmap")
    def large_heatmap_preview(self, obj: Prediction) -> str:
        return self._heatmap(obj, 320)

    @admin.display(description="P(BCC)+P(MEL)")
    def malignant_probability_display(self, obj: Prediction) -> str:
        value = obj.malignant_probability
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description="failure reason")
    def error_short(self, obj: Prediction) -> str:
        return obj.error[:120]

    @admin.action(description="Re-run with the active model")
    def rerun(self, request, queryset) -> None:
        count = 0
        for prediction in queryset.select_related("image__lesion__patient"):
            try:
                services.prediction_rerun(image=prediction.image, requested_by=request.user)
            except (services.NoActiveModel, services.RerunThrottled) as error:
                self.message_user(request, f"{error} Nothing more was queued.", messages.ERROR)
                break
            except services.RerunPending as error:
                self.message_user(request, str(error), messages.WARNING)
                continue
            count += 1
        if count:
            self.message_user(request, f"{count} new prediction{'s' if count != 1 else ''} queued.")
