"""Forms only parse and validate input; the services do the writing."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import User
from cases.models import AnatomicSite
from core.forms import DateInput
from inference.models import DiagnosisClass, RiskLevel

from .models import MAX_FOLLOW_UP_MONTHS, Histopathology, RecommendedAction, ReviewDiagnosis


class QueueFilterForm(forms.Form):
    risk_level = forms.ChoiceField(label="Risk", choices=[("", "Any risk"), *RiskLevel.choices], required=False)
    predicted_class = forms.ChoiceField(
        label="Model's class", choices=[("", "Any class"), *DiagnosisClass.choices], required=False
    )
    clinician = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("last_name", "username"),
        required=False,
        empty_label="Any clinician",
    )
    anatomic_site = forms.ChoiceField(label="Site", choices=[("", "Any site"), *AnatomicSite.choices], required=False)


class ReviewForm(forms.Form):
    # The result the reviewer saw: the service refuses the decision if it is no longer current.
    prediction = forms.IntegerField(widget=forms.HiddenInput)
    agrees_with_model = forms.TypedChoiceField(
        label="Do you agree with the model?",
        choices=[("yes", "Agree"), ("no", "Disagree")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    diagnosis = forms.ChoiceField(label="Your diagnosis", choices=[("", "—"), *ReviewDiagnosis.choices])
    action = forms.ChoiceField(label="Recommended action", choices=RecommendedAction.choices)
    follow_up_months = forms.IntegerField(
        label="Follow up in (months)",
        min_value=1,
        max_value=MAX_FOLLOW_UP_MONTHS,
        required=False,
        help_text="For a short-term follow-up.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class HistopathologyForm(forms.ModelForm):
    class Meta:
        model = Histopathology
        fields = ["diagnosis", "diagnosed_on", "report"]
        widgets = {"diagnosed_on": DateInput(), "report": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["diagnosed_on"].widget.attrs["max"] = timezone.localdate().isoformat()


class OutcomesForm(forms.Form):
    model_version = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, **kwargs) -> None:
        from inference.models import ModelVersion

        super().__init__(*args, **kwargs)
        self.fields["model_version"].queryset = ModelVersion.objects.order_by("-created_at")
