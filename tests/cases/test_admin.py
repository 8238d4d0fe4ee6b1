from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cases import services

from ..factories import LesionImageFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_admin_lists_show_thumbnails_through_the_private_view(admin_user, admin_client_):
    image = LesionImageFactory()
    page = admin_client_.get(reverse("admin:cases_lesionimage_changelist")).content.decode()
    assert reverse("cases:image-thumbnail", args=[image.pk]) in page
    assert "/media" not in page

    lesion_page = admin_client_.get(reverse("admin:cases_lesion_change", args=[image.lesion.pk]))
    assert lesion_page.status_code == 200
    assert reverse("cases:image-thumbnail", args=[image.pk]) in lesion_page.content.decode()

    assert admin_client_.get(reverse("cases:image-thumbnail", args=[image.pk])).status_code == 200


def test_admin_patient_search_and_filters(admin_client_):
    PatientFactory(family_name="Moreau", identifier="MRN-1")
    PatientFactory(family_name="Silva", identifier="MRN-2", sex="male")
    response = admin_client_.get(reverse("admin:cases_patient_changelist"), {"q": "moreau"})
    assert [p.identifier for p in response.context["cl"].result_list] == ["MRN-1"]
    response = admin_client_.get(reverse("admin:cases_patient_changelist"), {"sex__exact": "male"})
    assert [p.identifier for p in response.context["cl"].result_list] == ["MRN-2"]


def test_admin_edit_calls_the_patient_service(admin_user, admin_client_, monkeypatch):
    patient = PatientFactory()
    calls = []
    real_update = services.patient_update

    def recording_update(**kwargs):
        calls.append(kwargs)
        return real_update(**kwargs)

    monkeypatch.setattr(services, "patient_update", recording_update)
    data = {
        "identifier": patient.identifier,
        "given_name": "Edited",
        "family_name": patient.family_name,
        "date_of_birth": "1970-01-01",
        "sex": "female",
        "notes": "",
        "lesions-TOTAL_FORMS": "0",
        "lesions-INITIAL_FORMS": "0",
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
    }
    response = admin_client_.post(reverse("admin:cases_patient_change", args=[patient.pk]), data)
    assert response.status_code == 302
    assert calls and calls[0]["actor"] == admin_user and calls[0]["given_name"] == "Edited"
    patient.refresh_from_db()
    assert patient.given_name == "Edited"


def test_staff_user_without_superuser_rights_reviews_in_the_admin():
    staff = UserFactory(is_staff=True, is_superuser=False)
    image = LesionImageFactory()
    client = Client()
    client.force_login(staff)
    assert client.get(reverse("admin:cases_patient_changelist")).status_code == 200
    page = client.get(reverse("admin:cases_lesionimage_changelist")).content.decode()
    assert reverse("cases:image-thumbnail", args=[image.pk]) in page


def test_clinicians_have_no_admin(clinician):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    client = Client()
    client.force_login(clinician)
    response = client.get(reverse("admin:cases_patient_change", args=[image.lesion.patient.pk]))
    assert response.status_code == 302 and "/admin/login/" in response.url
