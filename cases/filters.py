"""Query-string filters of the cases API."""

from __future__ import annotations

import django_filters

from .models import AnatomicSite, Lesion, LesionImage, LesionStatus, Modality, MonitoringPlan, Patient, Sex


class PatientFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", help_text="MRN or name (each word must match).")
    sex = django_filters.ChoiceFilter(choices=Sex.choices)

    class Meta:
        model = Patient
        fields = ["search", "sex"]

    def filter_search(self, queryset, name, value):
        return queryset.search(value)


class LesionFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id")
    anatomic_site = django_filters.ChoiceFilter(choices=AnatomicSite.choices)
    status = django_filters.ChoiceFilter(choices=LesionStatus.choices)
    follow_up_due_before = django_filters.DateFilter(
        method="filter_follow_up_due_before",
        help_text="Lesions under monitoring whose next visit is due on or before this date (overdue ones included).",
    )
    monitoring_plan = django_filters.ChoiceFilter(choices=MonitoringPlan.choices)
    changed = django_filters.BooleanFilter(help_text="Lesions flagged changed (true) or not (false).")

    class Meta:
        model = Lesion
        fields = ["patient", "anatomic_site", "status", "follow_up_due_before", "monitoring_plan", "changed"]

    def filter_follow_up_due_before(self, queryset, name, value):
        return queryset.follow_up_due(on_or_before=value)


class ImageFilter(django_filters.FilterSet):
    lesion = django_filters.NumberFilter(field_name="lesion_id")
    patient = django_filters.NumberFilter(field_name="lesion__patient_id")
    modality = django_filters.ChoiceFilter(choices=Modality.choices)
    captured_after = django_filters.DateFilter(field_name="captured_on", lookup_expr="gte")
    captured_before = django_filters.DateFilter(field_name="captured_on", lookup_expr="lte")

    class Meta:
        model = LesionImage
        fields = ["lesion", "patient", "modality", "captured_after", "captured_before"]
