"""Evaluation metrics: a small example worked out by hand, edge cases, the bootstrap, and
agreement with the ISIC challenge's own scoring package. No database."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skinml.classes import CLASSES
from skinml.engine import softmax
from skinml.metrics import compute_metrics, roc_auc, sensitivity_at_specificity, source_summary

# Classes in output order: BCC = 0, MEL = 1, NV = 2.
HAND_PROBABILITIES = np.array(
    [
        [0.70, 0.20, 0.10],  # BCC → BCC
        [0.30, 0.50, 0.20],  # BCC → MEL
        [0.10, 0.80, 0.10],  # MEL → MEL
        [0.20, 0.48, 0.32],  # MEL → MEL
        [0.10, 0.30, 0.60],  # MEL → NV
        [0.10, 0.10, 0.80],  # NV → NV
        [0.05, 0.15, 0.80],  # NV → NV
        [0.20, 0.45, 0.35],  # NV → MEL
        [0.10, 0.15, 0.75],  # NV → NV
        [0.60, 0.10, 0.30],  # NV → BCC
    ]
)
HAND_LABELS = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2])


def test_metrics_of_a_small_example_by_hand():
    metrics = compute_metrics(
        probabilities=HAND_PROBABILITIES, labels=HAND_LABELS, thresholds={"medium": 0.3, "high": 0.6}, n_bootstrap=0
    )
    assert metrics["confusion_matrix"]["matrix"] == [[1, 1, 0], [0, 2, 1], [1, 1, 3]]
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3 + 3 / 5) / 3)
    assert metrics["per_class"]["BCC"] == {"support": 2, "sensitivity": 0.5, "specificity": pytest.approx(7 / 8)}
    assert metrics["per_class"]["MEL"] == {"support": 3, "sensitivity": pytest.approx(2 / 3), "specificity": 5 / 7}
    assert metrics["per_class"]["NV"] == {"support": 5, "sensitivity": 0.6, "specificity": 0.8}
    # AUC = share of (positive, negative) pairs ranked correctly.
    assert metrics["auc"]["BCC"] == pytest.approx(15 / 16)  # 8 + 7 of 2 × 8 pairs
    assert metrics["auc"]["MEL"] == pytest.approx(18 / 21)  # 7 + 6 + 5 of 3 × 7
    assert metrics["auc"]["NV"] == pytest.approx(22 / 25)  # 5 + 5 + 4 + 5 + 3 of 5 × 5
    assert metrics["auc_malignant"] == pytest.approx(22 / 25)  # P(BCC)+P(MEL), MEL/BCC vs NV
    # MEL negatives' P(MEL), sorted: .10 .10 .15 .15 .20 .45 .50. Specificity 80% of 7 needs 6
    # below the threshold (> .45: MEL .80 and .48 flagged); 90% needs all 7 (> .50: only .80).
    assert metrics["mel_sensitivity_at_80_specificity"] == pytest.approx(2 / 3)
    assert metrics["mel_sensitivity_at_90_specificity"] == pytest.approx(1 / 3)
    # Malignancy scores: BCC .9 .8, MEL .9 .68 .4, NV .2 .2 .65 .25 .7.
    risk = metrics["risk_levels"]
    assert risk["counts_by_true_class"] == {
        "BCC": {"low": 0, "medium": 0, "high": 2},
        "MEL": {"low": 0, "medium": 1, "high": 2},
        "NV": {"low": 3, "medium": 0, "high": 2},
    }
    assert risk["mel_flagged_high"] == pytest.approx(2 / 3)
    assert risk["malignant_flagged_medium_or_high"] == 1.0
    assert risk["nv_flagged_high"] == risk["nv_flagged_medium_or_high"] == pytest.approx(0.4)
    json.dumps(metrics, allow_nan=False)


def test_roc_auc_counts_ties_as_half_and_needs_both_kinds():
    assert roc_auc(scores=np.array([0.5, 0.5]), positives=np.array([True, False])) == 0.5
    assert roc_auc(scores=np.array([0.2, 0.9, 0.4]), positives=np.array([False, True, False])) == 1.0
    assert np.isnan(roc_auc(scores=np.array([0.2, 0.9]), positives=np.array([True, True])))


def test_sensitivity_at_specificity_edge_cases():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.35])
    positives = np.array([False, False, False, False, True, True])
    assert sensitivity_at_specificity(scores=scores, positives=positives, specificity=0.75) == 1.0
    assert sensitivity_at_specificity(scores=scores, positives=positives, specificity=1.0) == 0.5
    assert sensitivity_at_specificity(scores=scores, positives=positives, specificity=0.0) == 1.0


def test_missing_class_gives_none_not_nan():
    probabilities = HAND_PROBABILITIES[5:]  # NV images only
    metrics = compute_metrics(probabilities=probabilities, labels=HAND_LABELS[5:], n_bootstrap=10)
    assert metrics["auc"] == {"BCC": None, "MEL": None, "NV": None}
    assert metrics["mel_sensitivity_at_80_specificity"] is None
    assert metrics["balanced_accuracy"] == pytest.approx(0.6)  # mean recall of the classes present
    assert metrics["confidence_intervals"]["auc_MEL"] is None
    json.dumps(metrics, allow_nan=False)


def _random_predictions(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3)) + 1.5 * np.eye(3)[labels]
    return softmax(logits), labels


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate():
    probabilities, labels = _random_predictions()
    first = compute_metrics(probabilities=probabilities, labels=labels, n_bootstrap=200, seed=1)
    again = compute_metrics(probabilities=probabilities, labels=labels, n_bootstrap=200, seed=1)
    assert first["confidence_intervals"] == again["confidence_intervals"]
    intervals = first["confidence_intervals"]
    assert set(intervals) == {
        "balanced_accuracy",
        "auc_BCC",
        "auc_MEL",
        "auc_NV",
        "auc_malignant",
        "mel_sensitivity_at_80_specificity",
        "mel_sensitivity_at_90_specificity",
    }
    low, high = intervals["balanced_accuracy"]
    assert low < first["balanced_accuracy"] < high and high - low < 0.2
    for label in CLASSES:
        low, high = intervals[f"auc_{label}"]
        assert low < first["auc"][label] < high


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")  # inside the package
def test_agrees_with_the_isic_challenge_scoring_package():
    classification = pytest.importorskip(
        "isic_challenge_scoring.classification",
        reason="isic-challenge-scoring is not installed (pip install isic-challenge-scoring==5.6.0)",
    )
    import pandas as pd

    probabilities, labels = _random_predictions(n=400, seed=4)
    index = pd.Index([f"ISIC_{i:07d}" for i in range(len(labels))], name="image")
    truth = pd.DataFrame(np.eye(3)[labels], index=index, columns=list(CLASSES))
    predictions = pd.DataFrame(probabilities, index=index, columns=list(CLASSES))
    weights = pd.DataFrame({"score_weight": 1.0, "validation_weight": 1.0}, index=index)
    # The package's CSV reader (5.6.0) calls DataFrame.applymap, gone in pandas 3, so the score
    # is built from the frames directly: the same code the challenge runs after parsing.
    score = classification.ClassificationScore(
        truth, predictions, weights, classification.ClassificationMetric.BALANCED_ACCURACY
    )
    ours = compute_metrics(probabilities=probabilities, labels=labels, n_bootstrap=0)
    assert ours["balanced_accuracy"] == pytest.approx(score.aggregate["balanced_accuracy"], abs=1e-12)
    for label in CLASSES:
        assert ours["auc"][label] == pytest.approx(score.per_category.loc[label, "auc"], abs=1e-12)


def test_source_summary():
    summary = source_summary(probabilities=HAND_PROBABILITIES, labels=HAND_LABELS, classes=list(CLASSES))
    assert summary == {
        "n": 10,
        "classes": {"BCC": 2, "MEL": 3, "NV": 5},
        "accuracy": pytest.approx(0.6),
        "balanced_accuracy": pytest.approx((1 / 2 + 2 / 3 + 3 / 5) / 3),
    }


def test_wilson_interval_matches_the_textbook_values():
    from skinml.metrics import wilson_interval

    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(0, 0) == (0.0, 1.0)
