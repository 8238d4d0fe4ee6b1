"""API representation of access log rows (read only: nothing writes them over the API)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from .models import AccessLog

ACCESS_LOG_EXAMPLE = {
    "id": 4812,
    "created_at": "2026-11-20T09:21:07.513208Z",
    "user": 7,
    "username": "asmith",
    "action": "heatmap",
    "object_type": "prediction",
    "object_id": 88,
    "patient": 12,
    "patients": [],
    "channel": "api",
    "method": "GET",
    "path": "/api/v1/predictions/88/heatmap/?class=MEL&opacity=0.6",
    "status_code": 200,
    "ip": "203.0.113.24",
    "user_agent": "python-urllib/3.12",
    "detail": "",
}


@extend_schema_serializer(
    examples=[
        OpenApiExample("A heatmap seen over the API", value=ACCESS_LOG_EXAMPLE, response_only=True),
        OpenApiExample(
            "A failed login",
            value={
                **ACCESS_LOG_EXAMPLE,
                "id": 4790,
                "created_at": "2026-11-20T08:02:44.100931Z",
                "user": None,
                "username": "asmiht",
                "action": "login_failed",
                "object_type": "",
                "object_id": None,
                "patient": None,
                "channel": "web",
                "method": "POST",
                "path": "/accounts/login/?next=/",
                "status_code": None,
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            },
            response_only=True,
        ),
    ]
)
class AccessLogSerializer(serializers.ModelSerializer):
    patient = serializers.IntegerField(
        source="patient_id", read_only=True, allow_null=True, help_text="The patient the object belongs to."
    )
    patients = serializers.ListField(
        source="patient_id_list",
        child=serializers.IntegerField(),
        read_only=True,
        help_text="For a list or search: every patient it returned.",
    )

    class Meta:
        model = AccessLog
        fields = [
            "id",
            "created_at",
            "user",
            "username",
            "action",
            "object_type",
            "object_id",
            "patient",
            "patients",
            "channel",
            "method",
            "path",
            "status_code",
            "ip",
            "user_agent",
            "detail",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "user": {"help_text": "The user's id; null for a failed login or an unknown user."},
            "status_code": {"help_text": "The answer's status; null for logins (recorded before the answer)."},
        }
