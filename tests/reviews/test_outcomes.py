"""Outcomes per model version, on a small example whose figures are computed by hand."""

from __future__ import annotations

import datetime

import pytest

from reviews import selectors, services

from ..factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def example(reviewer, result, model_version):
    """Six lesions of the active model and one of another version.

    model  reviewer           histopathology
    MEL    MEL (agrees)       MEL
    MEL    NV  (disagrees)    NV
    NV     MEL (disagrees)    MEL
    NV     NV  (agrees)       –
    BCC    BCC (agrees)       –
    NV     unsure (disagrees) NV
    (other version) MEL  MEL (agrees)  MEL   -> not counted for the active one
    """
    rows = [
        ("MEL", "MEL", True, "MEL"),
        ("MEL", "NV", False, "NV"),
        ("NV", "MEL", False, "MEL"),
        ("NV", "NV", True, None),
        ("BCC", "BCC", True, None),
        ("NV", "unsure", False, "NV"),
    ]
    for predicted, diagnosis, agrees, histology in rows:
        prediction = result(predicted=predicted)
        lesion = prediction.image.lesion
        services.review_create(
            prediction=prediction, reviewer=reviewer, agrees_with_model=agrees, diagnosis=diagnosis, action="discharge"
        )
        if histology:
            services.histopathology_add(
                lesion=lesion,
                entered_by=reviewer,
                diagnosis=histology,
                diagnosed_on=datetime.date(2026, 3, 1),
                report="r",
            )
    other = ModelVersionFactory()
    prediction = result(predicted="MEL", version=other)
    lesion = prediction.image.lesion
    services.review_create(
        prediction=prediction, reviewer=reviewer, agrees_with_model=True, diagnosis="MEL", action="discharge"
    )
    services.histopathology_add(
        lesion=lesion, entered_by=reviewer, diagnosis="MEL", diagnosed_on=datetime.date(2026, 3, 1), report="r"
    )
    result(predicted="NV")  # succeeded, never reviewed
    return model_version


def test_outcomes_computed_by_hand(example):
    report = selectors.model_outcomes(model_version=example)
    assert report["predictions_succeeded"] == 7
    assert (report["reviews"], report["reviews_unsure"]) == (6, 1)
    assert report["agreement_rate"] == pytest.approx(3 / 6)

    reviewers = report["versus_reviewers"]
    assert reviewers["cases"] == 5  # the unsure review is not a reference
    counts = reviewers["confusion_matrix"]["counts"]
    assert counts["MEL"] == {"BCC": 0, "MEL": 1, "NV": 1}
    assert counts["NV"] == {"BCC": 0, "MEL": 1, "NV": 1}
    assert counts["BCC"] == {"BCC": 1, "MEL": 0, "NV": 0}
    assert reviewers["accuracy"] == pytest.approx(3 / 5)
    melanoma = reviewers["melanoma"]
    assert (melanoma["true_positive"], melanoma["false_negative"], melanoma["false_positive"]) == (1, 1, 1)
    assert melanoma["true_negative"] == 2
    assert melanoma["sensitivity"] == pytest.approx(1 / 2) and melanoma["specificity"] == pytest.approx(2 / 3)

    histology = report["versus_histopathology"]
    assert histology["cases"] == 4
    assert histology["confusion_matrix"]["counts"]["MEL"] == {"BCC": 0, "MEL": 1, "NV": 1}
    assert histology["confusion_matrix"]["counts"]["NV"] == {"BCC": 0, "MEL": 1, "NV": 1}
    assert histology["melanoma"]["sensitivity"] == pytest.approx(1 / 2)
    assert histology["melanoma"]["specificity"] == pytest.approx(1 / 2)


def test_outcomes_page_and_api(example, reviewer_client, clinician_client, reviewer, api_client_for, clinician):
    page = reviewer_client.get(f"/reviews/outcomes/?model_version={example.pk}").content.decode()
    assert "Reviewers agreeing with the model</dt><dd>50%" in page
    assert "sensitivity 50%" in page
    assert clinician_client.get("/reviews/outcomes/").status_code == 403
    body = api_client_for(reviewer).get(f"/api/v1/outcomes/?model_version={example.pk}").json()
    assert body == selectors.model_outcomes(model_version=example)
    assert api_client_for(clinician).get("/api/v1/outcomes/").status_code == 403
