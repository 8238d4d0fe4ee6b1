"""Forms only parse and validate input; the services do the writing."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import User
from core.forms import DateInput

from .models import Lesion, Modality, Patient


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
        fields = ["label", "anatomic_site", "status", "opened_on"]
        widgets = {"opened_on": DateInput()}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["opened_on"].widget.attrs["max"] = timezone.localdate().isoformat()
        if not self.instance.pk:
            self.fields["opened_on"].initial = timezone.localdate()


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
