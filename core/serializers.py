"""API representations shared by every app: one version of a record's change history."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A change",
            value={
                "when": "2026-11-21T10:02:11Z",
                "user_id": 7,
                "username": "asmith",
                "object_type": "lesion",
                "object_id": 31,
                "change": "changed",
                "changes": [{"field": "status", "old": "monitoring", "new": "referred"}],
            },
            response_only=True,
        )
    ]
)
class HistoryEntrySerializer(serializers.Serializer):
    """One version of a record (django-simple-history): who, when, what changed."""

    when = serializers.DateTimeField()
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(help_text='"system" for changes by a worker or a command.')
    object_type = serializers.CharField()
    object_id = serializers.IntegerField()
    change = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    changes = serializers.ListField(child=serializers.DictField(), help_text="[{field, old, new}] for a change.")
