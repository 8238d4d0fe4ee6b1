"""skinml.gate.assess: image checks plus the OOD scores. No database."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from skinml.card import card_path_for, runtime_path_for
from skinml.engine import LiteRTEngine
from skinml.gate import assess
from skinml.ood import OODStatistics, calibrate_thresholds, fit_statistics
from skinml.preprocessing import load_rgb, preprocess

from .model_fixture import SHARED_DATA
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


# The bundled model on real images --------------------------------------------------------------

BUNDLED = Path(__file__).resolve().parents[2] / "models" / "skinportal-mobilenetv2-1.1.0.keras"
ISIC = SHARED_DATA / "isic"


def bundled_gate():
    if not BUNDLED.is_file() or not (ISIC / "labels.csv").is_file():
        pytest.skip(f"needs the bundled model {BUNDLED.name} and the ISIC images at {ISIC}")
    card = json.loads(card_path_for(BUNDLED).read_text())
    engine = LiteRTEngine(runtime_path_for(BUNDLED))
    statistics = OODStatistics.load(BUNDLED.with_name(card["quality"]["statistics_file"]))

    def verdict(rgb: np.ndarray):
        output = engine.run(preprocess(Image.fromarray(rgb), size=engine.input_size))
        assert output.features is not None  # 1.1.0's export has the features output
        return assess(
            rgb=rgb,
            logits=output.logits,
            features=output.features,
            statistics=statistics,
            temperature=float(card["temperature"]),
        )

    return card, verdict


@pytest.mark.slow
def test_the_bundled_gate_rejects_at_most_five_percent_of_the_isic_test_split():
    card, verdict = bundled_gate()
    statuses = [
        verdict(np.asarray(load_rgb((ISIC / "images" / f"{image_id}.jpg").read_bytes()))).status
        for image_id in card["split"]["test_ids"]
    ]
    rejected = statuses.count("rejected") / len(statuses)
    assert len(statuses) == 429 and rejected <= 0.05
    assert rejected == pytest.approx(card["quality"]["ood_flag_rates"]["test"]["gate_rejected"], abs=1e-3)


def test_the_bundled_gate_rejects_photographs_that_are_not_of_skin():
    from sklearn.datasets import load_sample_images

    _, verdict = bundled_gate()
    for photograph in load_sample_images().images:  # a Chinese temple, a flower
        assert verdict(np.ascontiguousarray(photograph)).status == "rejected"
