"""API representations of notifications."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from .models import Notification

NOTIFICATION_EXAMPLE = {
    "id": 57,
    "kind": "high_risk",
    "title": "High-risk result: Pigmented lesion left scapula",
    "body": "The analysis of the visit of 20 Nov 2026 has a high risk level.",
    "url": "/images/88/",
    "lesion": 31,
    "created_at": "2026-11-20T09:20:42Z",
    "read_at": None,
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("An unread notification", value=NOTIFICATION_EXAMPLE, response_only=True),
        OpenApiExample(
            "A read notification",
            value={
                **NOTIFICATION_EXAMPLE,
                "id": 52,
                "kind": "case_reviewed",
                "title": "Case reviewed: Pigmented lesion left scapula",
                "body": "",
                "url": "/lesions/31/",
                "created_at": "2026-11-18T15:02:10Z",
                "read_at": "2026-11-18T16:40:00Z",
            },
            response_only=True,
        ),
    ]
)
class NotificationSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="The web UI page to open (a path of this site).")

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "lesion", "created_at", "read_at"]
        read_only_fields = fields
        extra_kwargs = {"read_at": {"help_text": "When it was read; null while unread."}}


@extend_schema_serializer(examples=[OpenApiExample("Three marked read", value={"marked_read": 3}, response_only=True)])
class ReadAllSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField(help_text="How many unread notifications were marked read.")
