"""Energy and Mahalanobis scores, the statistics' fit, calibration and file. No database."""

from __future__ import annotations

import numpy as np
import pytest

from skinml.ood import (
    OODStatistics,
    calibrate_thresholds,
    energy_score,
    fit_statistics,
    flag_rates,
    mahalanobis_score,
)

D = 16


def clusters(n_per_class: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.stack([np.eye(D)[c] * 6 for c in range(3)])
    labels = np.repeat(np.arange(3), n_per_class)
    return centres[labels] + rng.normal(0, 1, (len(labels), D)), labels


def logits_of(features: np.ndarray) -> np.ndarray:
    return features[:, :3] * 2


def test_energy_is_lower_for_confident_logits_and_matches_its_formula():
    confident, unsure = np.array([10.0, 0.0, 0.0]), np.array([0.1, 0.0, 0.1])
    assert energy_score(confident) < energy_score(unsure)
    assert energy_score(unsure) == pytest.approx(-np.log(np.exp([0.1, 0.0, 0.1]).sum()))
    assert energy_score(np.array([1000.0, 0.0, 0.0]), temperature=2.0) == pytest.approx(-1000.0)
    rows = energy_score(np.stack([confident, unsure]))
    assert rows.shape == (2,) and rows[0] == energy_score(confident)


def test_mahalanobis_is_low_in_a_cluster_and_high_far_from_every_cluster():
    features, labels = clusters()
    statistics = fit_statistics(features=features, labels=labels, num_classes=3)
    assert statistics.class_means.shape == (3, D) and statistics.precision.shape == (D, D)
    inside = mahalanobis_score(statistics, np.eye(D)[1] * 6)
    far = mahalanobis_score(statistics, np.full(D, 8.0))
    assert isinstance(inside, float) and inside < 2.0 and far > 10.0
    assert mahalanobis_score(statistics, features).shape == (len(features),)
    assert np.isfinite(np.linalg.cond(statistics.precision))


def test_shrinkage_keeps_the_precision_finite_with_fewer_images_than_dimensions():
    rng = np.random.default_rng(1)
    statistics = fit_statistics(features=rng.normal(size=(30, 100)), labels=np.arange(30) % 3, num_classes=3)
    assert np.all(np.isfinite(statistics.precision))


def test_calibration_rejects_at_most_the_rate_on_its_own_data_and_flags_far_points():
    features, labels = clusters()
    statistics = fit_statistics(features=features, labels=labels, num_classes=3)
    assert statistics.thresholds == {}
    val, _ = clusters(seed=1)
    calibrated = calibrate_thresholds(statistics, logits=logits_of(val), features=val, rejected_rate=0.05)
    for name in ("energy", "mahalanobis"):
        levels = calibrated.thresholds[name]
        assert levels["warning"] <= levels["rejected"]
    rates = flag_rates(calibrated, logits=logits_of(val), features=val)
    assert rates["energy_rejected"] <= 0.05 and rates["mahalanobis_rejected"] <= 0.05
    assert rates["energy_warning_or_worse"] <= 0.10
    far = np.random.default_rng(2).normal(0, 1, (50, D)) + 10.0
    far_rates = flag_rates(calibrated, logits=np.zeros((50, 3)), features=far)
    assert far_rates["mahalanobis_rejected"] == 1.0 and far_rates["energy_rejected"] == 1.0


def test_calibration_leaves_room_for_what_the_image_checks_reject():
    features, labels = clusters()
    statistics = fit_statistics(features=features, labels=labels, num_classes=3)
    val, _ = clusters(seed=1)
    n = len(val)
    by_image_checks = np.zeros(n, dtype=bool)
    by_image_checks[: int(0.03 * n)] = True  # the image checks reject 3 % already
    warned = np.zeros(n, dtype=bool)
    alone = calibrate_thresholds(statistics, logits=logits_of(val), features=val, rejected_rate=0.05)
    joint = calibrate_thresholds(
        statistics,
        logits=logits_of(val),
        features=val,
        rejected_rate=0.05,
        already_rejected=by_image_checks,
        already_warned=warned,
    )
    rates = flag_rates(
        joint, logits=logits_of(val), features=val, already_rejected=by_image_checks, already_warned=warned
    )
    assert rates["gate_rejected"] <= 0.05
    assert rates["rejected"] < flag_rates(alone, logits=logits_of(val), features=val)["rejected"]


def test_save_and_load_round_trip_without_pickles(tmp_path):
    features, labels = clusters(50)
    statistics = calibrate_thresholds(
        fit_statistics(features=features, labels=labels, num_classes=3), logits=logits_of(features), features=features
    )
    path = tmp_path / "model.ood.npz"
    statistics.save(path)
    loaded = OODStatistics.load(path)
    np.testing.assert_array_equal(loaded.class_means, statistics.class_means)
    np.testing.assert_array_equal(loaded.precision, statistics.precision)
    assert loaded.thresholds == statistics.thresholds
    with np.load(path, allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)


def test_mahalanobis_score_is_the_textbook_distance_to_the_nearest_class():
    features, labels = clusters()
    statistics = fit_statistics(features=features, labels=labels, num_classes=3)
    points = np.random.default_rng(5).normal(0, 2, (7, features.shape[1]))
    expected = [min(np.sqrt((p - m) @ statistics.precision @ (p - m)) for m in statistics.class_means) for p in points]
    np.testing.assert_allclose(mahalanobis_score(statistics, points), expected, rtol=1e-9)
    assert mahalanobis_score(statistics, points[0]) == pytest.approx(expected[0])
