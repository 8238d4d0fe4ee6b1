"""DICOM uploads (``cases.dicomfiles``) through the API and the upload form: the same checks as
any upload, the visit date from the study date, the modality from the class, another patient's
file refused, and a round trip export → import that keeps the pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from cases.dicomfiles import DERMOSCOPIC_PHOTOGRAPHY, strip_jpeg_metadata
from cases.imaging import normalise_upload
from cases.models import LesionImage

from .. import images
from ..factories import LesionFactory, LesionImageFactory

pytestmark = pytest.mark.django_db
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def upload(api, lesion, content: bytes, name: str = "image.dcm", **fields):
    return api.post(
        "/api/v1/images/",
        {"lesion": lesion.pk, "file": SimpleUploadedFile(name, content), **fields},
        format="multipart",
    )


def pixels(image: LesionImage) -> np.ndarray:
    with image.file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"))


@pytest.mark.parametrize("modality", ["dermoscopic", "clinical close-up"])
def test_a_round_trip_export_then_import_keeps_the_pixels_date_and_modality(api_client_for, modality):
    original = LesionImageFactory(modality=modality, seed=5)
    patient = original.lesion.patient
    api = api_client_for(patient.owner)
    exported = api.get(reverse("api:image-dicom", kwargs={"pk": original.pk})).content
    other_lesion = LesionFactory(patient=patient)

    # The form's date and modality give way to the file's study date and class.
    other_modality = "dermoscopic" if modality != "dermoscopic" else "clinical close-up"
    response = upload(api, other_lesion, exported, captured_on="2026-02-20", modality=other_modality)

    assert response.status_code == 201, response.json()
    imported = LesionImage.objects.get(pk=response.json()["id"])
    assert np.array_equal(pixels(imported), pixels(original))
    assert imported.sha256 == original.sha256
    assert imported.captured_on == original.captured_on
    assert imported.modality == modality
    assert imported.source_format == "DICOM"
    with imported.file.open("rb") as handle:
        assert b"Exif" not in handle.read()[:4096]
    # Importing it again into the lesion that has it: the same pixels, a 409 as for any upload.
    assert upload(api, original.lesion, exported).status_code == 409


def test_another_patients_dicom_file_is_refused_with_a_clear_message(api_client_for):
    lesion = LesionFactory(patient__identifier="MRN-1000")
    content = images.dicom_photograph(patient_id="MRN-2000")

    response = upload(api_client_for(lesion.patient.owner), lesion, content, name="scan.dcm")

    assert response.status_code == 400
    message = response.json()["errors"][0]["detail"]
    assert "Patient ID is “MRN-2000”, not this patient's MRN (MRN-1000)" in message
    assert not LesionImage.objects.exists()


def test_the_upload_form_takes_a_dicom_file_and_refuses_another_patients(client):
    lesion = LesionFactory(patient__identifier="MRN-1000")
    client.force_login(lesion.patient.owner)
    url = reverse("cases:image-upload", args=[lesion.pk])
    form = {"captured_on": "2026-03-01", "modality": "dermoscopic"}

    refused = client.post(
        url, {**form, "files": [SimpleUploadedFile("a.dcm", images.dicom_photograph(patient_id="X"))]}
    )
    assert refused.status_code == 400
    assert "not this patient&#x27;s MRN (MRN-1000)" in refused.content.decode()

    content = images.dicom_photograph(patient_id="MRN-1000", study_date="20260110")
    accepted = client.post(url, {**form, "files": [SimpleUploadedFile("b.dcm", content)]})
    assert accepted.status_code == 302
    image = LesionImage.objects.get()
    assert image.captured_on.isoformat() == "2026-01-10"
    assert image.modality == "clinical close-up"  # VL Photographic


def test_an_uncompressed_dicom_goes_through_the_same_checks_as_any_upload(api_client_for, settings):
    lesion = LesionFactory(patient__identifier="MRN-1000")
    api = api_client_for(lesion.patient.owner)

    accepted = upload(api, lesion, images.dicom_photograph(patient_id="MRN-1000", sop_class=DERMOSCOPIC_PHOTOGRAPHY))
    assert accepted.status_code == 201
    assert accepted.json()["modality"] == "dermoscopic"
    stored = LesionImage.objects.get()
    # Stored exactly as the same pixels uploaded as a PNG would be.
    as_png = normalise_upload(images.png(200, 150, seed=0), filename="same.png", max_bytes=10**8, max_pixels=10**8)
    assert np.array_equal(pixels(stored), np.asarray(Image.open(io.BytesIO(as_png.jpeg))))
    assert stored.sha256 == as_png.sha256

    ct_image = images.dicom_photograph(patient_id="MRN-1000", sop_class=CT_IMAGE_STORAGE)
    assert upload(api, lesion, ct_image).status_code == 415
    truncated = images.dicom_photograph(patient_id="MRN-1000", seed=2)[:-5000]
    assert upload(api, lesion, truncated).status_code == 400
    settings.SKINPORTAL_MAX_IMAGE_PIXELS = 100 * 100
    big = upload(api, lesion, images.dicom_photograph(patient_id="MRN-1000", seed=3))
    assert big.status_code == 400 and "megapixels" in big.json()["errors"][0]["detail"]
    future = upload(
        api, lesion, images.dicom_photograph(patient_id="MRN-1000", study_date="29990101", width=90, height=90)
    )
    assert future.status_code == 400 and "in the future" in str(future.json())
    assert LesionImage.objects.count() == 1


def test_stripping_a_jpegs_metadata_keeps_its_compressed_picture_byte_for_byte():
    with_exif = images.jpeg_with_gps_and_orientation_6()

    stripped = strip_jpeg_metadata(with_exif)

    assert stripped is not None and len(stripped) < len(with_exif)
    assert b"Exif" not in stripped and with_exif.endswith(stripped[-1000:])
    assert strip_jpeg_metadata(b"not a jpeg") is None
