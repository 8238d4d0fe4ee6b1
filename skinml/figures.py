"""The evaluation figures: one-vs-rest ROC curves, the confusion matrix and the reliability
diagram (matplotlib, without a display)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .calibration import reliability_bins
from .metrics import SPECIFICITY_LEVELS


def write_figures(
    *, probabilities: np.ndarray, labels: np.ndarray, metrics: dict, output_dir: Path, title: str
) -> list[Path]:
    """roc.png (one-vs-rest ROC of every class), confusion_matrix.png, reliability.png."""
    plt = _pyplot()
    paths = []
    drawings = (("roc.png", _roc), ("confusion_matrix.png", _confusion_matrix), ("reliability.png", _reliability))
    for name, draw in drawings:
        figure = draw(probabilities=probabilities, labels=labels, metrics=metrics, title=title)
        paths.append(output_dir / name)
        figure.tight_layout()
        figure.savefig(paths[-1], dpi=120)
        plt.close(figure)
    return paths


def _pyplot():
    """matplotlib.pyplot without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _roc(*, probabilities: np.ndarray, labels: np.ndarray, metrics: dict, title: str):
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    intervals = metrics.get("confidence_intervals", {})
    figure, axis = plt.subplots(figsize=(5.5, 5))
    for index, label in enumerate(metrics["classes"]):
        positives = labels == index
        if positives.all() or not positives.any():
            continue
        fpr, tpr, _ = roc_curve(positives, probabilities[:, index])
        interval = intervals.get(f"auc_{label}")
        ci = f" [{interval[0]:.3f}–{interval[1]:.3f}]" if interval else ""
        axis.plot(fpr, tpr, label=f"{label} vs rest: AUC {metrics['auc'][label]:.3f}{ci}")
    for level in SPECIFICITY_LEVELS:
        value = metrics.get(f"mel_sensitivity_at_{round(level * 100)}_specificity")
        if value is not None:
            axis.plot([1 - level], [value], "k^", markersize=6)
            axis.annotate(
                f"MEL sens. {value:.2f} @ spec. {level:.0%}",
                (1 - level, value),
                (6, -12),
                textcoords="offset points",
                fontsize=7,
            )
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set(xlabel="1 − specificity (false-positive rate)", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01))
    axis.set_title(f"ROC, one vs rest — {title} (n={metrics['n']})", fontsize=9)
    axis.legend(loc="lower right", fontsize=8)
    return figure


def _confusion_matrix(*, probabilities: np.ndarray, labels: np.ndarray, metrics: dict, title: str):
    classes = metrics["classes"]
    matrix = np.asarray(metrics["confusion_matrix"]["matrix"])
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(4.5, 4))
    axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for row in range(len(classes)):
        for column in range(len(classes)):
            colour = "white" if share[row, column] > 0.6 else "black"
            axis.text(
                column, row, f"{matrix[row, column]}\n{share[row, column]:.0%}", ha="center", va="center", color=colour
            )
    axis.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes)
    axis.set(xlabel="predicted class", ylabel="true class")
    axis.set_title(f"Confusion matrix — {title}", fontsize=9)
    return figure


def _reliability(*, probabilities: np.ndarray, labels: np.ndarray, metrics: dict, title: str):
    bins = reliability_bins(probabilities=probabilities, labels=labels)
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 5))
    centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
    accuracy = [b["accuracy"] or 0.0 for b in bins]
    axis.bar(centres, accuracy, width=1 / len(bins), edgecolor="black", alpha=0.7, label="accuracy")
    confidence = [(c, b["confidence"]) for c, b in zip(centres, bins, strict=True) if b["confidence"] is not None]
    axis.plot(*zip(*confidence, strict=True), "o", color="tab:red", markersize=4, label="mean confidence")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    for centre, b in zip(centres, bins, strict=True):
        if b["count"]:
            axis.text(centre, 0.02, str(b["count"]), ha="center", fontsize=6, rotation=90)
    axis.set(xlabel="confidence (top-class probability)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    axis.set_title(f"Reliability — {title}; ECE {metrics['ece']:.3f} ({len(bins)} bins)", fontsize=9)
    axis.legend(loc="upper left", fontsize=8)
    return figure
