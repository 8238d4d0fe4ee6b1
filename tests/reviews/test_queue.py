"""The review queue: unreviewed latest results, highest risk first, then the longest waiting."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from reviews import selectors, services

from ..factories import LesionFactory, LesionImageFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


def ago(hours: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(hours=hours)


def test_highest_risk_first_then_oldest(reviewer, result):
    low_old = result(risk="low", finished=ago(50)).image.lesion
    high_new = result(risk="high", predicted="MEL", finished=ago(1)).image.lesion
    high_old = result(risk="high", predicted="MEL", finished=ago(30)).image.lesion
    medium = result(risk="medium", finished=ago(100)).image.lesion
    LesionFactory()  # no result yet: not in the queue
    queue = list(selectors.review_queue(user=reviewer))
    assert queue == [high_old, high_new, medium, low_old]
    assert [lesion.latest_risk for lesion in queue] == ["high", "high", "medium", "low"]


def test_a_reviewed_case_leaves_and_a_new_result_brings_it_back(reviewer, result):
    first = result(risk="medium")
    lesion = first.image.lesion
    services.review_create(
        prediction=first, reviewer=reviewer, agrees_with_model=True, diagnosis="NV", action="discharge"
    )
    assert list(selectors.review_queue(user=reviewer)) == []
    later = result(lesion=lesion, risk="high", captured_on=first.image.captured_on + datetime.timedelta(days=90))
    queue = list(selectors.review_queue(user=reviewer))
    assert queue == [lesion] and queue[0].latest_prediction_id == later.pk


def test_the_latest_visit_counts_not_the_latest_computed(reviewer, result):
    recent_visit = result(risk="low", captured_on=datetime.date(2026, 6, 1), finished=ago(10))
    lesion = recent_visit.image.lesion
    result(lesion=lesion, risk="high", captured_on=datetime.date(2025, 1, 1), finished=ago(1))  # an old visit
    (entry,) = selectors.review_queue(user=reviewer)
    assert entry.latest_prediction_id == recent_visit.pk and entry.latest_risk == "low"


def test_filters(reviewer, result):
    owner = UserFactory(username="owner1")
    mel = result(risk="high", predicted="MEL", lesion__patient__owner=owner, lesion__anatomic_site="head/neck")
    bcc = result(risk="high", predicted="BCC")
    nv = result(risk="low", predicted="NV")
    assert list(selectors.review_queue(user=reviewer, risk_level="low")) == [nv.image.lesion]
    assert list(selectors.review_queue(user=reviewer, predicted_class="BCC")) == [bcc.image.lesion]
    assert list(selectors.review_queue(user=reviewer, clinician=owner.pk)) == [mel.image.lesion]
    assert list(selectors.review_queue(user=reviewer, anatomic_site="head/neck")) == [mel.image.lesion]


def test_queue_page_lists_and_filters_for_reviewers_only(reviewer_client, clinician_client, result):
    high = result(risk="high", predicted="MEL", finished=ago(5)).image.lesion
    low = result(risk="low", finished=ago(50)).image.lesion
    page = reviewer_client.get("/reviews/").content.decode()
    assert page.index(f'data-lesion-id="{high.pk}"') < page.index(f'data-lesion-id="{low.pk}"')
    filtered = reviewer_client.get("/reviews/?risk_level=low").content.decode()
    assert f'data-lesion-id="{low.pk}"' in filtered and f'data-lesion-id="{high.pk}"' not in filtered
    assert clinician_client.get("/reviews/").status_code == 403


def test_admin_queue_and_bulk_agree(admin_client_, admin_user, result):
    high = result(risk="high", predicted="MEL").image.lesion
    low = result(risk="low").image.lesion
    page = admin_client_.get("/admin/reviews/reviewqueueitem/").content.decode()
    assert page.index(high.label) < page.index(low.label)
    assert 'href="?risk_level=high"' in page
    response = admin_client_.post(
        "/admin/reviews/reviewqueueitem/",
        {"action": "agree_routine_monitoring", "_selected_action": [low.pk]},
    )
    assert response.status_code == 302
    review = low.reviews.get()
    assert (review.reviewer, review.agrees_with_model, review.diagnosis, review.action) == (
        admin_user,
        True,
        "NV",
        "routine_monitoring",
    )
    assert list(selectors.review_queue(user=admin_user)) == [high]


def test_a_case_with_images_still_without_a_result_is_flagged(reviewer, reviewer_client, result, model_version):
    """The latest result falls back to the latest visit with a result: the reviewer is told
    what it does not cover (a newer visit's failed analysis, another image of the same visit
    still queued), in the queue, on the review page and over the API."""
    covered = result(risk="low", captured_on=datetime.date(2026, 6, 1))
    complete = result(risk="medium", captured_on=datetime.date(2026, 6, 1)).image.lesion
    lesion = covered.image.lesion
    newer = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2026, 9, 1))
    PredictionFactory(failed=True, image=newer, model_version=model_version)
    older = LesionImageFactory(lesion=complete, captured_on=datetime.date(2025, 1, 1))  # before the result: fine
    PredictionFactory(failed=True, image=older, model_version=model_version)

    flags = {entry.pk: entry.awaiting_results for entry in selectors.review_queue(user=reviewer)}
    assert flags == {lesion.pk: True, complete.pk: False}

    page = reviewer_client.get("/reviews/").content.decode()
    row = page[page.index(f'data-lesion-id="{lesion.pk}"') :]
    assert "Images without a result" in row[: row.index("</tr>")]
    review_page = reviewer_client.get(f"/lesions/{lesion.pk}/review/").content.decode()
    assert "data-awaiting-results" in review_page and newer.get_absolute_url() in review_page
    assert "data-awaiting-results" not in reviewer_client.get(f"/lesions/{complete.pk}/review/").content.decode()

    items = reviewer_client.get("/api/v1/review-queue/").json()["results"]
    assert {item["lesion"]: item["awaiting_results"] for item in items} == {lesion.pk: True, complete.pk: False}

    # A second image of the reviewed visit, still queued, is not covered either.
    same_visit = LesionImageFactory(lesion=complete, captured_on=datetime.date(2026, 6, 1))
    PredictionFactory(image=same_visit, model_version=model_version)
    assert {entry.pk: entry.awaiting_results for entry in selectors.review_queue(user=reviewer)}[complete.pk] is True


def test_the_admin_bulk_agree_skips_a_case_with_images_without_a_result(admin_client_, result, model_version):
    low = result(risk="low")
    lesion = low.image.lesion
    pending = LesionImageFactory(lesion=lesion, captured_on=low.image.captured_on)
    PredictionFactory(image=pending, model_version=model_version)  # still queued
    page = admin_client_.get("/admin/reviews/reviewqueueitem/").content.decode()
    assert "Images without a result" in page  # the column
    response = admin_client_.post(
        "/admin/reviews/reviewqueueitem/",
        {"action": "agree_routine_monitoring", "_selected_action": [lesion.pk]},
        follow=True,
    )
    assert "has images without a result; review it on its page" in response.content.decode()
    assert not lesion.reviews.exists()
