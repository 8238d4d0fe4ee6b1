"""Review decisions and histopathology: who may, what is checked, who is told."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from notifications.models import Notification
from reviews import selectors, services
from reviews.models import Histopathology, Review

from ..factories import LesionFactory, PatientShareFactory

pytestmark = pytest.mark.django_db


def decide(prediction, reviewer, **decision):
    return services.review_create(
        prediction=prediction,
        reviewer=reviewer,
        **{"agrees_with_model": True, "diagnosis": prediction.predicted_class, "action": "discharge", **decision},
    )


def test_a_reviewer_reviews_the_result_and_the_owner_is_notified(
    reviewer, result, django_capture_on_commit_callbacks, mailoutbox
):
    prediction = result(risk="high", predicted="MEL")
    lesion = prediction.image.lesion
    with django_capture_on_commit_callbacks(execute=True):
        review = decide(
            prediction,
            reviewer,
            agrees_with_model=False,
            diagnosis="NV",
            action="short_term_follow_up",
            follow_up_months=3,
            notes="  regular network  ",
        )
    assert (review.lesion, review.reviewer, review.notes) == (lesion, reviewer, "regular network")
    assert review.action_display == "Short-term follow-up in 3 months"
    notification = Notification.objects.get(recipient=lesion.patient.owner)
    assert notification.kind == "case_reviewed" and notification.url == lesion.get_absolute_url()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [lesion.patient.owner.email]
    assert lesion.patient.family_name not in mailoutbox[0].body


def test_only_reviewers_and_admins_review(clinician, admin_user, result):
    prediction = result(lesion__patient__owner=clinician)
    with pytest.raises(PermissionDenied):
        decide(prediction, clinician)
    assert not Review.objects.exists()
    decide(prediction, admin_user)
    assert Review.objects.count() == 1


def test_one_decision_per_result(reviewer, result):
    prediction = result()
    decide(prediction, reviewer)
    with pytest.raises(services.ReviewConflict, match="reviewed already"):
        decide(prediction, reviewer)


def test_a_decision_on_a_result_that_is_no_longer_current_is_refused(reviewer, result):
    """The reviewer saw one result; a newer visit arrived before they saved."""
    seen = result(risk="low", captured_on=datetime.date(2026, 1, 1))
    newer = result(lesion=seen.image.lesion, risk="medium", captured_on=datetime.date(2026, 2, 1))
    with pytest.raises(services.ReviewConflict, match="newer or more concerning"):
        decide(seen, reviewer)
    assert not Review.objects.exists()
    decide(newer, reviewer)


def test_a_high_risk_image_of_a_visit_is_not_hidden_by_a_later_low_risk_one(reviewer, result):
    high = result(risk="high", predicted="MEL", captured_on=datetime.date(2026, 3, 1))
    result(lesion=high.image.lesion, risk="low", captured_on=datetime.date(2026, 3, 1))  # uploaded after
    (entry,) = selectors.review_queue(user=reviewer)
    assert (entry.latest_prediction_id, entry.latest_risk) == (high.pk, "high")
    assert selectors.review_target(lesion=high.image.lesion) == high


def test_agreeing_means_the_models_diagnosis(reviewer, result):
    prediction = result(predicted="MEL", risk="high")
    with pytest.raises(ValidationError) as error:
        decide(prediction, reviewer, agrees_with_model=True, diagnosis="NV")
    assert "diagnosis" in error.value.message_dict
    with pytest.raises(ValidationError):
        decide(prediction, reviewer, agrees_with_model=False, diagnosis="MEL")
    assert decide(prediction, reviewer, agrees_with_model=False, diagnosis="unsure").diagnosis == "unsure"


def test_follow_up_months_only_with_a_short_term_follow_up(reviewer, result):
    prediction = result()
    with pytest.raises(ValidationError) as error:
        decide(prediction, reviewer, action="short_term_follow_up")
    assert "follow_up_months" in error.value.message_dict
    assert decide(prediction, reviewer, follow_up_months=6).follow_up_months is None


def test_reviewers_see_every_case_but_change_none(reviewer, other_clinician, api_client_for):
    from cases import services as case_services

    lesion = LesionFactory(patient__owner=other_clinician)
    api = api_client_for(reviewer)
    assert api.get(f"/api/v1/patients/{lesion.patient_id}/").status_code == 200
    response = api.patch(f"/api/v1/patients/{lesion.patient_id}/", {"notes": "x"}, format="json")
    assert response.status_code == 403 and "care team" in response.json()["errors"][0]["detail"]
    assert api.post("/api/v1/lesions/", {"patient": lesion.patient_id, "label": "x"}, format="json").status_code == 403
    with pytest.raises(PermissionDenied):
        case_services.lesion_update(lesion=lesion, actor=reviewer, label="changed")


def test_histopathology_by_the_care_team_or_reviewers(clinician, other_clinician, reviewer):
    lesion = LesionFactory(patient__owner=other_clinician)
    day = datetime.date(2026, 1, 2)
    with pytest.raises(PermissionDenied):
        services.histopathology_add(lesion=lesion, entered_by=clinician, diagnosis="MEL", diagnosed_on=day, report="x")
    PatientShareFactory(patient=lesion.patient, clinician=clinician)
    entered = services.histopathology_add(
        lesion=lesion, entered_by=clinician, diagnosis="MEL", diagnosed_on=day, report=" SSM "
    )
    assert entered.report == "SSM" and entered.entered_by == clinician
    services.histopathology_add(lesion=lesion, entered_by=reviewer, diagnosis="NV", diagnosed_on=day, report="naevus")
    assert Histopathology.objects.count() == 2
    with pytest.raises(ValidationError):
        services.histopathology_add(
            lesion=lesion,
            entered_by=reviewer,
            diagnosis="MEL",
            diagnosed_on=datetime.date.today() + datetime.timedelta(days=2),
            report="x",
        )


def test_clinicians_see_decisions_on_their_own_cases_only(clinician, reviewer, result, clinician_client, other_client):
    prediction = result(lesion__patient__owner=clinician, predicted="MEL", risk="high")
    lesion = prediction.image.lesion
    decide(prediction, reviewer, action="biopsy_excision", notes="excise with 2 mm margin")
    page = clinician_client.get(lesion.get_absolute_url()).content.decode()
    assert "Melanoma</strong> — Biopsy / excision" in page and "excise with 2 mm margin" in page
    assert "Rita Reviewer" in page
    assert other_client.get(lesion.get_absolute_url()).status_code == 404


def test_the_review_page_saves_a_decision_and_opens_the_next_case(reviewer, reviewer_client, result):
    first = result(risk="high", predicted="MEL")
    second = result(risk="low")
    page = reviewer_client.get(f"/lesions/{first.image.lesion_id}/review/")
    assert page.status_code == 200 and f'name="prediction" value="{first.pk}"' in page.content.decode()
    response = reviewer_client.post(
        f"/lesions/{first.image.lesion_id}/review/",
        {"prediction": first.pk, "agrees_with_model": "yes", "diagnosis": "MEL", "action": "biopsy_excision"},
    )
    assert response.status_code == 302 and response["Location"] == f"/lesions/{second.image.lesion_id}/review/"
    assert first.reviews.get().agrees_with_model is True
    bad = reviewer_client.post(
        f"/lesions/{second.image.lesion_id}/review/",
        {"prediction": second.pk, "agrees_with_model": "no", "diagnosis": "MEL", "action": "short_term_follow_up"},
    )
    assert bad.status_code == 400 and not second.reviews.exists()
    stale = reviewer_client.post(
        f"/lesions/{first.image.lesion_id}/review/",
        {"prediction": first.pk, "agrees_with_model": "yes", "diagnosis": "MEL", "action": "discharge"},
    )
    assert stale.status_code == 409 and first.reviews.count() == 1


def test_histopathology_form_on_the_lesion_page(clinician, clinician_client):
    lesion = LesionFactory(patient__owner=clinician)
    response = clinician_client.post(
        f"/lesions/{lesion.pk}/histopathology/",
        {"diagnosis": "BCC", "diagnosed_on": "2026-02-01", "report": "Nodular BCC, clear margins."},
    )
    assert response.status_code == 302
    page = clinician_client.get(lesion.get_absolute_url()).content.decode()
    assert "Basal cell carcinoma</strong>, report of 1 Feb 2026" in page and "Nodular BCC" in page
