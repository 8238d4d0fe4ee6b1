"""Calibration: negative log-likelihood, temperature scaling, the expected calibration error and
the reliability bins it is computed from. No database."""

from __future__ import annotations

import numpy as np
import pytest

from skinml import calibration
from skinml.engine import softmax


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2.0, (20000, 3))
    probabilities = softmax(true_logits)
    labels = (rng.random((20000, 1)) > probabilities.cumsum(axis=1)).sum(axis=1)
    overconfident = true_logits * 2.5  # a model whose logits are 2.5 times too large
    assert calibration.fit_temperature(logits=overconfident, labels=labels) == pytest.approx(2.5, rel=0.05)
    assert calibration.fit_temperature(logits=true_logits, labels=labels) == pytest.approx(1.0, rel=0.05)


def test_softmax_rows_and_negative_log_likelihood():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    probabilities = softmax(logits, temperature=2.0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0, 0] == pytest.approx(np.e / (np.e + 2))
    nll = calibration.negative_log_likelihood(logits=logits, labels=np.array([0, 2]), temperature=2.0)
    assert nll == pytest.approx(-(np.log(np.e / (np.e + 2)) + np.log(1 / 3)) / 2)


def test_expected_calibration_error_by_hand():
    # Four predictions at confidence .9 (three right) and two at .55 (one right), 15 bins:
    # ECE = 4/6 · |.75 - .9| + 2/6 · |.5 - .55|.
    probabilities = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.55, 0.45, 0.0]] * 2)
    labels = np.array([0, 0, 0, 1, 0, 1])
    ece = calibration.expected_calibration_error(probabilities=probabilities, labels=labels)
    assert ece == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.05)
    assert calibration.expected_calibration_error(probabilities=np.eye(3), labels=np.arange(3)) == 0.0


def test_reliability_bins_by_hand():
    probabilities = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.55, 0.45, 0.0]] * 2)
    labels = np.array([0, 0, 0, 1, 0, 1])
    bins = calibration.reliability_bins(probabilities=probabilities, labels=labels)
    assert len(bins) == calibration.ECE_BINS == 15
    filled = [b for b in bins if b["count"]]
    # .55 falls in (8/15, 9/15], .9 in (13/15, 14/15].
    assert [(b["lower"], b["count"]) for b in filled] == [(8 / 15, 2), (13 / 15, 4)]
    assert filled[0]["confidence"] == pytest.approx(0.55) and filled[0]["accuracy"] == 0.5
    assert filled[1]["confidence"] == pytest.approx(0.9) and filled[1]["accuracy"] == 0.75
    assert all(b["confidence"] is None and b["accuracy"] is None for b in bins if not b["count"])


def test_confidence_on_a_bin_edge_falls_in_the_lower_bin():
    bins = calibration.reliability_bins(probabilities=np.array([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]]), labels=[0, 0])
    assert bins[4]["count"] == 1  # 1/3 = 5/15 is the upper edge of (4/15, 5/15]
    assert bins[14]["count"] == 1


def test_ece_is_the_weighted_gap_of_the_reliability_bins():
    rng = np.random.default_rng(2)
    probabilities = softmax(rng.normal(0, 2, (500, 3)))
    labels = rng.integers(0, 3, 500)
    bins = calibration.reliability_bins(probabilities=probabilities, labels=labels, bins=10)
    expected = sum(b["count"] / 500 * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    ece = calibration.expected_calibration_error(probabilities=probabilities, labels=labels, bins=10)
    assert ece == pytest.approx(expected, abs=1e-12)
    assert sum(b["count"] for b in bins) == 500
