"""Patients, their lesion cases and the dated images of each lesion.

The access rule ("who may see this patient") lives in ``PatientQuerySet.visible_to``; the
lesion and image querysets delegate to it, so there is exactly one place to change it.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .validators import validate_not_in_future


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class AnatomicSite(models.TextChoices):
    """The ISIC ``anatom_site_general`` vocabulary."""

    HEAD_NECK = "head/neck", "Head / neck"
    UPPER_EXTREMITY = "upper extremity", "Upper extremity"
    LOWER_EXTREMITY = "lower extremity", "Lower extremity"
    ANTERIOR_TORSO = "anterior torso", "Anterior torso"
    POSTERIOR_TORSO = "posterior torso", "Posterior torso"
    LATERAL_TORSO = "lateral torso", "Lateral torso"
    PALMS_SOLES = "palms/soles", "Palms / soles"
    ORAL_GENITAL = "oral/genital", "Oral / genital"
    UNKNOWN = "unknown", "Unknown"


class LesionStatus(models.TextChoices):
    MONITORING = "monitoring", "Monitoring"
    REFERRED = "referred", "Referred"
    BIOPSIED = "biopsied", "Biopsied"
    EXCISED = "excised", "Excised"
    CLOSED = "closed", "Closed"


class MonitoringPlan(models.TextChoices):
    """Sequential dermoscopy: short-term (about 3 months) for flat melanocytic lesions without
    clear melanoma clues, long-term (6 or 12 months) for total-body follow-up."""

    NONE = "none", "No monitoring"
    SHORT_TERM = "short_term", "Short-term (3 months)"
    LONG_TERM_6 = "long_term_6", "Long-term (6 months)"
    LONG_TERM_12 = "long_term_12", "Long-term (12 months)"
    CUSTOM = "custom", "Custom date"


#: Months between visits for each plan with a fixed interval.
MONITORING_PLAN_MONTHS = {
    MonitoringPlan.SHORT_TERM: 3,
    MonitoringPlan.LONG_TERM_6: 6,
    MonitoringPlan.LONG_TERM_12: 12,
}


class BodyMapView(models.TextChoices):
    FRONT = "front", "Front"
    BACK = "back", "Back"


class Modality(models.TextChoices):
    DERMOSCOPIC = "dermoscopic", "Dermoscopic"
    CLINICAL_CLOSE_UP = "clinical close-up", "Clinical close-up"


class PatientQuerySet(models.QuerySet["Patient"]):
    def visible_to(self, user) -> PatientQuerySet:
        """The access rule: admins and reviewers see every patient (reviewers review every
        case); a clinician sees the patients they own or that are shared with them; anyone
        else sees nothing."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_admin or user.is_reviewer:
            return self.all()
        return self.owned_or_shared_by(user)

    def editable_by(self, user) -> PatientQuerySet:
        """Who may change a patient's records (details, lesions, images): admins and the
        care team. Reviewers see every patient but change only what review adds."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_admin:
            return self.all()
        return self.owned_or_shared_by(user)

    def owned_or_shared_by(self, user) -> PatientQuerySet:
        """The patients of a user's own care: owned by them or shared with them."""
        shared_ids = PatientShare.objects.filter(clinician=user).values("patient_id")
        return self.filter(Q(owner=user) | Q(pk__in=shared_ids))

    def search(self, query: str) -> PatientQuerySet:
        query = query.strip()
        if not query:
            return self
        condition = Q()
        for term in query.split():
            condition &= Q(identifier__icontains=term) | Q(given_name__icontains=term) | Q(family_name__icontains=term)
        return self.filter(condition)


class Patient(models.Model):
    identifier = models.CharField(
        "MRN", max_length=64, unique=True, help_text="Medical record number, unique in this clinic."
    )
    given_name = models.CharField(max_length=150)
    family_name = models.CharField(max_length=150)
    date_of_birth = models.DateField(validators=[validate_not_in_future])
    sex = models.CharField(max_length=16, choices=Sex.choices, default=Sex.UNKNOWN)
    notes = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_patients")
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="PatientShare",
        through_fields=("patient", "clinician"),
        related_name="shared_patients",
        blank=True,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(identifier=""), name="patient_identifier_not_empty"),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.identifier})"

    def get_absolute_url(self) -> str:
        return reverse("cases:patient-detail", kwargs={"pk": self.pk})

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class PatientShare(models.Model):
    """A clinician of the patient's care team, granted access by the owner (or an admin)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="shares")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient_shares")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "clinician"], name="patient_share_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} shared with {self.clinician}"


class LesionQuerySet(models.QuerySet["Lesion"]):
    def visible_to(self, user) -> LesionQuerySet:
        return self.filter(patient__in=Patient.objects.visible_to(user))

    def with_image_count(self) -> LesionQuerySet:
        return self.annotate(image_count=models.Count("images"))

    def follow_up_due(self, *, on_or_before: datetime.date) -> LesionQuerySet:
        """Lesions under monitoring whose next visit is due on or before a date."""
        return self.exclude(monitoring_plan=MonitoringPlan.NONE).filter(next_visit_on__lte=on_or_before)


class Lesion(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="lesions")
    anatomic_site = models.CharField(max_length=32, choices=AnatomicSite.choices, default=AnatomicSite.UNKNOWN)
    label = models.CharField(max_length=200, help_text='A short description, e.g. "mole left shoulder".')
    status = models.CharField(max_length=16, choices=LesionStatus.choices, default=LesionStatus.MONITORING)
    opened_on = models.DateField(default=timezone.localdate, validators=[validate_not_in_future])
    monitoring_plan = models.CharField(max_length=16, choices=MonitoringPlan.choices, default=MonitoringPlan.NONE)
    next_visit_on = models.DateField(
        "next visit", null=True, blank=True, help_text="When the lesion is next to be seen and imaged."
    )
    body_map_view = models.CharField("body map view", max_length=8, choices=BodyMapView.choices, blank=True)
    body_map_x = models.FloatField(
        "body map x", null=True, blank=True, help_text="Across the view, 0 (left edge) to 1 (right edge)."
    )
    body_map_y = models.FloatField(
        "body map y", null=True, blank=True, help_text="Down the view, 0 (top) to 1 (bottom)."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LesionQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(anatomic_site__in=AnatomicSite.values), name="lesion_site_valid"),
            models.CheckConstraint(condition=Q(status__in=LesionStatus.values), name="lesion_status_valid"),
            models.CheckConstraint(condition=~Q(label=""), name="lesion_label_not_empty"),
            models.CheckConstraint(
                condition=Q(monitoring_plan__in=MonitoringPlan.values), name="lesion_monitoring_plan_valid"
            ),
            # A plan under monitoring has a next visit; no plan, no next visit.
            models.CheckConstraint(
                condition=(Q(monitoring_plan=MonitoringPlan.NONE) & Q(next_visit_on__isnull=True))
                | (~Q(monitoring_plan=MonitoringPlan.NONE) & Q(next_visit_on__isnull=False)),
                name="lesion_next_visit_with_plan",
            ),
            # A body-map position is a view and both coordinates inside the view, or nothing.
            models.CheckConstraint(
                condition=(Q(body_map_view="") & Q(body_map_x__isnull=True) & Q(body_map_y__isnull=True))
                | (
                    Q(body_map_view__in=BodyMapView.values)
                    & Q(body_map_x__gte=0, body_map_x__lte=1)
                    & Q(body_map_y__gte=0, body_map_y__lte=1)
                ),
                name="lesion_body_map_position_complete",
            ),
        ]
        indexes = [models.Index(fields=["next_visit_on"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_anatomic_site_display()})"

    def get_absolute_url(self) -> str:
        return reverse("cases:lesion-detail", kwargs={"pk": self.pk})

    @property
    def has_body_map_position(self) -> bool:
        return bool(self.body_map_view)

    def follow_up_overdue(self, *, today: datetime.date | None = None) -> bool:
        return self.next_visit_on is not None and self.next_visit_on < (today or timezone.localdate())


def _image_path(instance: LesionImage, filename: str) -> str:
    # Never derived from the uploaded name: that name is private to the uploader.
    return f"images/{uuid.uuid4().hex}.jpg"


def _thumbnail_path(instance: LesionImage, filename: str) -> str:
    return f"thumbnails/{uuid.uuid4().hex}.jpg"


class LesionImageQuerySet(models.QuerySet["LesionImage"]):
    def visible_to(self, user) -> LesionImageQuerySet:
        return self.filter(lesion__patient__in=Patient.objects.visible_to(user))

    def timeline(self) -> LesionImageQuerySet:
        """Oldest visit first; images of one visit in upload order."""
        return self.order_by("captured_on", "uploaded_at", "pk")


class LesionImage(models.Model):
    """A dated image of a lesion: a re-encoded copy with all metadata removed."""

    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=_image_path, max_length=255)
    thumbnail = models.FileField(upload_to=_thumbnail_path, max_length=255)
    captured_on = models.DateField("visit date", default=timezone.localdate, validators=[validate_not_in_future])
    modality = models.CharField(max_length=32, choices=Modality.choices, default=Modality.DERMOSCOPIC)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    pixel_spacing_mm = models.FloatField(
        "pixel spacing (mm)",
        null=True,
        blank=True,
        help_text=(
            "Millimetres per pixel, if known (from the dermatoscope's field of view). "
            "Without it, sizes are in pixels only."
        ),
    )
    sha256 = models.CharField(
        "SHA-256 of pixels", max_length=64, help_text="SHA-256 of the stored image's decoded RGB pixels."
    )
    source_format = models.CharField(max_length=16, help_text="Format detected from the uploaded bytes.")
    original_filename = models.CharField(max_length=255, blank=True, help_text="Shown only to the uploader.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = LesionImageQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["captured_on", "uploaded_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["lesion", "sha256"], name="lesion_image_pixels_unique"),
            models.CheckConstraint(condition=Q(width__gt=0) & Q(height__gt=0), name="lesion_image_size_positive"),
            models.CheckConstraint(condition=Q(modality__in=Modality.values), name="lesion_image_modality_valid"),
            models.CheckConstraint(
                condition=Q(pixel_spacing_mm__isnull=True) | Q(pixel_spacing_mm__gt=0, pixel_spacing_mm__lte=1),
                name="lesion_image_pixel_spacing_plausible",
            ),
        ]
        indexes = [models.Index(fields=["lesion", "captured_on"])]

    def __str__(self) -> str:
        return f"Image {self.pk} of {self.lesion.label} ({self.captured_on})"

    def get_absolute_url(self) -> str:
        return reverse("cases:image-detail", kwargs={"pk": self.pk})

    def get_file_url(self) -> str:
        return reverse("cases:image-file", kwargs={"pk": self.pk})

    def get_thumbnail_url(self) -> str:
        return reverse("cases:image-thumbnail", kwargs={"pk": self.pk})
