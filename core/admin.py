"""Base classes and helpers of every app's admin. The admin is open to roles (``core.permissions``),
not to Django's per-model permissions, and its writes go through the services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from . import permissions

if TYPE_CHECKING:
    from cases.models import LesionImage


#: The sizes of admin pictures: their classes in static/css/admin.css (the site's
#: Content-Security-Policy blocks inline ``style`` attributes).
THUMBNAIL_SIZES = {80: "admin-thumb", 320: "admin-thumb admin-thumb-large"}


def image_link_html(*, href: str, src: str, alt: str, size: int = 80) -> str:
    """A small picture linking to a page, for admin lists and change pages; the link is named
    by the picture's description."""
    return format_html(
        '<a href="{}" class="{}" aria-label="{}"><img src="{}" alt="{}" loading="lazy"></a>',
        href,
        THUMBNAIL_SIZES[size],
        alt,
        src,
        alt,
    )


def thumbnail_html(image: LesionImage, size: int = 80) -> str:
    """A lesion image's thumbnail (through the access-checked file view), linking to its page."""
    return image_link_html(
        href=image.get_absolute_url(),
        src=image.get_thumbnail_url(),
        alt=f"Image {image.pk} of {image.lesion.label}",
        size=size,
    )


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """The change history can be read, never reverted: a revert would write past the services
    (and could bring back a deleted record or overwrite a result)."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied("Reverting to an earlier version is not allowed.")
        return super().history_form_view(request, object_id, version_id, extra_context)


class AdminOnlyMixin:
    """Open to the admin role (staff users) without per-model permissions."""

    def has_module_permission(self, request) -> bool:
        return permissions.is_admin(user=request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return permissions.is_admin(user=request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return permissions.is_admin(user=request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return permissions.is_admin(user=request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return permissions.is_admin(user=request.user)


class ReadOnlyAdminMixin:
    """Rows shown, never added, changed or deleted here (they are written by the services, or
    never changed at all). Open to admins; override ``can_view`` to open it to another role."""

    def can_view(self, user) -> bool:
        return permissions.is_admin(user=user)

    def has_module_permission(self, request) -> bool:
        return self.can_view(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return self.can_view(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class VisibleToUserAdmin(AdminOnlyMixin, ReadOnlyHistoryAdmin):
    """For a model whose queryset has ``visible_to(user)`` (the access rule): open to the admin
    role and restricted to what the rule lets the user see. Each object's "History" page lists
    its versions (django-simple-history): who changed what, and when."""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)
