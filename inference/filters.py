"""Query-string filters of the predictions API."""

from __future__ import annotations

import django_filters

from .models import WITHHELD, DiagnosisClass, Prediction, PredictionStatus, QualityStatus, RiskLevel


class PredictionFilter(django_filters.FilterSet):
    # Plain numbers, not object lookups: the list is already limited to what the user may see,
    # so an id outside it simply matches nothing (and says nothing about the object).
    status = django_filters.ChoiceFilter(choices=PredictionStatus.choices)
    # Filtering by class or risk never matches a withheld result (for anyone), so the filter
    # cannot reveal what was withheld.
    predicted_class = django_filters.ChoiceFilter(choices=DiagnosisClass.choices, method="shown_figure")
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices, method="shown_figure")
    quality_status = django_filters.ChoiceFilter(
        choices=QualityStatus.choices, help_text="The quality gate's verdict (ok, warning, rejected)."
    )
    model_version = django_filters.NumberFilter(field_name="model_version_id")
    image = django_filters.NumberFilter(field_name="image_id")
    lesion = django_filters.NumberFilter(field_name="image__lesion_id")
    patient = django_filters.NumberFilter(field_name="image__lesion__patient_id")

    class Meta:
        model = Prediction
        fields = [
            "status",
            "quality_status",
            "predicted_class",
            "risk_level",
            "model_version",
            "image",
            "lesion",
            "patient",
        ]

    def shown_figure(self, queryset, name, value):
        return queryset.filter(**{name: value}).exclude(WITHHELD)
