"""Admin: a read-only list of the notifications sent, for support and review."""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdminMixin

from .models import Notification


class _DoneFilter(admin.SimpleListFilter):
    """Yes / no on whether a timestamp field is set."""

    field_name = ""

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(**{f"{self.field_name}__isnull": self.value() == "no"})
        return queryset


class ReadFilter(_DoneFilter):
    title = "read"
    parameter_name = "read"
    field_name = "read_at"


class EmailedFilter(_DoneFilter):
    title = "e-mailed"
    parameter_name = "emailed"
    field_name = "emailed_at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Admins only, read only: notifications come from events."""

    list_display = ("title", "recipient", "kind", "created_at", "is_read", "is_emailed")
    list_filter = ("kind", ReadFilter, EmailedFilter, "created_at")
    search_fields = ("title", "event_key", "recipient__username", "recipient__last_name")
    date_hierarchy = "created_at"
    list_select_related = ("recipient",)
    readonly_fields = [field.name for field in Notification._meta.fields]

    @admin.display(description="read", boolean=True, ordering="read_at")
    def is_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    @admin.display(description="e-mailed", boolean=True, ordering="emailed_at")
    def is_emailed(self, obj: Notification) -> bool:
        return obj.emailed_at is not None
