"""Reviews, histopathology and the queue over the API, under the same rules."""

from __future__ import annotations

import pytest

from reviews.models import Histopathology, Review

from ..factories import LesionFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def test_reviewers_work_the_queue_and_review_over_the_api(reviewer, clinician, api_client_for, result):
    high = result(risk="high", predicted="MEL", lesion__patient__owner=clinician)
    low = result(risk="low")
    api = api_client_for(reviewer)
    queue = api.get("/api/v1/review-queue/").json()
    assert [item["lesion"] for item in queue["results"]] == [high.image.lesion_id, low.image.lesion_id]
    assert queue["results"][0]["prediction"] == high.pk and queue["results"][0]["risk_level"] == "high"
    assert api.get("/api/v1/review-queue/?risk_level=low").json()["count"] == 1
    assert api.get("/api/v1/review-queue/?risk_level=huge").status_code == 400

    response = api.post(
        "/api/v1/reviews/",
        {"prediction": high.pk, "agrees_with_model": True, "diagnosis": "MEL", "action": "biopsy_excision"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["prediction"] == high.pk and response.json()["reviewer"]["id"] == reviewer.pk
    again = api.post(
        "/api/v1/reviews/",
        {"prediction": high.pk, "agrees_with_model": True, "diagnosis": "MEL", "action": "discharge"},
        format="json",
    )
    assert again.status_code == 409 and "reviewed already" in again.json()["errors"][0]["detail"]
    assert api.get("/api/v1/review-queue/").json()["count"] == 1


def test_clinicians_cannot_review_and_see_reviews_of_their_cases_only(
    clinician, other_clinician, reviewer, api_client_for, result
):
    own = result(lesion__patient__owner=clinician)
    other = result(lesion__patient__owner=other_clinician)
    for prediction in (own, other):
        ReviewFactory(prediction=prediction, reviewer=reviewer, diagnosis="NV", action="discharge")
    api = api_client_for(clinician)
    assert [r["lesion"] for r in api.get("/api/v1/reviews/").json()["results"]] == [own.image.lesion_id]
    hidden = Review.objects.get(prediction=other)
    assert api.get(f"/api/v1/reviews/{hidden.pk}/").status_code == 404
    response = api.post(
        "/api/v1/reviews/",
        {"prediction": own.pk, "agrees_with_model": True, "diagnosis": "NV", "action": "discharge"},
        format="json",
    )
    assert response.status_code == 403
    assert api.get("/api/v1/review-queue/").status_code == 403
    assert api_client_for(reviewer).get("/api/v1/reviews/").json()["count"] == 2


def test_histopathology_over_the_api(clinician, other_clinician, api_client_for):
    lesion = LesionFactory(patient__owner=clinician)
    hidden = LesionFactory(patient__owner=other_clinician)
    api = api_client_for(clinician)
    body = {"lesion": lesion.pk, "diagnosis": "MEL", "diagnosed_on": "2026-03-01", "report": "SSM, Breslow 0.3 mm"}
    response = api.post("/api/v1/histopathology/", body, format="json")
    assert response.status_code == 201 and response.json()["entered_by"]["id"] == clinician.pk
    assert api.post("/api/v1/histopathology/", {**body, "lesion": hidden.pk}, format="json").status_code == 400
    assert [h["lesion"] for h in api.get("/api/v1/histopathology/").json()["results"]] == [lesion.pk]
    assert Histopathology.objects.count() == 1
