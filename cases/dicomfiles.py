"""Reading an uploaded DICOM file of a dermoscopic or clinical photograph. Pure functions: no
database, no storage.

A DICOM upload is accepted only if it is a Part 10 file of the Dermoscopic Photography or VL
Photographic Image Storage class, of the lesion's patient (its Patient ID is their MRN), within
the pixel limit. Its pixels then go through the same checks as any upload
(``cases.imaging.normalise_upload``); the visit date comes from its Study Date and the modality
from its class. A JPEG Baseline image (what SkinPortal's own export holds) is kept as it is, with
only its metadata segments removed, so that a round trip export → import keeps the pixels.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
from dataclasses import dataclass

import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import generate_frames
from pydicom.errors import InvalidDicomError
from pydicom.uid import JPEGBaseline8Bit

from .imaging import ImageRejected, NormalisedImage, RejectionCode, normalise_upload, pixel_sha256

DERMOSCOPIC_PHOTOGRAPHY = "1.2.840.10008.5.1.4.1.1.77.1.7"
VL_PHOTOGRAPHIC = "1.2.840.10008.5.1.4.1.1.77.1.4"
#: The image's modality (``cases.models.Modality`` values) for each accepted SOP class, and back.
MODALITY_OF_SOP_CLASS = {DERMOSCOPIC_PHOTOGRAPHY: "dermoscopic", VL_PHOTOGRAPHIC: "clinical close-up"}
SOP_CLASS_OF_MODALITY = {modality: uid for uid, modality in MODALITY_OF_SOP_CLASS.items()}

# JPEG markers: APP0 (JFIF) and APP14 (Adobe: says how the colours are encoded) are kept; every
# other APPn segment (EXIF, XMP, ICC, maker notes) and comments are metadata and are dropped.
_KEPT_APP_MARKERS = {0xE0, 0xEE}
_START_OF_SCAN = 0xDA


def is_dicom(data: bytes) -> bool:
    """A DICOM Part 10 file: a 128-byte preamble, then ``DICM``."""
    return len(data) >= 132 and data[128:132] == b"DICM"


@dataclass(frozen=True)
class DicomUpload:
    image: NormalisedImage
    modality: str
    study_date: datetime.date | None
    patient_id: str


def read_upload(data: bytes, *, filename: str, max_bytes: int, max_pixels: int, patient_identifier: str) -> DicomUpload:
    """Check a DICOM upload for the patient with MRN ``patient_identifier`` and return its stored
    form with its modality and study date, or raise ImageRejected."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        sop_class = str(dataset.SOPClassUID)
    except (InvalidDicomError, AttributeError, ValueError, EOFError, OSError):
        raise ImageRejected(
            filename, "the DICOM file cannot be read (it is truncated or corrupt).", code=RejectionCode.CORRUPT
        ) from None
    if sop_class not in MODALITY_OF_SOP_CLASS:
        raise ImageRejected(
            filename,
            f"DICOM images of class {sop_class} are not accepted; upload a Dermoscopic Photography or "
            "VL Photographic image.",
            code=RejectionCode.UNSUPPORTED_TYPE,
        )
    patient_id = str(dataset.get("PatientID", "")).strip()
    if patient_id != patient_identifier:
        shown = f"“{patient_id}”" if patient_id else "empty"
        raise ImageRejected(
            filename,
            f"the DICOM file's Patient ID is {shown}, not this patient's MRN ({patient_identifier}); "
            "it belongs to another patient and was not stored.",
            code=RejectionCode.PATIENT_MISMATCH,
        )
    rows, columns = int(dataset.get("Rows", 0)), int(dataset.get("Columns", 0))
    if rows * columns > max_pixels:
        raise ImageRejected(
            filename,
            f"the image is {columns}×{rows} pixels; the limit is {max_pixels / 1e6:.0f} megapixels.",
            code=RejectionCode.TOO_MANY_PIXELS,
        )
    picture = _picture(dataset, filename=filename)
    image = normalise_upload(picture, filename=filename, max_bytes=max_bytes, max_pixels=max_pixels)
    if dataset.file_meta.TransferSyntaxUID == JPEGBaseline8Bit:
        image = _kept_as_is(picture, image)
    return DicomUpload(
        image=dataclasses.replace(image, source_format="DICOM"),
        modality=MODALITY_OF_SOP_CLASS[sop_class],
        study_date=_date(dataset.get("StudyDate", "")),
        patient_id=patient_id,
    )


def _picture(dataset: pydicom.Dataset, *, filename: str) -> bytes:
    """The first frame as an image file: the JPEG itself when it is JPEG Baseline, otherwise the
    decoded pixels as a (lossless) PNG."""
    try:
        if dataset.file_meta.TransferSyntaxUID == JPEGBaseline8Bit:
            return next(generate_frames(dataset.PixelData, number_of_frames=int(dataset.get("NumberOfFrames", 1))))
        pixels = dataset.pixel_array
    except (AttributeError, ValueError, KeyError, StopIteration, NotImplementedError, RuntimeError):
        raise ImageRejected(
            filename,
            "the DICOM file's pixels cannot be read (missing, corrupt or in an unsupported compression).",
            code=RejectionCode.CORRUPT,
        ) from None
    if int(dataset.get("NumberOfFrames", 1)) > 1:
        pixels = pixels[0]
    if pixels.dtype != np.uint8:
        peak = max(int(pixels.max()), 1)
        pixels = (pixels.astype(np.float64) * 255 / peak).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _kept_as_is(jpeg: bytes, checked: NormalisedImage) -> NormalisedImage:
    """The JPEG without its metadata segments instead of a re-encoded copy, when it decodes to
    the same pixels as the checked image (an 8-bit colour baseline JPEG); else the checked one."""
    stripped = strip_jpeg_metadata(jpeg)
    if stripped is None:
        return checked
    try:
        with Image.open(io.BytesIO(stripped)) as decoded:
            if decoded.mode != "RGB" or decoded.size != (checked.width, checked.height):
                return checked
            digest = pixel_sha256(decoded)
    except (OSError, ValueError):
        return checked
    return dataclasses.replace(checked, jpeg=stripped, sha256=digest)


def strip_jpeg_metadata(jpeg: bytes) -> bytes | None:
    """The JPEG with its APPn (but JFIF and Adobe) and comment segments removed, the rest byte
    for byte; None if the bytes are not a JPEG whose segments can be walked."""
    if jpeg[:2] != b"\xff\xd8":
        return None
    kept = bytearray(jpeg[:2])
    position = 2
    while position + 4 <= len(jpeg):
        if jpeg[position] != 0xFF:
            return None
        marker = jpeg[position + 1]
        if marker == _START_OF_SCAN:
            return bytes(kept + jpeg[position:])
        length = int.from_bytes(jpeg[position + 2 : position + 4], "big")
        segment = jpeg[position : position + 2 + length]
        is_metadata = (0xE0 <= marker <= 0xEF and marker not in _KEPT_APP_MARKERS) or marker == 0xFE
        if not is_metadata:
            kept += segment
        position += 2 + length
    return None


def _date(value) -> datetime.date | None:
    try:
        return datetime.datetime.strptime(str(value).strip(), "%Y%m%d").date()
    except ValueError:
        return None
