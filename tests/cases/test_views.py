from __future__ import annotations

import datetime
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.models import Lesion, LesionImage, Patient, PatientShare

from .. import images
from ..factories import LesionFactory, LesionImageFactory, PatientFactory, PatientShareFactory, UserFactory

pytestmark = pytest.mark.django_db

INTENDED_USE = "decision support for clinicians only"


def test_register_patient_then_open_lesion(clinician, clinician_client):
    response = clinician_client.post(
        reverse("cases:patient-create"),
        {
            "identifier": "MRN-42",
            "given_name": "Ana",
            "family_name": "Silva",
            "date_of_birth": "1975-04-02",
            "sex": "female",
            "notes": "",
        },
    )
    patient = Patient.objects.get(identifier="MRN-42")
    assert response.status_code == 302 and response.url == patient.get_absolute_url()
    assert patient.owner == clinician

    response = clinician_client.post(
        reverse("cases:lesion-create", args=[patient.pk]),
        {
            "label": "mole left shoulder",
            "anatomic_site": "upper extremity",
            "status": "monitoring",
            "opened_on": "2026-01-10",
        },
    )
    lesion = Lesion.objects.get()
    assert response.url == lesion.get_absolute_url()
    assert (lesion.patient, lesion.created_by, lesion.opened_on) == (patient, clinician, datetime.date(2026, 1, 10))


def test_patient_form_shows_field_errors(clinician_client):
    response = clinician_client.post(
        reverse("cases:patient-create"),
        {"identifier": "", "given_name": "Ana", "family_name": "Silva", "date_of_birth": "2999-01-01", "sex": "x"},
    )
    assert response.status_code == 400  # as the API answers the same input
    errors = response.context["form"].errors
    assert set(errors) >= {"identifier", "sex"}
    assert not Patient.objects.exists()

    response = clinician_client.post(
        reverse("cases:patient-create"),
        {
            "identifier": "M1",
            "given_name": "Ana",
            "family_name": "Silva",
            "date_of_birth": "2999-01-01",
            "sex": "female",
        },
    )
    assert "This date cannot be in the future." in response.content.decode()
    assert not Patient.objects.exists()


def test_patient_list_search_and_pagination(clinician, clinician_client):
    for n in range(30):
        PatientFactory(owner=clinician, family_name=f"Family{n:02d}", identifier=f"MRN{n:03d}")
    PatientFactory(owner=clinician, family_name="Moreau", given_name="Lea", identifier="ZZ-9")

    first = clinician_client.get(reverse("cases:patient-list"))
    assert len(first.context["page"].object_list) == 25
    second = clinician_client.get(reverse("cases:patient-list"), {"page": 2})
    assert len(second.context["page"].object_list) == 6

    found = clinician_client.get(reverse("cases:patient-list"), {"q": "lea moreau"})
    assert [p.identifier for p in found.context["page"].object_list] == ["ZZ-9"]
    by_mrn = clinician_client.get(reverse("cases:patient-list"), {"q": "mrn01"})
    assert len(by_mrn.context["page"].object_list) == 10
    # The page links keep the search.
    searched = clinician_client.get(reverse("cases:patient-list"), {"q": "family"}).content.decode()
    assert 'href="?q=family&amp;page=2" rel="next"' in searched and "(30 patients)" in searched


def test_upload_several_files_through_the_ui(clinician, clinician_client):
    lesion = LesionFactory(patient__owner=clinician)
    response = clinician_client.post(
        reverse("cases:image-upload", args=[lesion.pk]),
        {
            "files": [
                SimpleUploadedFile("one.jpg", images.jpeg(seed=1)),
                SimpleUploadedFile("two.png", images.png(seed=2)),
            ],
            "captured_on": "2026-02-01",
            "modality": "dermoscopic",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == lesion.get_absolute_url()
    assert "2 images stored." in response.content.decode()
    assert lesion.images.count() == 2


def test_rejected_upload_names_each_file_and_stores_nothing(clinician, clinician_client):
    lesion = LesionFactory(patient__owner=clinician)
    response = clinician_client.post(
        reverse("cases:image-upload", args=[lesion.pk]),
        {
            "files": [
                SimpleUploadedFile("fine.jpg", images.jpeg()),
                SimpleUploadedFile("report.jpg", images.text_file()),
                SimpleUploadedFile("bomb.png", images.png_claiming_size(30000, 30000)),
            ],
            "captured_on": "2026-02-01",
            "modality": "dermoscopic",
        },
    )
    assert response.status_code == 400
    assert response.context["rejections"] == [
        "report.jpg: this is not a JPEG, PNG or HEIC image (the file's contents were checked, not its name).",
        "bomb.png: the image is larger than the limit of 50 megapixels.",
    ]
    page = response.content.decode()
    assert "report.jpg" in page and "bomb.png" in page and "Nothing was stored" in page
    assert not LesionImage.objects.exists()


def test_duplicate_upload_is_reported(clinician, clinician_client):
    lesion = LesionFactory(patient__owner=clinician)
    url = reverse("cases:image-upload", args=[lesion.pk])
    data = {"captured_on": "2026-02-01", "modality": "dermoscopic"}
    clinician_client.post(url, {**data, "files": [SimpleUploadedFile("a.png", images.png())]})
    response = clinician_client.post(url, {**data, "files": [SimpleUploadedFile("b.png", images.png())]}, follow=True)
    assert "b.png: the same pixels are already stored for this lesion" in response.content.decode()
    assert lesion.images.count() == 1


def test_upload_without_files_or_with_future_date_is_refused(clinician, clinician_client):
    lesion = LesionFactory(patient__owner=clinician)
    url = reverse("cases:image-upload", args=[lesion.pk])
    response = clinician_client.post(url, {"captured_on": "2026-02-01", "modality": "dermoscopic"})
    assert response.status_code == 400 and "files" in response.context["form"].errors
    response = clinician_client.post(
        url,
        {"captured_on": "2999-02-01", "modality": "dermoscopic", "files": [SimpleUploadedFile("a.jpg", images.jpeg())]},
    )
    assert "This date cannot be in the future." in response.content.decode()
    assert not LesionImage.objects.exists()


def test_lesion_page_shows_timeline_in_date_order_with_intended_use(clinician, clinician_client):
    lesion = LesionFactory(patient__owner=clinician)
    late = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2026, 6, 1))
    early = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2025, 6, 1))
    page = clinician_client.get(lesion.get_absolute_url()).content.decode()
    order = [int(pk) for pk in re.findall(r'data-image-id="(\d+)"', page)]
    assert order == [early.pk, late.pk]
    assert page.index("1 Jun 2025") < page.index("1 Jun 2026")
    assert INTENDED_USE in page


def test_image_page_shows_file_name_only_to_uploader(clinician, clinician_client, admin_client_):
    image = LesionImageFactory(lesion__patient__owner=clinician, original_filename="IMG_4711.HEIC")
    own = clinician_client.get(image.get_absolute_url()).content.decode()
    assert "IMG_4711.HEIC" in own and INTENDED_USE in own
    assert 'alt="Dermoscopic image of' in own
    assert "IMG_4711.HEIC" not in admin_client_.get(image.get_absolute_url()).content.decode()


def test_share_and_revoke_through_the_ui(clinician, clinician_client):
    patient = PatientFactory(owner=clinician)
    colleague = UserFactory(username="colleague")
    clinician_client.post(reverse("cases:patient-share", args=[patient.pk]), {"clinician": colleague.pk})
    assert PatientShare.objects.filter(patient=patient, clinician=colleague).exists()

    clinician_client.post(reverse("cases:patient-unshare", args=[patient.pk, colleague.pk]))
    assert not PatientShare.objects.filter(patient=patient).exists()


def test_care_team_member_can_edit_but_not_reshare(clinician):
    patient = PatientFactory(owner=clinician)
    colleague = UserFactory()
    PatientShareFactory(patient=patient, clinician=colleague)
    from django.test import Client

    client = Client()
    client.force_login(colleague)
    response = client.post(
        reverse("cases:patient-update", args=[patient.pk]),
        {
            "identifier": patient.identifier,
            "given_name": "Changed",
            "family_name": patient.family_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "sex": patient.sex,
            "notes": "seen",
        },
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.given_name == "Changed"

    client.post(reverse("cases:patient-share", args=[patient.pk]), {"clinician": UserFactory().pk}, follow=True)
    assert PatientShare.objects.filter(patient=patient).count() == 1


def test_dashboard_lists_my_patients_and_recent_uploads(clinician, clinician_client):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    response = clinician_client.get(reverse("cases:dashboard"))
    assert list(response.context["patients"]) == [image.lesion.patient]
    assert list(response.context["recent_images"]) == [image]


def test_heic_and_oversize_files_through_the_ui(clinician, clinician_client, settings):
    lesion = LesionFactory(patient__owner=clinician)
    url = reverse("cases:image-upload", args=[lesion.pk])
    data = {"captured_on": "2026-02-01", "modality": "dermoscopic"}
    response = clinician_client.post(url, {**data, "files": [SimpleUploadedFile("IMG_1.HEIC", images.heic())]})
    assert response.status_code == 302
    assert lesion.images.get().source_format == "HEIC/HEIF"

    settings.SKINPORTAL_MAX_UPLOAD_BYTES = 1_000
    response = clinician_client.post(
        url, {**data, "files": [SimpleUploadedFile("huge.jpg", images.jpeg(400, 300, seed=3))]}
    )
    assert response.status_code == 400
    assert response.context["rejections"][0].startswith("huge.jpg: the file is")
    assert lesion.images.count() == 1


def test_too_many_files_get_a_clear_message(clinician, clinician_client, settings):
    settings.SKINPORTAL_MAX_FILES_PER_UPLOAD = 2
    lesion = LesionFactory(patient__owner=clinician)
    files = [SimpleUploadedFile(f"{n}.jpg", images.jpeg(seed=n)) for n in range(3)]
    response = clinician_client.post(
        reverse("cases:image-upload", args=[lesion.pk]),
        {"captured_on": "2026-02-01", "modality": "dermoscopic", "files": files},
    )
    assert response.status_code == 400
    assert "Upload at most 2 files at once." in response.content.decode()
    assert not lesion.images.exists()


def test_care_team_member_does_not_see_the_uploaders_file_name(clinician):
    image = LesionImageFactory(lesion__patient__owner=clinician, original_filename="IMG_4711.HEIC")
    colleague = UserFactory()
    PatientShareFactory(patient=image.lesion.patient, clinician=colleague)
    from django.test import Client

    client = Client()
    client.force_login(colleague)
    page = client.get(image.get_absolute_url())
    assert page.status_code == 200
    assert "IMG_4711.HEIC" not in page.content.decode()


def test_access_ends_when_the_share_is_revoked(clinician, clinician_client):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    patient = image.lesion.patient
    colleague = UserFactory()
    PatientShareFactory(patient=patient, clinician=colleague)
    from django.test import Client

    client = Client()
    client.force_login(colleague)
    assert client.get(image.get_file_url()).status_code == 200

    clinician_client.post(reverse("cases:patient-unshare", args=[patient.pk, colleague.pk]))
    for url in (patient.get_absolute_url(), image.get_absolute_url(), image.get_file_url()):
        assert client.get(url).status_code == 404


def test_revoking_someone_without_access_says_so(clinician, clinician_client):
    patient = PatientFactory(owner=clinician)
    stranger = UserFactory(first_name="Sam", last_name="Stranger")
    response = clinician_client.post(reverse("cases:patient-unshare", args=[patient.pk, stranger.pk]), follow=True)
    assert "Sam Stranger was not on this patient" in response.content.decode()


def test_a_taken_mrn_is_refused_without_revealing_the_other_record(clinician_client, other_clinician):
    PatientFactory(owner=other_clinician, identifier="MRN-SECRET", family_name="Hidden")
    response = clinician_client.post(
        reverse("cases:patient-create"),
        {
            "identifier": "MRN-SECRET",
            "given_name": "Ana",
            "family_name": "Silva",
            "date_of_birth": "1975-04-02",
            "sex": "female",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400  # as the API answers the same input
    assert "This MRN cannot be registered" in page
    assert "already exists" not in page and "Hidden" not in page
    assert Patient.objects.filter(identifier="MRN-SECRET").count() == 1
