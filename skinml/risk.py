"""Risk levels: the malignancy score P(BCC) + P(MEL), the one rule that turns it into low,
medium or high with a model's two thresholds, and how those thresholds are chosen on
validation data."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .classes import CLASSES, MALIGNANT_CLASSES

LOW, MEDIUM, HIGH = "low", "medium", "high"
RISK_LEVELS = (LOW, MEDIUM, HIGH)

#: The rules, as recorded in the model card.
RISK_RULE = "score >= high → high; score >= medium → medium; otherwise low"
HIGH_RULE = (
    "high = the largest threshold on P(BCC)+P(MEL) that still flags at least {mel:.0%} of the validation MEL "
    "images as high"
)
MEDIUM_RULE = (
    "medium = the largest threshold on P(BCC)+P(MEL) that flags at least {malignant:.0%} of the validation "
    "malignant (MEL+BCC) images as medium or high, capped at high"
)


def malignant_probability(probabilities: np.ndarray, *, classes: Sequence[str] = CLASSES) -> np.ndarray:
    """P(BCC) + P(MEL) of one probability vector (a scalar array) or of every row of an
    (n, classes) array, the columns being in the order of ``classes``."""
    columns = [list(classes).index(name) for name in MALIGNANT_CLASSES]
    return np.asarray(probabilities)[..., columns].sum(axis=-1)


def risk_level(*, malignant_probability: float, thresholds: Mapping[str, float]) -> str:
    """The risk level of a malignancy score with ``{"medium": t1, "high": t2}``: see RISK_RULE."""
    if malignant_probability >= thresholds["high"]:
        return HIGH
    if malignant_probability >= thresholds["medium"]:
        return MEDIUM
    return LOW


def choose_thresholds(
    *,
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str] = CLASSES,
    target_mel_sensitivity: float = 0.90,
    target_malignant_sensitivity: float = 0.97,
) -> dict[str, float]:
    """Risk thresholds on the malignancy score P(BCC)+P(MEL), chosen on validation data: see
    HIGH_RULE and MEDIUM_RULE. Rounded down to 4 decimals (which only flags more). Without any
    MEL (or malignant) image the threshold falls back to 0.5."""
    malignant = [classes.index(name) for name in MALIGNANT_CLASSES]
    score = malignant_probability(probabilities, classes=classes)
    labels = np.asarray(labels)
    high = _largest_threshold_flagging(score[labels == classes.index("MEL")], target_mel_sensitivity)
    medium = _largest_threshold_flagging(score[np.isin(labels, malignant)], target_malignant_sensitivity)
    high = 0.5 if high is None else _round_down(high)
    medium = 0.5 if medium is None else _round_down(medium)
    return {"medium": min(medium, high), "high": high}


def _largest_threshold_flagging(scores: np.ndarray, fraction: float) -> float | None:
    """The largest t such that at least ``fraction`` of ``scores`` are >= t (None without scores)."""
    if len(scores) == 0:
        return None
    needed = max(1, math.ceil(fraction * len(scores) - 1e-9))
    return float(np.sort(scores)[::-1][needed - 1])


def _round_down(value: float) -> float:
    """``value`` to 4 decimals, never above it (a lower threshold only flags more)."""
    rounded = round(value, 4)
    return rounded if rounded <= value else round(rounded - 1e-4, 4)
