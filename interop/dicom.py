"""DICOM Part 10 files of stored images (pydicom): Dermoscopic Photography Image Storage for
dermoscopic images, VL Photographic Image Storage for clinical close-ups.

One study per lesion visit (the lesion's images of one date), one series per modality in it;
the UIDs are derived from the configured organisation root (``SKINPORTAL_DICOM_UID_ROOT``) and
the records' ids, so the same image always gets the same UIDs. The pixel data is the stored
JPEG itself (JPEG Baseline, encapsulated), so the pixels a DICOM reader decodes are exactly the
stored image's. Builders only: the caller fetched the image through the access rule.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from collections.abc import Iterable

import pydicom
from django.utils import timezone
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, generate_uid

from cases.dicomfiles import DERMOSCOPIC_PHOTOGRAPHY, SOP_CLASS_OF_MODALITY
from cases.models import LesionImage

from . import codes

MEDIA_TYPE = "application/dicom"
#: DICOM's Modality (0008,0060) of each SOP class: DMS (dermoscopy) and XC (external-camera photography).
MODALITY_CODE = {DERMOSCOPIC_PHOTOGRAPHY: "DMS"}
DEFAULT_MODALITY_CODE = "XC"
#: DICOM's Patient's Sex (0010,0040): F, M, O, or empty (unknown).
PATIENT_SEX = {"female": "F", "male": "M", "other": "O"}
MANUFACTURER = "SkinPortal"
#: The equipment that made the DICOM object (Enhanced General Equipment): SkinPortal's export.
MODEL_NAME = "SkinPortal DICOM export"
SOFTWARE_VERSION = "interop 1"


def modality_code(modality: str) -> str:
    """DICOM's Modality of an image's modality (``cases.models.Modality`` value)."""
    return MODALITY_CODE.get(SOP_CLASS_OF_MODALITY[modality], DEFAULT_MODALITY_CODE)


class Uids:
    """The stable UIDs of SkinPortal's objects under an organisation root."""

    def __init__(self, root: str) -> None:
        self.prefix = root.rstrip(".") + "."

    def _uid(self, *parts) -> str:
        return generate_uid(prefix=self.prefix, entropy_srcs=[str(part) for part in parts])

    def study(self, *, lesion_id: int, visit: datetime.date) -> str:
        return self._uid("study", lesion_id, visit.isoformat())

    def series(self, *, lesion_id: int, visit: datetime.date, modality: str) -> str:
        return self._uid("series", lesion_id, visit.isoformat(), modality)

    def instance(self, *, image_id: int) -> str:
        return self._uid("instance", image_id)

    def frame_of_reference(self, *, image_id: int) -> str:
        """Each photograph is its own frame of reference (nothing places it against another)."""
        return self._uid("frame-of-reference", image_id)


def _code(value: str, meaning: str, scheme: str = codes.SNOMED_DICOM) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _person_name(family: str, given: str) -> str:
    return f"{family}^{given}".replace("\\", "")


def _visit_time(image: LesionImage) -> str:
    """The time of the visit: the upload's, when the image was uploaded on the visit's day;
    otherwise unknown, given as midnight."""
    uploaded = timezone.localtime(image.uploaded_at)
    return uploaded.strftime("%H%M%S") if uploaded.date() == image.captured_on else "000000"


def image_dataset(
    *,
    image: LesionImage,
    jpeg: bytes,
    uids: Uids,
    issuer: str,
    device_serial_number: str,
    laterality: str | None = None,
) -> Dataset:
    """The DICOM dataset (with its file meta information) of one stored image."""
    lesion, patient = image.lesion, image.lesion.patient
    sop_class = SOP_CLASS_OF_MODALITY[image.modality]
    instance_uid = uids.instance(image_id=image.pk)
    now = timezone.localtime()
    visit_time = _visit_time(image)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = JPEGBaseline8Bit

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8
    # SOP Common
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = instance_uid
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    # Patient
    ds.PatientName = _person_name(patient.family_name, patient.given_name)
    ds.PatientID = patient.identifier
    ds.IssuerOfPatientID = issuer[:64]
    ds.PatientBirthDate = patient.date_of_birth.strftime("%Y%m%d")
    ds.PatientSex = PATIENT_SEX.get(patient.sex, "")
    # General Study: one study per lesion visit
    ds.StudyInstanceUID = uids.study(lesion_id=lesion.pk, visit=image.captured_on)
    ds.StudyDate = image.captured_on.strftime("%Y%m%d")
    ds.StudyTime = visit_time
    ds.ReferringPhysicianName = ""
    ds.StudyID = f"L{lesion.pk}"[:16]
    ds.AccessionNumber = ""
    ds.StudyDescription = f"Skin lesion: {lesion.label}"[:64]
    # General Series: one series per modality of the visit
    ds.Modality = modality_code(image.modality)
    ds.SeriesInstanceUID = uids.series(lesion_id=lesion.pk, visit=image.captured_on, modality=image.modality)
    ds.SeriesNumber = 1 if sop_class == DERMOSCOPIC_PHOTOGRAPHY else 2
    ds.SeriesDescription = image.get_modality_display()
    if sop_class == DERMOSCOPIC_PHOTOGRAPHY:  # Frame of Reference: part of this IOD only
        ds.FrameOfReferenceUID = uids.frame_of_reference(image_id=image.pk)
        ds.PositionReferenceIndicator = ""
    # General Equipment, Enhanced General Equipment: the exporter (the camera is not known)
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL_NAME
    ds.DeviceSerialNumber = device_serial_number
    ds.SoftwareVersions = SOFTWARE_VERSION
    # General Image, VL Image
    ds.InstanceNumber = image.pk
    ds.PatientOrientation = ""
    ds.ContentDate = image.captured_on.strftime("%Y%m%d")
    ds.ContentTime = visit_time
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.DerivationDescription = "Re-encoded on upload: upright (EXIF orientation applied), sRGB, metadata removed"
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = f"{image.width * image.height * 3 / max(len(jpeg), 1):.2f}"[:16]
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.BurnedInAnnotation = "NO"
    ds.AcquisitionContextSequence = []
    if sop_class == DERMOSCOPIC_PHOTOGRAPHY:
        # Dermoscopic Image module: a dermoscope's close-up shows no face; how it was taken
        # (polarisation, light, contact, magnification) is not recorded (type 2: empty).
        ds.RecognizableVisualFeatures = "NO"
        ds.LightSourcePolarization = None
        ds.EmitterColorTemperature = None
        ds.ContactMethod = None
        ds.OpticalMagnificationFactor = None
    # Anatomic region: the SNOMED CT concept of the lesion's ISIC site (laterality as a modifier)
    site = codes.body_site(lesion.anatomic_site)
    region = _code(site.code, site.display)
    if laterality in codes.LATERALITY:
        concept, letter = codes.LATERALITY[laterality]
        region.AnatomicRegionModifierSequence = [_code(concept.code, concept.display)]
        ds.ImageLaterality = letter
    else:
        ds.Laterality = ""  # General Series, type 2C: empty when not known (a limb or a side may be paired)
    ds.AnatomicRegionSequence = [region]
    ds.ImageComments = f"ISIC anatomic site: {lesion.anatomic_site}"
    # Image Pixel: the stored JPEG as it is
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.Rows = image.height
    ds.Columns = image.width
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([jpeg])
    ds["PixelData"].VR = "OB"
    return ds


def to_bytes(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def study_zip(files: Iterable[tuple[str, bytes]]) -> bytes:
    """A ZIP of one study's files (``(name, bytes)``), stored as they are (JPEG does not shrink)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()
