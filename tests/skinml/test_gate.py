"""skinml.gate.assess: image checks plus the OOD scores. No database."""

from __future__ import annotations

import json

import cv2
import numpy as np

from skinml.gate import assess
from skinml.ood import calibrate_thresholds, fit_statistics

from .test_ood import D, clusters, logits_of
from .test_quality import lesion


def statistics():
    features, labels = clusters()
    return calibrate_thresholds(
        fit_statistics(features=features, labels=labels, num_classes=3), logits=logits_of(features), features=features
    )


def test_a_good_image_without_a_model_output_is_ok():
    result = assess(rgb=lesion())
    assert result.status == "ok" and result.findings == ()
    assert "energy" not in result.scores


def test_an_in_distribution_output_adds_scores_but_no_finding():
    inside = np.eye(D)[0] * 6
    result = assess(rgb=lesion(), logits=logits_of(inside[None])[0], features=inside, statistics=statistics())
    assert result.status == "ok", result
    assert {"energy", "mahalanobis"} <= set(result.scores)
    json.dumps(result.as_dict())


def test_far_features_give_an_out_of_distribution_rejection():
    far = np.full(D, 10.0)
    result = assess(rgb=lesion(), logits=np.zeros(3), features=far, statistics=statistics())
    assert result.status == "rejected"
    assert [f.code for f in result.findings] == ["out_of_distribution"]
    assert result.findings[0].message == "unlike the lesions the model was trained on"


def test_the_status_is_the_worst_finding():
    blurred = cv2.GaussianBlur(lesion(), (0, 0), 6)
    result = assess(rgb=blurred, logits=np.zeros(3), features=np.full(D, 10.0), statistics=statistics())
    assert result.status == "rejected"
    assert {f.code for f in result.findings} >= {"out_of_focus", "out_of_distribution"}


def test_features_of_another_size_or_missing_are_ignored():
    result = assess(rgb=lesion(), logits=np.array([5.0, 0.0, 0.0]), features=np.zeros(7), statistics=statistics())
    assert "mahalanobis" not in result.scores and "energy" in result.scores
