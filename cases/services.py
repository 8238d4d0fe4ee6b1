"""Writes for patients, lesions and images. Views, admin and (later) the API call these."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from core import permissions
from core.dates import add_months
from core.limits import image_work_slot
from inference.models import Prediction
from inference.services import prediction_request
from tracking.services import measurement_request

from . import dicomfiles
from .bodymap import position_problem
from .imaging import ImageRejected, NormalisedImage, normalise_upload, too_large
from .models import (
    MONITORING_PLAN_MONTHS,
    AnatomicSite,
    Lesion,
    LesionImage,
    LesionStatus,
    Modality,
    MonitoringPlan,
    Patient,
    PatientShare,
    Sex,
)
from .validators import validate_not_in_future

logger = logging.getLogger(__name__)

PATIENT_FIELDS = ("identifier", "given_name", "family_name", "date_of_birth", "sex", "notes")
LESION_FIELDS = (
    "anatomic_site",
    "label",
    "status",
    "opened_on",
    "monitoring_plan",
    "next_visit_on",
    "body_map_view",
    "body_map_x",
    "body_map_y",
)


MRN_TAKEN = (
    "This MRN cannot be registered. If the patient is already registered, ask the clinician who "
    "owns the record or an admin for access."
)


def _save_validated(instance) -> None:
    instance.full_clean()
    instance.save()


def _save_patient(patient: Patient) -> None:
    """Validate and save; the MRN must be unique, and the message for a taken MRN is neutral
    because the record holding it may be one this user is not allowed to know about."""
    patient.full_clean(validate_unique=False)
    if Patient.objects.filter(identifier=patient.identifier).exclude(pk=patient.pk).exists():
        raise ValidationError({"identifier": MRN_TAKEN})
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as error:  # the same MRN registered at the same moment
        raise ValidationError({"identifier": MRN_TAKEN}) from error


def require_care_team(*, patient: Patient, actor: User) -> None:
    """Changes to a patient's records (details, lesions, images) are the care team's and admins'.
    The form pages call this too, so that they refuse before showing a form."""
    if not permissions.can_edit_patient(user=actor, patient=patient):
        raise PermissionDenied("Only the patient's care team (owner, shared clinicians) and admins can change this.")


def _apply_changes(instance, *, changes: dict, allowed: tuple[str, ...], keep_whitespace: tuple[str, ...] = ()) -> None:
    """Set the allowed fields on ``instance``, stripping surrounding whitespace from text."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown {instance._meta.model_name} fields: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(instance, name, value.strip() if isinstance(value, str) and name not in keep_whitespace else value)


# Patients -------------------------------------------------------------------------------


@transaction.atomic
def patient_create(
    *,
    owner: User,
    identifier: str,
    given_name: str,
    family_name: str,
    date_of_birth: datetime.date,
    sex: str = Sex.UNKNOWN,
    notes: str = "",
) -> Patient:
    patient = Patient(
        owner=owner,
        identifier=identifier.strip(),
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        notes=notes,
    )
    _save_patient(patient)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, actor: User, **changes) -> Patient:
    """Change a patient's details: any clinician of the care team, or an admin."""
    require_care_team(patient=patient, actor=actor)
    _apply_changes(patient, changes=changes, allowed=PATIENT_FIELDS, keep_whitespace=("notes",))
    _save_patient(patient)
    return patient


def _require_can_manage_sharing(*, patient: Patient, actor: User) -> None:
    if not permissions.can_manage_sharing(user=actor, patient=patient):
        raise PermissionDenied("Only the patient's owner or an admin can change who the patient is shared with.")


@transaction.atomic
def patient_share(*, patient: Patient, actor: User, clinician: User) -> PatientShare:
    _require_can_manage_sharing(patient=patient, actor=actor)
    if clinician.pk == patient.owner_id:
        raise ValidationError({"clinician": "The owner already has access to this patient."})
    if not clinician.is_active:
        raise ValidationError({"clinician": "This account is not active."})
    share, _ = PatientShare.objects.get_or_create(patient=patient, clinician=clinician, defaults={"granted_by": actor})
    return share


@transaction.atomic
def patient_unshare(*, patient: Patient, actor: User, clinician: User) -> bool:
    """Revoke a clinician's access; False when they had no share to revoke."""
    _require_can_manage_sharing(patient=patient, actor=actor)
    deleted, _ = PatientShare.objects.filter(patient=patient, clinician=clinician).delete()
    return deleted > 0


# Lesions --------------------------------------------------------------------------------


def _last_visit(lesion: Lesion) -> datetime.date:
    latest = lesion.images.order_by("-captured_on").values_list("captured_on", flat=True).first() if lesion.pk else None
    return latest or lesion.opened_on or timezone.localdate()


def _validate_tracking_fields(lesion: Lesion, *, next_visit_given: bool = True) -> None:
    """The follow-up plan and the body-map position, beyond what the database checks: a plan
    with a fixed interval gets its next visit from the last visit when none is given; a custom
    plan needs a date; a position needs all three parts and must fit the site."""
    errors: dict[str, str] = {}
    if lesion.monitoring_plan == MonitoringPlan.NONE:
        lesion.next_visit_on = None
    elif lesion.next_visit_on is None:
        if lesion.monitoring_plan == MonitoringPlan.CUSTOM:
            errors["next_visit_on"] = "A custom plan needs the date of the next visit."
        else:
            lesion.next_visit_on = add_months(_last_visit(lesion), MONITORING_PLAN_MONTHS[lesion.monitoring_plan])
    elif next_visit_given and lesion.next_visit_on < (lesion.opened_on or lesion.next_visit_on):
        errors["next_visit_on"] = "The next visit cannot be before the lesion was opened."
    parts = (lesion.body_map_view, lesion.body_map_x, lesion.body_map_y)
    if any(part not in ("", None) for part in parts):
        if lesion.body_map_x is None or lesion.body_map_y is None or not lesion.body_map_view:
            errors["body_map_view"] = "A body-map position needs the view and both coordinates (click on the map)."
        else:
            problem = position_problem(
                site=lesion.anatomic_site, view=lesion.body_map_view, x=lesion.body_map_x, y=lesion.body_map_y
            )
            if problem:
                errors["body_map_view"] = problem
    if errors:
        raise ValidationError(errors)


def _save_lesion(lesion: Lesion, *, next_visit_given: bool = True) -> None:
    _validate_tracking_fields(lesion, next_visit_given=next_visit_given)
    _save_validated(lesion)


@transaction.atomic
def lesion_create(
    *,
    patient: Patient,
    actor: User,
    label: str,
    anatomic_site: str = AnatomicSite.UNKNOWN,
    status: str = LesionStatus.MONITORING,
    opened_on: datetime.date | None = None,
    monitoring_plan: str = MonitoringPlan.NONE,
    next_visit_on: datetime.date | None = None,
    body_map_view: str = "",
    body_map_x: float | None = None,
    body_map_y: float | None = None,
) -> Lesion:
    require_care_team(patient=patient, actor=actor)
    opened_on = opened_on or timezone.localdate()
    lesion = Lesion(
        patient=patient,
        created_by=actor,
        label=label.strip(),
        anatomic_site=anatomic_site,
        status=status,
        opened_on=opened_on,
        monitoring_plan=monitoring_plan,
        next_visit_on=next_visit_on,
        body_map_view=body_map_view or "",
        body_map_x=body_map_x,
        body_map_y=body_map_y,
    )
    _save_lesion(lesion)
    return lesion


@transaction.atomic
def lesion_update(*, lesion: Lesion, actor: User, **changes) -> Lesion:
    require_care_team(patient=lesion.patient, actor=actor)
    if changes.get("body_map_view") in ("", None) and "body_map_view" in changes:
        changes.update(body_map_view="", body_map_x=None, body_map_y=None)  # taken off the map
    if (
        "monitoring_plan" in changes
        and "next_visit_on" not in changes
        and changes["monitoring_plan"] != lesion.monitoring_plan
    ):
        changes["next_visit_on"] = None  # a new plan: its interval sets the next visit
    _apply_changes(lesion, changes=changes, allowed=LESION_FIELDS)
    _save_lesion(lesion)
    return lesion


def lesion_schedule_follow_up(*, lesion: Lesion, months: int) -> Lesion:
    """A follow-up ``months`` after the lesion's last visit, as a review recommends it: the plan
    with that interval (3, 6 or 12 months), else a custom plan with that date."""
    by_months = {months_of_plan: plan for plan, months_of_plan in MONITORING_PLAN_MONTHS.items()}
    lesion.monitoring_plan = by_months.get(months, MonitoringPlan.CUSTOM)
    lesion.next_visit_on = add_months(_last_visit(lesion), months)
    _save_lesion(lesion, next_visit_given=False)
    return lesion


# Images ---------------------------------------------------------------------------------


class UploadRejected(Exception):
    """One or more files of an upload were rejected; nothing of the upload was stored."""

    def __init__(self, rejections: Sequence[ImageRejected]) -> None:
        self.rejections = list(rejections)
        super().__init__("; ".join(str(r) for r in self.rejections))

    @property
    def messages(self) -> list[str]:
        return [str(r) for r in self.rejections]


@dataclass
class UploadResult:
    stored: list[LesionImage] = field(default_factory=list)
    # (file name, the image already holding those pixels)
    duplicates: list[tuple[str, LesionImage]] = field(default_factory=list)
    # The prediction queued for each stored image, by image id (None: no model version is active).
    predictions: dict[int, Prediction | None] = field(default_factory=dict)

    @property
    def duplicate_messages(self) -> list[str]:
        return [
            f"{name}: the same pixels are already stored for this lesion "
            f"(visit of {existing.captured_on:%d %b %Y}); not stored again."
            for name, existing in self.duplicates
        ]


def _file_name(upload: UploadedFile) -> str:
    return (upload.name or "unnamed file").rsplit("/", 1)[-1][:255]


def _read_upload(upload: UploadedFile, *, name: str, max_bytes: int) -> bytes:
    """Read at most ``max_bytes + 1`` bytes: enough to tell an over-size file without reading all of it."""
    if upload.size is not None and upload.size > max_bytes:
        raise too_large(name, size=upload.size, max_bytes=max_bytes)
    upload.seek(0)
    return upload.read(max_bytes + 1)


def _check_files(
    files: Sequence[UploadedFile],
    *,
    lesion: Lesion,
    captured_on: datetime.date,
    modality: str,
    checked: list[tuple[str, NormalisedImage, datetime.date, str]],
    rejections: list[ImageRejected],
) -> None:
    """Judge every file by its bytes (``normalise_upload``; a DICOM file through
    ``cases.dicomfiles``, which brings its own visit date and modality), one at a time."""
    limits = {"max_bytes": settings.SKINPORTAL_MAX_UPLOAD_BYTES, "max_pixels": settings.SKINPORTAL_MAX_IMAGE_PIXELS}
    for upload in files:
        name = _file_name(upload)
        try:
            data = _read_upload(upload, name=name, max_bytes=settings.SKINPORTAL_MAX_UPLOAD_BYTES)
            if dicomfiles.is_dicom(data):
                dicom = dicomfiles.read_upload(
                    data, filename=name, patient_identifier=lesion.patient.identifier, **limits
                )
                checked.append((name, dicom.image, _dicom_visit_date(dicom, name=name) or captured_on, dicom.modality))
            else:
                normalised = normalise_upload(
                    data,
                    filename=name,
                    **limits,
                    max_stored_pixels=settings.SKINPORTAL_MAX_STORED_PIXELS,
                    max_decode_bytes=settings.SKINPORTAL_MAX_DECODE_BYTES,
                )
                checked.append((name, normalised, captured_on, modality))
        except ImageRejected as rejection:
            rejections.append(rejection)


def image_upload(
    *,
    lesion: Lesion,
    uploaded_by: User,
    files: Sequence[UploadedFile],
    captured_on: datetime.date | None = None,
    modality: str = Modality.DERMOSCOPIC,
    pixel_spacing_mm: float | None = None,
) -> UploadResult:
    """Store one or several images of a lesion, all or nothing, and queue a prediction of each
    by the active model.

    Every file is checked first; if any is rejected, ``UploadRejected`` lists every rejected
    file and nothing is stored. Files whose pixels the lesion already has (or that repeat
    another file of the same upload) are reported in ``duplicates`` and not stored again.
    A DICOM file (``cases.dicomfiles``) must be of the lesion's patient; its Study Date and SOP
    class give its visit date and modality instead of ``captured_on`` and ``modality``.
    """
    require_care_team(patient=lesion.patient, actor=uploaded_by)
    if not files:
        raise ValidationError({"files": "Choose at least one image file."})
    if len(files) > settings.SKINPORTAL_MAX_FILES_PER_UPLOAD:
        raise ValidationError({"files": f"Upload at most {settings.SKINPORTAL_MAX_FILES_PER_UPLOAD} files at once."})
    captured_on = captured_on or timezone.localdate()
    try:
        validate_not_in_future(captured_on)
    except ValidationError as error:
        raise ValidationError({"captured_on": error.messages}) from None
    if modality not in Modality.values:
        raise ValidationError({"modality": f"Unknown modality {modality!r}."})
    if pixel_spacing_mm is not None and not 0 < pixel_spacing_mm <= 1:
        raise ValidationError(
            {"pixel_spacing_mm": "The pixel spacing must be more than 0 and at most 1 mm per pixel (or left empty)."}
        )

    # (file name, its stored form, its visit date, its modality): a DICOM file brings its own.
    checked: list[tuple[str, NormalisedImage, datetime.date, str]] = []
    rejections: list[ImageRejected] = []
    with image_work_slot():  # ImageWorkBusy (503) when the process is busy decoding others
        _check_files(
            files, lesion=lesion, captured_on=captured_on, modality=modality, checked=checked, rejections=rejections
        )
    if rejections:
        raise UploadRejected(rejections)

    result = UploadResult()
    written: list[str] = []
    storage = LesionImage._meta.get_field("file").storage
    try:
        with transaction.atomic():
            # Lock the lesion so concurrent uploads of the same pixels cannot both pass the check.
            Lesion.objects.select_for_update().filter(pk=lesion.pk).first()
            seen: dict[str, LesionImage] = {}
            for name, normalised, visit_date, image_modality in checked:
                existing = seen.get(normalised.sha256) or lesion.images.filter(sha256=normalised.sha256).first()
                if existing is not None:
                    result.duplicates.append((name, existing))
                    continue
                image = LesionImage(
                    lesion=lesion,
                    captured_on=visit_date,
                    modality=image_modality,
                    pixel_spacing_mm=pixel_spacing_mm,
                    width=normalised.width,
                    height=normalised.height,
                    sha256=normalised.sha256,
                    source_format=normalised.source_format,
                    original_filename=name,
                    uploaded_by=uploaded_by,
                )
                image.file.save("image.jpg", ContentFile(normalised.jpeg), save=False)
                written.append(image.file.name)
                image.thumbnail.save("thumbnail.jpg", ContentFile(normalised.thumbnail_jpeg), save=False)
                written.append(image.thumbnail.name)
                try:
                    with transaction.atomic():
                        image.save()
                except IntegrityError as error:
                    # Another upload stored the same pixels for this lesion at the same moment.
                    raise ValidationError(
                        {"files": f"{name}: the same image was stored for this lesion a moment ago; reload the page."}
                    ) from error
                seen[normalised.sha256] = image
                result.stored.append(image)
                # Queued now, sent to a worker once this transaction commits.
                result.predictions[image.pk] = prediction_request(image=image, requested_by=uploaded_by)
                measurement_request(image=image)
    except BaseException:
        # The rows were rolled back; remove their files too so nothing is left half-done.
        for name in written:
            try:
                storage.delete(name)
            except Exception:  # pragma: no cover - best effort cleanup, logged
                logger.exception("Could not remove %s after a failed upload", name)
        raise
    return result


def _dicom_visit_date(dicom: dicomfiles.DicomUpload, *, name: str) -> datetime.date | None:
    """A DICOM file's visit date is its Study Date, which cannot be in the future."""
    if dicom.study_date is None:
        return None
    try:
        validate_not_in_future(dicom.study_date)
    except ValidationError:
        raise ValidationError(
            {"files": f"{name}: the DICOM file's study date ({dicom.study_date:%d %b %Y}) is in the future."}
        ) from None
    return dicom.study_date


@transaction.atomic
def patient_delete(*, patient: Patient, actor: User) -> None:
    """Delete a patient with their lesions, images and predictions; the stored files (images,
    thumbnails, heatmaps, raw maps) go once the delete commits. The owner or an admin only."""
    if not permissions.can_delete_patient(user=actor, patient=patient):
        raise PermissionDenied("Only the patient's owner or an admin can delete the patient.")
    images = LesionImage.objects.filter(lesion__patient=patient).values_list("file", "thumbnail")
    predictions = Prediction.objects.filter(image__lesion__patient=patient).values_list("heatmap", "raw_map")
    stored_names = [name for names in (*images, *predictions) for name in names if name]
    patient.delete()
    storage = LesionImage._meta.get_field("file").storage
    transaction.on_commit(lambda: [storage.delete(name) for name in stored_names])
