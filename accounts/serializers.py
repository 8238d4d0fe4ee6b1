"""API representations of users and tokens."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from .models import User
from .services import DEFAULT_TOKEN_LIFETIME_DAYS


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A clinician", value={"id": 9, "username": "bjones", "display_name": "Ben Jones"}, response_only=True
        )
    ]
)
class UserSummarySerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name"]


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Clinician who is also a reviewer",
            value={
                "id": 7,
                "username": "asmith",
                "display_name": "Alice Smith",
                "email": "alice.smith@clinic.example",
                "roles": ["clinician", "reviewer"],
                "is_admin": False,
                "is_reviewer": True,
            },
            response_only=True,
        )
    ]
)
class MeSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=["clinician", "reviewer", "admin"]))
    is_admin = serializers.BooleanField()
    is_reviewer = serializers.BooleanField()

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "roles", "is_admin", "is_reviewer"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A token for a script",
            value={"username": "asmith", "password": "correct horse battery staple", "name": "research export"},
            request_only=True,
        )
    ]
)
class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    name = serializers.CharField(max_length=100, default="API client")
    lifetime_days = serializers.IntegerField(
        min_value=1,
        max_value=settings.SKINPORTAL_API_TOKEN_MAX_DAYS,
        default=DEFAULT_TOKEN_LIFETIME_DAYS,
        help_text="How long the token works, in days.",
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A new token (shown once)",
            value={
                "token": "sp_9f2c4e0b7d1a…",
                "name": "research export",
                "expiry": "2026-12-27T10:00:00Z",
            },
            response_only=True,
        )
    ]
)
class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown only this once.")
    name = serializers.CharField()
    expiry = serializers.DateTimeField()
