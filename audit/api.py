"""API endpoints of the access log, for admins only: the list, and the same rows as CSV."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core import permissions
from core.api import IgnoreAcceptHeader

from . import selectors, services
from .filters import AccessLogFilter
from .serializers import AccessLogSerializer
from .views import csv_response


class CanViewAuditLog(BasePermission):
    """Admins only: another user gets 403, an anonymous client 401."""

    message = "Only admins may read the access log."

    def has_permission(self, request, view) -> bool:
        return permissions.can_view_audit_log(user=request.user)


@extend_schema_view(
    list=extend_schema(
        summary="List the access log (admins)",
        description=(
            "Every view of a patient record, image or heatmap (web UI, API, admin, files), denied attempts, "
            "exports, logins, failed logins, logouts and API tokens created; newest first."
        ),
        tags=["access log"],
    ),
)
class AccessLogViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AccessLogSerializer
    permission_classes = [CanViewAuditLog]
    filterset_class = AccessLogFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.access_log_list()

    @extend_schema(
        summary="Export the access log as CSV (admins)",
        description=(
            "The rows the same filters select, as CSV (UTF-8, a header row, newest first unless `ordering` "
            "says otherwise). The export itself is logged."
        ),
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows as CSV.")},
        tags=["access log"],
    )
    @action(detail=False, methods=["get"], content_negotiation_class=IgnoreAcceptHeader, pagination_class=None)
    def export(self, request: Request):
        queryset = self.filter_queryset(self.get_queryset())
        return csv_response(
            lines=services.access_log_export_csv(queryset=queryset, actor=request.user, request=request)
        )
