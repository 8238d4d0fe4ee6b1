from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import Patient

from ..factories import LesionImageFactory, PatientFactory

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
    PatientFactory(family_name="Silva", identifier="MRN-2")
    response = admin_client_.get(reverse("admin:cases_patient_changelist"), {"q": "moreau"})
    assert [p.identifier for p in response.context["cl"].result_list] == ["MRN-1"]
    response = admin_client_.get(reverse("admin:cases_patient_changelist"), {"sex__exact": "female"})
    assert response.status_code == 200


def test_admin_edit_goes_through_the_service_rules(admin_user, admin_client_):
    patient = PatientFactory()
    url = reverse("admin:cases_patient_change", args=[patient.pk])
    data = {
        "identifier": patient.identifier,
        "given_name": "Edited",
        "family_name": patient.family_name,
        "date_of_birth": "2999-01-01",
        "sex": "female",
        "notes": "",
        "lesions-TOTAL_FORMS": "0",
        "lesions-INITIAL_FORMS": "0",
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
    }
    admin_client_.post(url, data)
    patient.refresh_from_db()
    assert patient.given_name != "Edited"  # the future birth date was refused

    admin_client_.post(url, {**data, "date_of_birth": "1970-01-01"})
    patient.refresh_from_db()
    assert patient.given_name == "Edited"


def test_staff_without_admin_rights_sees_only_visible_patients(clinician):
    from django.test import Client

    clinician.is_staff = False
    clinician.save()
    client = Client()
    client.force_login(clinician)
    response = client.get(reverse("admin:cases_patient_changelist"))
    assert response.status_code == 302  # not staff: no admin at all
    assert Patient.objects.visible_to(clinician).count() == 0
