"""API endpoints for one's own notifications: parse, call a selector or a service, serialize.
Another user's notification does not exist for you (404)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from . import selectors, services
from .filters import NotificationFilter
from .serializers import NotificationSerializer, ReadAllSerializer


@extend_schema_view(
    list=extend_schema(summary="List your notifications (newest first)", tags=["notifications"]),
    retrieve=extend_schema(summary="Get one of your notifications", tags=["notifications"]),
)
class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.notifications_for(user=self.request.user)

    @extend_schema(
        summary="Mark a notification read",
        request=None,
        responses={200: NotificationSerializer},
        tags=["notifications"],
    )
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: int) -> Response:
        notification = services.notification_mark_read(notification=self.get_object(), user=request.user)
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        summary="Mark all your notifications read",
        request=None,
        responses={200: ReadAllSerializer},
        tags=["notifications"],
    )
    @action(detail=False, methods=["post"], url_path="read-all", filterset_class=None, pagination_class=None)
    def read_all(self, request: Request) -> Response:
        count = services.notification_mark_all_read(user=request.user)
        return Response(ReadAllSerializer({"marked_read": count}).data)
