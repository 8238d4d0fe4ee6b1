"""Risk levels: the malignancy score, the one rule with a model's thresholds, and how the
thresholds are chosen. No database."""

from __future__ import annotations

import numpy as np
import pytest

from skinml import risk
from skinml.classes import CLASSES

THRESHOLDS = {"medium": 0.3, "high": 0.6}


@pytest.mark.parametrize(
    ("score", "level"),
    [(0.0, "low"), (0.29, "low"), (0.3, "medium"), (0.599, "medium"), (0.6, "high"), (1.0, "high")],
)
def test_risk_level_with_the_thresholds_included(score, level):
    assert risk.risk_level(malignant_probability=score, thresholds=THRESHOLDS) == level


def test_equal_thresholds_leave_no_medium():
    thresholds = {"medium": 0.5, "high": 0.5}
    assert [risk.risk_level(malignant_probability=s, thresholds=thresholds) for s in (0.49, 0.5)] == ["low", "high"]


def test_malignant_probability_of_a_vector_and_of_rows():
    rows = np.array([[0.1, 0.2, 0.7], [0.5, 0.4, 0.1]])
    np.testing.assert_allclose(risk.malignant_probability(rows), [0.3, 0.9])
    assert float(risk.malignant_probability(rows[1])) == pytest.approx(0.9)
    # Columns in another output order.
    assert float(risk.malignant_probability(np.array([0.7, 0.1, 0.2]), classes=("NV", "BCC", "MEL"))) == (
        pytest.approx(0.3)
    )


def _probabilities_with_malignancy(scores: list[float], label: str) -> np.ndarray:
    """Rows whose P(BCC)+P(MEL) equals ``scores`` (all of it on the true class when malignant)."""
    rows = np.zeros((len(scores), 3))
    column = CLASSES.index(label if label != "NV" else "MEL")
    rows[:, column] = scores
    rows[:, CLASSES.index("NV")] = 1 - np.asarray(scores)
    return rows


def test_thresholds_meet_the_target_sensitivities():
    mel = [0.99, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3]
    bcc = [0.95, 0.2]
    nv = [0.1, 0.5, 0.05]
    probabilities = np.concatenate(
        [
            _probabilities_with_malignancy(mel, "MEL"),
            _probabilities_with_malignancy(bcc, "BCC"),
            _probabilities_with_malignancy(nv, "NV"),
        ]
    )
    labels = np.array([1] * 10 + [0] * 2 + [2] * 3)
    thresholds = risk.choose_thresholds(probabilities=probabilities, labels=labels)
    # 90% of 10 MEL = 9 flagged: the 9th highest score; 97% of 12 malignant = all 12: the lowest.
    assert thresholds == {"medium": 0.2, "high": 0.35}
    score = probabilities[:, :2].sum(axis=1)
    assert (score[labels == 1] >= thresholds["high"]).mean() >= 0.9
    assert (score[labels == 1] >= thresholds["high"] + 1e-3).mean() < 0.9  # it is the largest such threshold
    assert (score[labels != 2] >= thresholds["medium"]).mean() >= 0.97


def test_medium_threshold_never_exceeds_high():
    probabilities = np.concatenate(
        [_probabilities_with_malignancy([0.1, 0.2, 0.3, 0.4, 0.5], "MEL"), _probabilities_with_malignancy([0.9], "BCC")]
    )
    labels = np.array([1] * 5 + [0])
    thresholds = risk.choose_thresholds(
        probabilities=probabilities, labels=labels, target_mel_sensitivity=0.5, target_malignant_sensitivity=0.1
    )
    assert thresholds["medium"] <= thresholds["high"] == 0.3


def test_thresholds_fall_back_to_one_half_without_malignant_images():
    probabilities = _probabilities_with_malignancy([0.1, 0.7], "NV")
    assert risk.choose_thresholds(probabilities=probabilities, labels=np.array([2, 2])) == {"medium": 0.5, "high": 0.5}


def test_thresholds_are_rounded_down():
    probabilities = _probabilities_with_malignancy([0.123456], "MEL")
    assert risk.choose_thresholds(probabilities=probabilities, labels=np.array([1])) == {
        "medium": 0.1234,
        "high": 0.1234,
    }
