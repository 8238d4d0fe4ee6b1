"""Forms only parse and validate input; the services do the writing."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import User
from core.forms import DateInput
from tracking.models import ChangeCriterion, ChangeVerdict

from .models import Lesion, Modality, MonitoringPlan, Patient


class PatientForm(forms.ModelForm):
    """Uniqueness of the MRN is checked by the service, with wording that does not reveal
    whether a record the user cannot see exists."""

    class Meta:
        model = Patient
        fields = ["identifier", "given_name", "family_name", "date_of_birth", "sex", "notes"]
        widgets = {
            "date_of_birth": DateInput(attrs={"max": ""}),
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date_of_birth"].widget.attrs["max"] = timezone.localdate().isoformat()

    def validate_unique(self) -> None:
        pass


class LesionForm(forms.ModelForm):
    class Meta:
        model = Lesion
        fields = [
            "label",
            "anatomic_site",
            "status",
            "opened_on",
            "monitoring_plan",
            "next_visit_on",
            "body_map_view",
            "body_map_x",
            "body_map_y",
        ]
        widgets = {
            "opened_on": DateInput(),
            "next_visit_on": DateInput(),
            "body_map_x": forms.NumberInput(attrs={"min": 0, "max": 1, "step": "any"}),
            "body_map_y": forms.NumberInput(attrs={"min": 0, "max": 1, "step": "any"}),
        }
        help_texts = {
            "next_visit_on": "Left empty, a 3-, 6- or 12-month plan counts from the last visit.",
        }

    #: Completed and checked by the service (``cases.services.lesion_create`` / ``lesion_update``):
    #: a fixed plan's next visit is computed there, and a body-map position is checked against the
    #: site with a message in words, so the model's constraints on them are not checked here.
    SERVICE_CHECKED = ("monitoring_plan", "next_visit_on", "body_map_view", "body_map_x", "body_map_y")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["opened_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        self.fields["monitoring_plan"].required = False
        if not self.instance.pk:
            self.fields["opened_on"].initial = timezone.localdate()

    def clean_monitoring_plan(self) -> str:
        return self.cleaned_data.get("monitoring_plan") or MonitoringPlan.NONE

    def _get_validation_exclusions(self):
        return super()._get_validation_exclusions() | set(self.SERVICE_CHECKED)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """A file field that accepts several files. Content checks happen in the upload service."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = [item for item in (data if isinstance(data, (list, tuple)) else [data]) if item]
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return files


class ImageUploadForm(forms.Form):
    files = MultipleImageField(
        label="Image files",
        help_text=(
            "JPEG, PNG or HEIC (iPhone), or DICOM (dermoscopic or VL photographic: its study date and class "
            "give the visit date and modality). You can choose several files."
        ),
        widget=MultipleFileInput(
            attrs={"accept": "image/jpeg,image/png,image/heic,image/heif,.heic,.heif,application/dicom,.dcm"}
        ),
    )
    captured_on = forms.DateField(label="Visit date", widget=DateInput())
    modality = forms.ChoiceField(choices=Modality.choices, initial=Modality.DERMOSCOPIC)
    pixel_spacing_mm = forms.FloatField(
        label="Pixel spacing (mm per pixel)",
        required=False,
        min_value=0.000001,
        max_value=1,
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text=(
            "If known from the dermatoscope (e.g. 0.01 for a 10 mm wide field of 1000 px). "
            "Without it, sizes are in pixels only."
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["captured_on"].initial = today
        self.fields["captured_on"].widget.attrs["max"] = today.isoformat()


class ShareForm(forms.Form):
    clinician = forms.ModelChoiceField(queryset=User.objects.none(), label="Clinician")

    def __init__(self, *args, candidates, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].queryset = candidates


class PatientSearchForm(forms.Form):
    q = forms.CharField(label="Search patients", required=False, max_length=100)


class ComparePairForm(forms.Form):
    """The two images of a comparison (``?from=&to=``); both optional: the latest two visits."""

    from_image = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    to_image = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def __init__(self, data=None, **kwargs) -> None:
        if data is not None:
            data = {"from_image": data.get("from"), "to_image": data.get("to")}
        super().__init__(data, **kwargs)


class ChangeChecklistForm(forms.Form):
    """The sequential-dermoscopy checklist on two visits of a lesion."""

    earlier = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    later = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    verdict = forms.ChoiceField(choices=ChangeVerdict.choices, widget=forms.RadioSelect, label="Verdict")
    criteria = forms.MultipleChoiceField(
        choices=ChangeCriterion.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="What changed",
        help_text=(
            "Significant: asymmetric enlargement, focal change of pigmentation or structure, regression, new "
            "colours, any morphological change at a short-term follow-up. Not significant: overall darkening or "
            "lightening, the number of brown globules, fewer black dots, milia-like cysts."
        ),
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
