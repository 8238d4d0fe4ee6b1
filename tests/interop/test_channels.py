"""The exports answer alike through the web UI and the API (tests/test_channel_parity.py's rule
for actions): the same file type for whoever may see the record, the same 404 for anyone else."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

# (web URL name, API URL name, the record it takes, content type)
EXPORTS = [
    ("interop:patient-report", "api:patient-report", "patient", "application/pdf"),
    ("interop:lesion-report", "api:lesion-report", "lesion", "application/pdf"),
    ("interop:image-dicom", "api:image-dicom", "image", "application/dicom"),
    ("interop:visit-dicom", "api:lesion-dicom", "lesion", "application/zip"),
]


def record(case, kind):
    return case["images"][0] if kind == "image" else case[kind]


@pytest.mark.parametrize(("web", "api", "kind", "content_type"), EXPORTS)
def test_both_channels_give_the_same_file_to_the_care_team_and_404_to_others(
    case, reviewer, other_clinician, web, api, kind, content_type
):
    pk = record(case, kind).pk
    for user, expected in ((case["patient"].owner, 200), (reviewer, 200), (other_clinician, 404)):
        browser, integrator = Client(), APIClient()
        browser.force_login(user)
        integrator.force_authenticate(user)
        answers = [browser.get(reverse(web, kwargs={"pk": pk})), integrator.get(reverse(api, kwargs={"pk": pk}))]
        assert [a.status_code for a in answers] == [expected, expected], (user, web)
        if expected == 200:
            assert [a["Content-Type"] for a in answers] == [content_type, content_type]
            assert all(a["Cache-Control"] == "no-store" for a in answers)
