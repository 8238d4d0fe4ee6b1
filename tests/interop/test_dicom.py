"""The DICOM export, checked by dciodvfy (dicom3tools: no errors) and read back with pydicom:
the pixels are the stored image's, the UIDs are stable under the configured root."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pydicom
import pytest
from django.urls import reverse
from PIL import Image

from cases.dicomfiles import DERMOSCOPIC_PHOTOGRAPHY, VL_PHOTOGRAPHIC
from interop import codes

from .conftest import dciodvfy, errors

pytestmark = pytest.mark.django_db
ROOT = "1.2.826.0.1.3680043.10.999"


@pytest.fixture(autouse=True)
def _uid_root(settings):
    settings.SKINPORTAL_DICOM_UID_ROOT = ROOT


def stored_pixels(image) -> np.ndarray:
    with image.file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"))


def download(client, image) -> bytes:
    response = client.get(reverse("api:image-dicom", kwargs={"pk": image.pk}))
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/dicom"
    return response.content


@pytest.mark.parametrize(
    ("index", "sop_class", "modality"), [(0, DERMOSCOPIC_PHOTOGRAPHY, "DMS"), (2, VL_PHOTOGRAPHIC, "XC")]
)
def test_an_image_is_a_valid_dicom_file_whose_pixels_are_the_stored_image(
    api_client_for, case, tmp_path, index, sop_class, modality
):
    image = case["images"][index]
    content = download(api_client_for(case["patient"].owner), image)

    report = dciodvfy(content, tmp_path)
    assert errors(report) == [], report
    dataset = pydicom.dcmread(io.BytesIO(content))
    assert dataset.SOPClassUID == sop_class
    assert dataset.Modality == modality
    assert np.array_equal(dataset.pixel_array, stored_pixels(image))
    assert (dataset.Rows, dataset.Columns) == (image.height, image.width)
    # The patient module from the patient; the anatomic region from the lesion's site
    assert str(dataset.PatientName) == "Lovelace^Ada"
    assert dataset.PatientID == "MRN-4711"
    assert dataset.PatientBirthDate == case["patient"].date_of_birth.strftime("%Y%m%d")
    assert dataset.PatientSex == "F"
    assert dataset.StudyDate == image.captured_on.strftime("%Y%m%d")
    region = dataset.AnatomicRegionSequence[0]
    assert (region.CodeValue, region.CodingSchemeDesignator) == (codes.BODY_SITES["upper extremity"].code, "SCT")


def test_uids_are_stable_under_the_root_a_study_per_visit_a_series_per_modality(api_client_for, case):
    client = api_client_for(case["patient"].owner)
    first, rejected, close_up = (pydicom.dcmread(io.BytesIO(download(client, image))) for image in case["images"])
    again = pydicom.dcmread(io.BytesIO(download(client, case["images"][0])))

    for dataset in (first, rejected, close_up):
        for uid in (dataset.SOPInstanceUID, dataset.StudyInstanceUID, dataset.SeriesInstanceUID):
            assert uid.startswith(ROOT + ".") and len(uid) <= 64 and uid.is_valid
    assert (again.SOPInstanceUID, again.StudyInstanceUID, again.SeriesInstanceUID) == (
        first.SOPInstanceUID,
        first.StudyInstanceUID,
        first.SeriesInstanceUID,
    )
    assert first.StudyInstanceUID != rejected.StudyInstanceUID  # another visit
    assert rejected.StudyInstanceUID == close_up.StudyInstanceUID  # the same visit
    assert rejected.SeriesInstanceUID != close_up.SeriesInstanceUID  # another modality
    assert len({first.SOPInstanceUID, rejected.SOPInstanceUID, close_up.SOPInstanceUID}) == 3


def test_a_visit_is_a_study_zip_of_its_images(client, case, tmp_path):
    client.force_login(case["patient"].owner)
    url = reverse("interop:visit-dicom", kwargs={"pk": case["lesion"].pk})

    response = client.get(url, {"visit": "2026-03-02"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    datasets = [pydicom.dcmread(io.BytesIO(archive.read(name))) for name in sorted(archive.namelist())]
    assert sorted(d.SOPClassUID for d in datasets) == sorted([DERMOSCOPIC_PHOTOGRAPHY, VL_PHOTOGRAPHIC])
    assert len({d.StudyInstanceUID for d in datasets}) == 1
    for name in archive.namelist():
        assert errors(dciodvfy(archive.read(name), tmp_path)) == []
    latest = client.get(url)  # no visit given: the latest one
    assert zipfile.ZipFile(io.BytesIO(latest.content)).namelist() == archive.namelist()
    assert client.get(url, {"visit": "2026-02-01"}).status_code == 404  # no images that day
    assert client.get(url, {"visit": "yesterday"}).status_code == 400
