"""Evaluation figures of a classifier's probabilities (NumPy only, checked against the ISIC
challenge's own scoring package in the tests) and their bootstrap confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .calibration import ECE_BINS, expected_calibration_error
from .classes import CLASSES
from .risk import HIGH, LOW, RISK_LEVELS, malignant_probability, risk_level

SPECIFICITY_LEVELS = (0.80, 0.90)


def roc_auc(*, scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counting half); NaN unless
    there are both positives and negatives."""
    from scipy.stats import rankdata

    positives = np.asarray(positives, dtype=bool)
    n_positive, n_negative = int(positives.sum()), int((~positives).sum())
    if n_positive == 0 or n_negative == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def sensitivity_at_specificity(*, scores: np.ndarray, positives: np.ndarray, specificity: float) -> float:
    """The highest sensitivity of the rule "score >= t" among thresholds whose specificity is at
    least ``specificity`` (an operating point of the empirical ROC curve, no interpolation)."""
    positives = np.asarray(positives, dtype=bool)
    negatives = np.sort(np.asarray(scores)[~positives])
    if positives.sum() == 0 or len(negatives) == 0:
        return math.nan
    needed = math.ceil(specificity * len(negatives) - 1e-9)  # negatives that must score below t
    if needed == 0:
        return 1.0
    return float((np.asarray(scores)[positives] > negatives[needed - 1]).mean())


def confusion_matrix(*, labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (np.asarray(labels, dtype=int), np.asarray(predicted, dtype=int)), 1)
    return matrix


def balanced_accuracy(*, labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    """Mean recall over the classes present (the ISIC challenge's balanced multiclass accuracy)."""
    matrix = confusion_matrix(labels=labels, predicted=predicted, num_classes=num_classes)
    support = matrix.sum(axis=1)
    present = support > 0
    return float((np.diag(matrix)[present] / support[present]).mean())


def headline_metrics(*, probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """The figures that get bootstrap intervals."""
    mel = classes.index("MEL")
    values = {
        "balanced_accuracy": balanced_accuracy(
            labels=labels, predicted=probabilities.argmax(axis=1), num_classes=len(classes)
        ),
        **{
            f"auc_{label}": roc_auc(scores=probabilities[:, index], positives=labels == index)
            for index, label in enumerate(classes)
        },
        "auc_malignant": roc_auc(
            scores=malignant_probability(probabilities, classes=classes), positives=labels != classes.index("NV")
        ),
    }
    for level in SPECIFICITY_LEVELS:
        values[f"mel_sensitivity_at_{round(level * 100)}_specificity"] = sensitivity_at_specificity(
            scores=probabilities[:, mel], positives=labels == mel, specificity=level
        )
    return values


def bootstrap_intervals(
    *, probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str], n_bootstrap: int, seed: int
) -> dict[str, list[float] | None]:
    """Percentile 95% intervals of the headline figures over ``n_bootstrap`` resamples of the
    images (with replacement, seeded). A resample lacking a class is left out of that figure."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_bootstrap):
        index = rng.integers(0, len(labels), len(labels))
        resample = headline_metrics(probabilities=probabilities[index], labels=labels[index], classes=classes)
        for key, value in resample.items():
            samples.setdefault(key, []).append(value)
    intervals = {}
    for key, values in samples.items():
        finite = np.asarray(values)[np.isfinite(values)]
        intervals[key] = (
            [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))] if len(finite) else None
        )
    return intervals


def json_safe(value):
    """NaN and infinities become None, NumPy scalars plain numbers, tuples lists."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def per_class_metrics(*, matrix: np.ndarray, classes: Sequence[str]) -> dict[str, dict]:
    """Support, sensitivity and specificity of each class (one vs rest) from the confusion matrix."""
    result = {}
    for index, label in enumerate(classes):
        tp = matrix[index, index]
        fn = matrix[index].sum() - tp
        fp = matrix[:, index].sum() - tp
        tn = matrix.sum() - tp - fn - fp
        result[label] = {
            "support": int(matrix[index].sum()),
            "sensitivity": tp / (tp + fn) if tp + fn else math.nan,
            "specificity": tn / (tn + fp) if tn + fp else math.nan,
        }
    return result


def risk_level_metrics(
    *, probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str], thresholds: Mapping[str, float]
) -> dict:
    """How the risk levels of ``thresholds`` (the rule of :func:`skinml.risk.risk_level`) fall on
    each true class, and the share of MEL, malignant and NV images flagged."""
    scores = malignant_probability(probabilities, classes=classes)
    levels = np.array([risk_level(malignant_probability=float(s), thresholds=thresholds) for s in scores])
    mel = labels == classes.index("MEL")
    malignant = labels != classes.index("NV")
    nv = ~malignant
    return {
        "thresholds": dict(thresholds),
        "counts_by_true_class": {
            label: {name: int(((labels == index) & (levels == name)).sum()) for name in RISK_LEVELS}
            for index, label in enumerate(classes)
        },
        "mel_flagged_high": float((levels[mel] == HIGH).mean()) if mel.any() else math.nan,
        "malignant_flagged_medium_or_high": float((levels[malignant] != LOW).mean()) if malignant.any() else math.nan,
        "nv_flagged_high": float((levels[nv] == HIGH).mean()) if nv.any() else math.nan,
        "nv_flagged_medium_or_high": float((levels[nv] != LOW).mean()) if nv.any() else math.nan,
    }


def compute_metrics(
    *,
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str] = CLASSES,
    thresholds: Mapping[str, float] | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """All evaluation figures of (calibrated) probabilities against integer labels. Undefined
    values (a class absent from the data) are None."""
    classes = list(classes)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels=labels, predicted=predicted, num_classes=len(classes))
    headline = headline_metrics(probabilities=probabilities, labels=labels, classes=classes)
    metrics = {
        "n": len(labels),
        "classes": classes,
        "accuracy": float((predicted == labels).mean()),
        "balanced_accuracy": headline["balanced_accuracy"],
        "auc": {label: headline[f"auc_{label}"] for label in classes},
        "auc_malignant": headline["auc_malignant"],
        **{key: value for key, value in headline.items() if key.startswith("mel_sensitivity")},
        "per_class": per_class_metrics(matrix=matrix, classes=classes),
        "confusion_matrix": {"rows": "true class", "columns": "predicted class", "matrix": matrix.tolist()},
        "ece": expected_calibration_error(probabilities=probabilities, labels=labels),
        "ece_bins": ECE_BINS,
        "nll": float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None)).mean()),
    }
    if thresholds:
        metrics["risk_levels"] = risk_level_metrics(
            probabilities=probabilities, labels=labels, classes=classes, thresholds=thresholds
        )
    if n_bootstrap > 0:
        metrics["confidence_intervals"] = bootstrap_intervals(
            probabilities=probabilities, labels=labels, classes=classes, n_bootstrap=n_bootstrap, seed=seed
        )
        metrics["bootstrap"] = {"resamples": n_bootstrap, "seed": seed, "method": "percentile, resampling images"}
    return json_safe(metrics)


def source_summary(*, probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy per source repository: sources differ in resolution and class mix, so a gap
    between them hints at shortcut learning."""
    predicted = probabilities.argmax(axis=1)
    return {
        "n": len(labels),
        "classes": {label: int((labels == index).sum()) for index, label in enumerate(classes)},
        "accuracy": float((predicted == labels).mean()),
        "balanced_accuracy": balanced_accuracy(labels=labels, predicted=predicted, num_classes=len(classes)),
    }


def wilson_interval(successes: int, n: int, *, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
