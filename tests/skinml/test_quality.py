"""The image checks of skinml.quality on constructed images, and on the real ISIC images when
/work/shared is present. No database."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from skinml.quality import (
    DEFAULT_THRESHOLDS,
    Finding,
    QualityVerdict,
    Threshold,
    folder_scores,
    image_checks,
    image_scores,
    rates,
    thresholds_from_scores,
    verdict,
)

from .. import images
from .model_fixture import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]


def lesion(size: int = 400, seed: int = 0) -> np.ndarray:
    """A sharp, skin-coloured close-up with a dark blob and fine texture (hair-like lines)."""
    rgb = np.asarray(images.lesion_like(size, size, seed=seed, centre=(0.5, 0.5))).copy()
    rng = np.random.default_rng(seed)
    for _ in range(12):
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, size, 4))
        cv2.line(rgb, (x0, y0), (x1, y1), (60, 40, 30), 1)
    return rgb


def codes(findings: list[Finding]) -> dict[str, str]:
    return {f.code: f.severity for f in findings}


def test_a_sharp_well_exposed_skin_image_passes():
    scores, findings = image_checks(lesion())
    assert findings == [], (scores, findings)
    assert set(scores) >= {
        "resolution_px",
        "focus_laplacian",
        "focus_tenengrad",
        "clipped_highlights",
        "clipped_shadows",
        "mean_luminance",
        "skin_fraction",
        "appearance_distance",
    }
    assert all(isinstance(v, float) for v in scores.values())
    json.dumps(scores)


def test_blur_lowers_both_focus_scores_and_is_rejected():
    sharp = lesion()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 6)
    sharp_scores, blurred_scores = image_scores(sharp), image_scores(blurred)
    assert blurred_scores["focus_laplacian"] < sharp_scores["focus_laplacian"] / 5
    assert blurred_scores["focus_tenengrad"] < sharp_scores["focus_tenengrad"]
    assert codes(image_checks(blurred)[1]).get("out_of_focus") == "rejected"


def test_focus_does_not_depend_on_the_image_size():
    small, large = image_scores(lesion(300)), image_scores(cv2.resize(lesion(300), (1200, 1200)))
    assert large["focus_laplacian"] == pytest.approx(small["focus_laplacian"], rel=0.5)


def test_clipped_highlights_and_shadows():
    bright = np.clip(lesion().astype(np.int32) * 3, 0, 255).astype(np.uint8)
    dark = (lesion() // 8).astype(np.uint8)
    assert image_scores(bright)["clipped_highlights"] > 0.5
    assert image_scores(dark)["mean_luminance"] < 30
    assert codes(image_checks(bright)[1]).get("over_exposed") == "rejected"
    assert codes(image_checks(dark)[1]).get("under_exposed") == "rejected"
    # badly exposed is said once, not also "not a lesion" on its appearance
    assert "not_skin" not in codes(image_checks(bright)[1])


@pytest.mark.parametrize("colour", [(128, 128, 128), (40, 80, 200), (60, 160, 60)])
def test_grey_blue_and_green_images_are_not_skin(colour):
    rng = np.random.default_rng(0)
    rgb = np.clip(np.full((300, 300, 3), colour) + rng.normal(0, 8, (300, 300, 3)), 0, 255).astype(np.uint8)
    scores, findings = image_checks(rgb)
    assert scores["skin_fraction"] < 0.1
    assert codes(findings).get("not_skin") == "rejected"


def test_low_resolution_is_rejected_but_isic_sizes_are_not():
    assert codes(image_checks(lesion(80))[1]).get("low_resolution") == "rejected"
    assert "low_resolution" not in codes(image_checks(lesion(150))[1])


def test_verdict_status_is_the_worst_finding_and_as_dict_is_json():
    warning = Finding("out_of_focus", "warning", "out of focus", "Hold still.")
    rejected = Finding("not_skin", "rejected", "not skin", "Retake.")
    assert verdict(findings=[], scores={}).status == "ok"
    assert verdict(findings=[warning], scores={}).status == "warning"
    result = verdict(findings=[warning, rejected], scores={"energy": np.float32(1.5)})
    assert isinstance(result, QualityVerdict) and result.status == "rejected"
    as_dict = result.as_dict()
    reason = {"code": "not_skin", "severity": "rejected", "message": "not skin", "advice": "Retake."}
    assert as_dict["reasons"][1] == reason
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_thresholds_from_scores_are_the_tail_quantiles():
    rng = np.random.default_rng(0)
    scores = {key: rng.uniform(0, 1, 1000) for key in ("focus_laplacian", "clipped_highlights", "clipped_shadows")}
    scores |= {"mean_luminance": rng.uniform(50, 200, 1000), "skin_fraction": rng.uniform(0, 1, 1000)}
    scores |= {"appearance_distance": rng.uniform(0, 5, 1000), "resolution_px": np.full(1000, 224.0)}
    chosen = thresholds_from_scores(scores, rejected_tail=0.01, warning_tail=0.05)
    assert chosen["focus_laplacian"].rejected == pytest.approx(0.01, abs=0.01)
    assert chosen["appearance_distance"].warning == pytest.approx(4.75, abs=0.1)
    assert chosen["clipped_shadows"].rejected >= 0.05  # the floor
    assert rates(scores, chosen)["rejected"] <= 7 * 0.01 + 0.01  # seven thresholded scores at 1 % each
    assert Threshold(warning=2, rejected=1, below=True).severity(1.5) == "warning"


# Real images ---------------------------------------------------------------------------------

ISIC = SHARED_DATA / "isic"
CARD = ROOT / "models" / "skinportal-mobilenetv2-1.1.0.card.json"


def test_at_most_five_percent_of_the_isic_test_split_is_rejected():
    if not (ISIC / "labels.csv").is_file() or not CARD.is_file():
        pytest.skip(f"needs the ISIC images at {ISIC} and the bundled model card {CARD}")
    test_ids = json.loads(CARD.read_text())["split"]["test_ids"]
    scores = folder_scores([ISIC / "images" / f"{i}.jpg" for i in test_ids])
    measured = rates(scores, DEFAULT_THRESHOLDS)
    assert measured["images"] == len(test_ids) == 429
    assert measured["rejected"] <= 0.05, measured


def test_the_sklearn_sample_photographs_are_rejected_as_not_skin():
    from sklearn.datasets import load_sample_images

    photographs = load_sample_images().images
    assert len(photographs) == 2
    for rgb in photographs:
        assert codes(image_checks(rgb)[1]).get("not_skin") == "rejected"


def test_a_warning_says_what_may_be_less_reliable_and_a_rejection_that_it_cannot_be_judged():
    from skinml.quality import MESSAGES, WARNING_MESSAGES, finding

    assert set(WARNING_MESSAGES) == set(MESSAGES)
    assert finding("not_skin", "rejected").message == "does not look like an image of a skin lesion"
    assert finding("not_skin", "warning").message == "unusual colours or framing for a dermoscopic image"
    assert finding("out_of_focus", "warning").advice == finding("out_of_focus", "rejected").advice
