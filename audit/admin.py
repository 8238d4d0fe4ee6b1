"""The access log in the admin: read only (no add, change or delete), filters, search, and CSV
exports (the selected rows, or every row the current filters select), each export logged."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from core import permissions
from core.admin import ReadOnlyAdminMixin

from . import services
from .models import AccessLog
from .views import csv_response


class AboutPatientFilter(admin.SimpleListFilter):
    """``?patient_id=N`` (the patient column's link): everything about one patient, lists and
    searches that returned them included (``AccessLogQuerySet.about_patient``)."""

    title = "patient"
    parameter_name = "patient_id"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"patient {value}")] if value and value.isdigit() else []

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            raise IncorrectLookupParameters(f"Not a patient id: {value!r}")
        return queryset.about_patient(int(value))


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "user_display",
        "action",
        "object_display",
        "patient_display",
        "channel",
        "ip",
        "status_code",
    )
    list_filter = (
        "action",
        "channel",
        "object_type",
        ("user", admin.RelatedOnlyFieldListFilter),
        AboutPatientFilter,
    )
    search_fields = ("username", "path", "ip", "object_id__exact")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    list_per_page = 100
    actions = ["export_selected"]
    change_list_template = "audit/admin/accesslog_change_list.html"
    readonly_fields = [field.name for field in AccessLog._meta.fields]

    def can_view(self, user) -> bool:
        return permissions.can_view_audit_log(user=user)

    @admin.display(description="user", ordering="username")
    def user_display(self, obj: AccessLog) -> str:
        return obj.username or "—"

    @admin.display(description="object")
    def object_display(self, obj: AccessLog) -> str:
        if obj.object_id is None:
            return obj.get_object_type_display() if obj.object_type else "—"
        return f"{obj.get_object_type_display()} {obj.object_id}"

    @admin.display(description="patient", ordering="patient_id")
    def patient_display(self, obj: AccessLog) -> str:
        if obj.patient_id is None:
            return "—"
        return format_html(
            '<a href="?patient_id={}" title="Everything about this patient">{}</a>', obj.patient_id, obj.patient_id
        )

    def get_urls(self):
        export = path("export/", self.admin_site.admin_view(self.export_view), name="audit_accesslog_export")
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """Every row the changelist's current filters, search and date select, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:audit_accesslog_changelist") + "?e=1")
        return self._export(request, changelist.queryset)

    @admin.action(description="Export the selected rows as CSV")
    def export_selected(self, request: HttpRequest, queryset) -> HttpResponse:
        return self._export(request, queryset)

    def _export(self, request: HttpRequest, queryset) -> HttpResponse:
        return csv_response(
            lines=services.access_log_export_csv(queryset=queryset, actor=request.user, request=request)
        )
