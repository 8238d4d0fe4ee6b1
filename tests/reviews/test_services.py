"""Review decisions and histopathology: who may, what is checked, who is told."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from notifications.models import Notification
from reviews import services
from reviews.models import Histopathology, Review

from ..factories import LesionFactory, PatientShareFactory

pytestmark = pytest.mark.django_db


def test_a_reviewer_reviews_the_latest_result_and_the_owner_is_notified(
    reviewer, result, django_capture_on_commit_callbacks, mailoutbox
):
    prediction = result(risk="high", predicted="MEL")
    lesion = prediction.image.lesion
    with django_capture_on_commit_callbacks(execute=True):
        review = services.review_create(
            lesion=lesion,
            reviewer=reviewer,
            agrees_with_model=False,
            diagnosis="NV",
            action="short_term_follow_up",
            follow_up_months=3,
            notes="  regular network  ",
        )
    assert (review.prediction, review.reviewer, review.notes) == (prediction, reviewer, "regular network")
    assert review.action_display == "Short-term follow-up in 3 months"
    notification = Notification.objects.get(recipient=lesion.patient.owner)
    assert notification.kind == "case_reviewed" and notification.url == lesion.get_absolute_url()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [lesion.patient.owner.email]
    assert lesion.patient.family_name not in mailoutbox[0].body


def test_only_reviewers_and_admins_review(clinician, admin_user, result):
    lesion = result(lesion__patient__owner=clinician).image.lesion
    with pytest.raises(PermissionDenied):
        services.review_create(
            lesion=lesion, reviewer=clinician, agrees_with_model=True, diagnosis="NV", action="discharge"
        )
    assert not Review.objects.exists()
    services.review_create(
        lesion=lesion, reviewer=admin_user, agrees_with_model=True, diagnosis="NV", action="discharge"
    )
    assert Review.objects.count() == 1


def test_one_decision_per_result_and_none_without_a_result(reviewer, result):
    lesion = result().image.lesion
    services.review_create(lesion=lesion, reviewer=reviewer, agrees_with_model=True, diagnosis="NV", action="discharge")
    with pytest.raises(ValidationError, match="reviewed already"):
        services.review_create(
            lesion=lesion, reviewer=reviewer, agrees_with_model=True, diagnosis="NV", action="discharge"
        )
    with pytest.raises(ValidationError, match="no result"):
        services.review_create(
            lesion=LesionFactory(), reviewer=reviewer, agrees_with_model=True, diagnosis="NV", action="discharge"
        )


def test_follow_up_months_only_with_a_short_term_follow_up(reviewer, result):
    lesion = result().image.lesion
    with pytest.raises(ValidationError) as error:
        services.review_create(
            lesion=lesion, reviewer=reviewer, agrees_with_model=True, diagnosis="NV", action="short_term_follow_up"
        )
    assert "follow_up_months" in error.value.message_dict
    review = services.review_create(
        lesion=lesion, reviewer=reviewer, agrees_with_model=True, diagnosis="NV", action="discharge", follow_up_months=6
    )
    assert review.follow_up_months is None


def test_histopathology_by_the_care_team_or_reviewers(clinician, other_clinician, reviewer):
    lesion = LesionFactory(patient__owner=other_clinician)
    with pytest.raises(PermissionDenied):
        services.histopathology_add(
            lesion=lesion, entered_by=clinician, diagnosis="MEL", diagnosed_on=datetime.date(2026, 1, 2), report="x"
        )
    PatientShareFactory(patient=lesion.patient, clinician=clinician)
    result = services.histopathology_add(
        lesion=lesion, entered_by=clinician, diagnosis="MEL", diagnosed_on=datetime.date(2026, 1, 2), report=" SSM "
    )
    assert result.report == "SSM" and result.entered_by == clinician
    services.histopathology_add(
        lesion=lesion, entered_by=reviewer, diagnosis="NV", diagnosed_on=datetime.date(2026, 1, 3), report="naevus"
    )
    assert Histopathology.objects.count() == 2
    with pytest.raises(ValidationError):
        services.histopathology_add(
            lesion=lesion,
            entered_by=reviewer,
            diagnosis="MEL",
            diagnosed_on=datetime.date.today() + datetime.timedelta(days=2),
            report="x",
        )


def test_clinicians_see_decisions_on_their_own_cases_only(
    clinician, other_clinician, reviewer, result, clinician_client, other_client
):
    lesion = result(lesion__patient__owner=clinician).image.lesion
    services.review_create(
        lesion=lesion,
        reviewer=reviewer,
        agrees_with_model=True,
        diagnosis="MEL",
        action="biopsy_excision",
        notes="excise with 2 mm margin",
    )
    page = clinician_client.get(lesion.get_absolute_url()).content.decode()
    assert "Melanoma</strong> — Biopsy / excision" in page and "excise with 2 mm margin" in page
    assert "Rita Reviewer" in page
    assert other_client.get(lesion.get_absolute_url()).status_code == 404


def test_the_review_page_saves_a_decision_and_opens_the_next_case(reviewer, reviewer_client, result):
    first = result(risk="high", predicted="MEL").image.lesion
    second = result(risk="low").image.lesion
    page = reviewer_client.get(f"/lesions/{first.pk}/review/")
    assert page.status_code == 200 and "Latest result" in page.content.decode()
    response = reviewer_client.post(
        f"/lesions/{first.pk}/review/",
        {"agrees_with_model": "yes", "diagnosis": "MEL", "action": "biopsy_excision", "notes": ""},
    )
    assert response.status_code == 302 and response["Location"] == f"/lesions/{second.pk}/review/"
    assert first.reviews.get().agrees_with_model is True
    bad = reviewer_client.post(
        f"/lesions/{second.pk}/review/",
        {"agrees_with_model": "no", "diagnosis": "NV", "action": "short_term_follow_up"},
    )
    assert bad.status_code == 400 and not second.reviews.exists()


def test_histopathology_form_on_the_lesion_page(clinician, clinician_client):
    lesion = LesionFactory(patient__owner=clinician)
    response = clinician_client.post(
        f"/lesions/{lesion.pk}/histopathology/",
        {"diagnosis": "BCC", "diagnosed_on": "2026-02-01", "report": "Nodular BCC, clear margins."},
    )
    assert response.status_code == 302
    page = clinician_client.get(lesion.get_absolute_url()).content.decode()
    assert "Basal cell carcinoma</strong>, report of 1 Feb 2026" in page and "Nodular BCC" in page
