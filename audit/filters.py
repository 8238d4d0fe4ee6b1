"""Query-string filters of the access log API."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field

from .models import AccessLog, Action, Channel, ObjectType


class DateOrDateTimeField(forms.Field):
    """``2026-11-20`` (a whole day) or an ISO 8601 date-time (``2026-11-20T09:00:00Z``)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            # A date first: Python reads "2026-11-20" as a date-time (midnight) too.
            moment = parse_date(value) or parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            raise forms.ValidationError("Enter a date (YYYY-MM-DD) or an ISO 8601 date-time.", code="invalid")
        if isinstance(moment, datetime.datetime) and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment


@extend_schema_field({"type": "string", "description": "A date (YYYY-MM-DD, inclusive) or an ISO 8601 date-time."})
class DateOrDateTimeFilter(django_filters.Filter):
    """``after``: from that moment (a date: from the start of that day); ``before``: up to it (a
    date: to the end of that day). Both inclusive."""

    field_class = DateOrDateTimeField

    def __init__(self, *args, bound: str, **kwargs):
        self.bound = bound
        super().__init__(*args, **kwargs)

    def filter(self, queryset, value):
        if value is None:
            return queryset
        lookup = "gte" if self.bound == "after" else "lte"
        field = self.field_name if isinstance(value, datetime.datetime) else f"{self.field_name}__date"
        return queryset.filter(**{f"{field}__{lookup}": value})


class AccessLogFilter(django_filters.FilterSet):
    user = django_filters.NumberFilter(field_name="user_id", help_text="A user's id.")
    username = django_filters.CharFilter(help_text="As recorded (for failed logins: as typed).")
    action = django_filters.ChoiceFilter(choices=Action.choices)
    object_type = django_filters.ChoiceFilter(choices=ObjectType.choices)
    object_id = django_filters.NumberFilter()
    patient = django_filters.NumberFilter(
        method="about_patient", help_text="Everything about one patient (their records, and lists that returned them)."
    )
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    created_after = DateOrDateTimeFilter(field_name="created_at", bound="after")
    created_before = DateOrDateTimeFilter(field_name="created_at", bound="before")

    def about_patient(self, queryset, name, value):
        return queryset if value is None else queryset.about_patient(int(value))

    class Meta:
        model = AccessLog
        fields = [
            "user",
            "username",
            "action",
            "object_type",
            "object_id",
            "patient",
            "channel",
            "created_after",
            "created_before",
        ]
