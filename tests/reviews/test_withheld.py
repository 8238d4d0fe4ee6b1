"""A case whose latest result the quality gate rejected is "needs a new image" in the review
queue: after medium and before low risk, never low risk, never agreed in bulk, and its review
page shows the reasons instead of the figures."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from reviews import selectors, services

from ..factories import RESULT_PROBABILITIES, LesionImageFactory, PredictionFactory

pytestmark = pytest.mark.django_db

HIGH_MEL = RESULT_PROBABILITIES["MEL", "high"]
LOW_NV = RESULT_PROBABILITIES["NV", "low"]


def ago(hours: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(hours=hours)


@pytest.fixture
def withheld(model_version):
    """A rejected high-risk melanoma (its figures withheld), waiting the longest."""
    return PredictionFactory(
        rejected=True,
        image=LesionImageFactory(),
        model_version=model_version,
        probabilities=HIGH_MEL,
        finished_at=ago(500),
    )


def test_a_withheld_case_ranks_after_medium_and_before_low_and_shows_no_figures(reviewer, result, withheld):
    low = result(risk="low", finished=ago(900)).image.lesion
    medium = result(risk="medium", finished=ago(1)).image.lesion
    high = result(risk="high", predicted="MEL", finished=ago(1)).image.lesion
    queue = list(selectors.review_queue(user=reviewer))
    assert queue == [high, medium, withheld.image.lesion, low]
    entry = queue[2]
    assert (entry.latest_risk, entry.latest_class, entry.latest_quality_status) == (None, None, "rejected")
    assert list(selectors.review_queue(user=reviewer, risk_level="low")) == [low]
    assert list(selectors.review_queue(user=reviewer, risk_level="high")) == [high]


def test_within_a_visit_a_withheld_image_outranks_a_low_risk_one(reviewer, result, withheld):
    lesion = withheld.image.lesion
    result(lesion=lesion, risk="low", captured_on=withheld.image.captured_on)
    (entry,) = selectors.review_queue(user=reviewer)
    assert entry.latest_prediction_id == withheld.pk


def test_the_queue_page_api_and_admin_say_needs_a_new_image(
    reviewer, reviewer_client, admin_client_, api_client_for, withheld
):
    page = reviewer_client.get("/reviews/").content.decode()
    assert "Needs a new image" in page and "risk-high" not in page and "risk-low" not in page
    (item,) = api_client_for(reviewer).get("/api/v1/review-queue/").json()["results"]
    assert (item["needs_new_image"], item["risk_level"], item["predicted_class"]) == (True, None, None)
    assert "Needs a new image" in admin_client_.get("/admin/reviews/reviewqueueitem/").content.decode()


def test_a_withheld_case_cannot_be_agreed_in_bulk(admin_client_, admin_user, reviewer, withheld):
    lesion = withheld.image.lesion
    with pytest.raises(services.RoutineAgreementRefused, match="needs a new image"):
        services.review_agree_routine_monitoring(lesion=lesion, reviewer=reviewer)
    admin_client_.post(
        "/admin/reviews/reviewqueueitem/", {"action": "agree_routine_monitoring", "_selected_action": [lesion.pk]}
    )
    assert not lesion.reviews.exists()


def test_even_a_withheld_low_risk_nevus_cannot_be_agreed_in_bulk(reviewer, model_version):
    prediction = PredictionFactory(
        rejected=True, image=LesionImageFactory(), model_version=model_version, probabilities=LOW_NV
    )
    with pytest.raises(services.RoutineAgreementRefused, match="needs a new image"):
        services.review_agree_routine_monitoring(lesion=prediction.image.lesion, reviewer=reviewer)


def test_the_review_page_shows_the_reasons_instead_of_the_figures(reviewer_client, withheld):
    html = reviewer_client.get(f"/lesions/{withheld.image.lesion_id}/review/").content.decode()
    assert "needs a new image. No result: out of focus" in html and "data-withheld" in html
    assert "0.700" not in html and "risk-high" not in html and withheld.get_heatmap_url() not in html


def test_a_reviewer_may_not_agree_with_a_withheld_result_but_may_record_a_diagnosis(reviewer, withheld):
    with pytest.raises(ValidationError) as refusal:
        services.review_create(
            prediction=withheld, reviewer=reviewer, agrees_with_model=True, diagnosis="MEL", action="discharge"
        )
    assert "MEL" not in str(refusal.value)  # the refusal gives the withheld class away nowhere
    review = services.review_create(
        prediction=withheld, reviewer=reviewer, agrees_with_model=False, diagnosis="MEL", action="biopsy_excision"
    )
    assert review.diagnosis == "MEL" and not review.agrees_with_model


def test_a_withheld_result_counts_in_no_outcome(reviewer, withheld, model_version):
    services.review_create(
        prediction=withheld, reviewer=reviewer, agrees_with_model=False, diagnosis="NV", action="discharge"
    )
    report = selectors.model_outcomes(model_version=model_version)
    assert report["predictions_succeeded"] == 0 and report["versus_reviewers"]["cases"] == 0
