"""Query-string filters of the notifications API."""

from __future__ import annotations

import django_filters

from .models import Notification, NotificationKind


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text="true: unread only; false: read only."
    )
    kind = django_filters.ChoiceFilter(choices=NotificationKind.choices)

    class Meta:
        model = Notification
        fields = ["unread", "kind"]
