"""Query-string filters of the predictions API."""

from __future__ import annotations

import django_filters

from .models import DiagnosisClass, Prediction, PredictionStatus, RiskLevel


class PredictionFilter(django_filters.FilterSet):
    # Plain numbers, not object lookups: the list is already limited to what the user may see,
    # so an id outside it simply matches nothing (and says nothing about the object).
    status = django_filters.ChoiceFilter(choices=PredictionStatus.choices)
    predicted_class = django_filters.ChoiceFilter(choices=DiagnosisClass.choices)
    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices)
    model_version = django_filters.NumberFilter(field_name="model_version_id")
    image = django_filters.NumberFilter(field_name="image_id")
    lesion = django_filters.NumberFilter(field_name="image__lesion_id")
    patient = django_filters.NumberFilter(field_name="image__lesion__patient_id")

    class Meta:
        model = Prediction
        fields = ["status", "predicted_class", "risk_level", "model_version", "image", "lesion", "patient"]
