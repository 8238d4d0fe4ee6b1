"""Evaluating a classifier: the metrics (NumPy only, checked against the ISIC challenge's own
scoring package in the tests), bootstrap confidence intervals, figures, and the run of an
exported model over a labelled image folder.

The model is run with the LiteRT export (``<model>.tflite``), the file the workers serve, with
the card's temperature, so the numbers describe what the application actually computes.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models import CLASSES, MALIGNANT_CLASSES
from .preprocessing import preprocess

ECE_BINS = 15
SPECIFICITY_LEVELS = (0.80, 0.90)

Log = Callable[[str], None]


# Metrics -------------------------------------------------------------------------------


def softmax_rows(logits: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax(logits / T) of an (n, classes) array."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def negative_log_likelihood(*, logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(labels)), np.asarray(labels, dtype=int)].mean())


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


def expected_calibration_error(*, probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE with equal-width confidence bins: Σ_b (n_b / n) |accuracy_b - confidence_b|."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)  # bin b holds (b/B, (b+1)/B]
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def reliability_bins(*, probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    return [
        {
            "lower": b / bins,
            "upper": (b + 1) / bins,
            "count": int((index == b).sum()),
            "confidence": float(confidence[index == b].mean()) if (index == b).any() else None,
            "accuracy": float(correct[index == b].mean()) if (index == b).any() else None,
        }
        for b in range(bins)
    ]


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


def _headline(probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """The figures that get bootstrap intervals."""
    mel = classes.index("MEL")
    malignant_score = probabilities[:, [classes.index(c) for c in MALIGNANT_CLASSES]].sum(axis=1)
    values = {
        "balanced_accuracy": balanced_accuracy(
            labels=labels, predicted=probabilities.argmax(axis=1), num_classes=len(classes)
        ),
        **{
            f"auc_{label}": roc_auc(scores=probabilities[:, index], positives=labels == index)
            for index, label in enumerate(classes)
        },
        "auc_malignant": roc_auc(scores=malignant_score, positives=labels != classes.index("NV")),
    }
    for level in SPECIFICITY_LEVELS:
        values[f"mel_sensitivity_at_{round(level * 100)}_specificity"] = sensitivity_at_specificity(
            scores=probabilities[:, mel], positives=labels == mel, specificity=level
        )
    return values


def bootstrap_intervals(
    *, probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str], n_bootstrap: int, seed: int
) -> dict[str, list[float | None]]:
    """Percentile 95% intervals of the headline figures over ``n_bootstrap`` resamples of the
    images (with replacement, seeded). A resample lacking a class is left out of that figure."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_bootstrap):
        index = rng.integers(0, len(labels), len(labels))
        for key, value in _headline(probabilities[index], labels[index], classes).items():
            samples.setdefault(key, []).append(value)
    intervals = {}
    for key, values in samples.items():
        finite = np.asarray(values)[np.isfinite(values)]
        intervals[key] = (
            [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))] if len(finite) else None
        )
    return intervals


def _clean(value):
    """JSON-safe: NaN and infinities become None, NumPy scalars plain numbers."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _source_summary(probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy per source repository: sources differ in resolution and class mix, so a gap
    between them hints at shortcut learning."""
    predicted = probabilities.argmax(axis=1)
    return {
        "n": len(labels),
        "classes": {label: int((labels == index).sum()) for index, label in enumerate(classes)},
        "accuracy": float((predicted == labels).mean()),
        "balanced_accuracy": balanced_accuracy(labels=labels, predicted=predicted, num_classes=len(classes)),
    }


def compute_metrics(
    *,
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str] = CLASSES,
    thresholds: dict[str, float] | None = None,
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
    headline = _headline(probabilities, labels, classes)
    per_class = {}
    for index, label in enumerate(classes):
        tp = matrix[index, index]
        fn = matrix[index].sum() - tp
        fp = matrix[:, index].sum() - tp
        tn = matrix.sum() - tp - fn - fp
        per_class[label] = {
            "support": int(matrix[index].sum()),
            "sensitivity": tp / (tp + fn) if tp + fn else math.nan,
            "specificity": tn / (tn + fp) if tn + fp else math.nan,
        }
    metrics = {
        "n": len(labels),
        "classes": classes,
        "accuracy": float((predicted == labels).mean()),
        "balanced_accuracy": headline["balanced_accuracy"],
        "auc": {label: headline[f"auc_{label}"] for label in classes},
        "auc_malignant": headline["auc_malignant"],
        **{key: value for key, value in headline.items() if key.startswith("mel_sensitivity")},
        "per_class": per_class,
        "confusion_matrix": {"rows": "true class", "columns": "predicted class", "matrix": matrix.tolist()},
        "ece": expected_calibration_error(probabilities=probabilities, labels=labels),
        "ece_bins": ECE_BINS,
        "nll": float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None)).mean()),
    }
    if thresholds:
        score = probabilities[:, [classes.index(c) for c in MALIGNANT_CLASSES]].sum(axis=1)
        level = np.where(score >= thresholds["high"], 2, np.where(score >= thresholds["medium"], 1, 0))
        by_class = {
            label: {
                name: int(((labels == index) & (level == value)).sum())
                for value, name in enumerate(("low", "medium", "high"))
            }
            for index, label in enumerate(classes)
        }
        mel = labels == classes.index("MEL")
        malignant = labels != classes.index("NV")
        metrics["risk_levels"] = {
            "thresholds": dict(thresholds),
            "counts_by_true_class": by_class,
            "mel_flagged_high": float((level[mel] == 2).mean()) if mel.any() else math.nan,
            "malignant_flagged_medium_or_high": float((level[malignant] >= 1).mean()) if malignant.any() else math.nan,
            "nv_flagged_high": float((level[~malignant] == 2).mean()) if (~malignant).any() else math.nan,
            "nv_flagged_medium_or_high": float((level[~malignant] >= 1).mean()) if (~malignant).any() else math.nan,
        }
    if n_bootstrap > 0:
        metrics["confidence_intervals"] = bootstrap_intervals(
            probabilities=probabilities, labels=labels, classes=classes, n_bootstrap=n_bootstrap, seed=seed
        )
        metrics["bootstrap"] = {"resamples": n_bootstrap, "seed": seed, "method": "percentile, resampling images"}
    return _clean(metrics)


# Figures -------------------------------------------------------------------------------


def write_figures(
    *, probabilities: np.ndarray, labels: np.ndarray, metrics: dict, output_dir: Path, title: str
) -> list[Path]:
    """roc.png (one-vs-rest ROC of every class), confusion_matrix.png, reliability.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    classes = metrics["classes"]
    intervals = metrics.get("confidence_intervals", {})
    paths = []

    figure, axis = plt.subplots(figsize=(5.5, 5))
    for index, label in enumerate(classes):
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
    paths.append(output_dir / "roc.png")

    figure.tight_layout()
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)

    matrix = np.asarray(metrics["confusion_matrix"]["matrix"])
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
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
    paths.append(output_dir / "confusion_matrix.png")
    figure.tight_layout()
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)

    bins = reliability_bins(probabilities=probabilities, labels=labels)
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
    paths.append(output_dir / "reliability.png")
    figure.tight_layout()
    figure.savefig(paths[-1], dpi=120)
    plt.close(figure)
    return paths


# Running a model over a folder -----------------------------------------------------------


@dataclass(frozen=True)
class EvaluationTarget:
    card: dict
    runtime_path: Path
    card_path: Path | None
    model_version: object | None  # inference.models.ModelVersion


def resolve_model(*, model: str) -> EvaluationTarget:
    """A ``.keras`` path (card and LiteRT export beside it) or ``name:version`` of a registered
    ModelVersion. A path whose card names a registered version with the same file gets that
    version too, so its metrics can be stored."""
    from django.db import DatabaseError

    from .engine import models_dir, sha256_of_file, verified_path
    from .models import ModelVersion
    from .selectors import model_version_by_name
    from .services import card_path_for, runtime_path_for

    path = Path(model)
    if path.suffix == ".keras" or path.exists():
        card_path = card_path_for(path)
        runtime_path = runtime_path_for(path)
        for required in (path, card_path, runtime_path):
            if not required.is_file():
                raise FileNotFoundError(f"{required} does not exist")
        card = json.loads(card_path.read_text())
        try:
            version = ModelVersion.objects.filter(name=card["name"], version=card["version"]).first()
        except DatabaseError:
            version = None
        if version is not None and version.sha256 != sha256_of_file(path):
            version = None
        return EvaluationTarget(card=card, runtime_path=runtime_path, card_path=card_path, model_version=version)
    version = model_version_by_name(reference=model)
    if version is None:
        raise LookupError(f"{model!r} is neither a .keras file nor a registered name:version")
    runtime_path = verified_path(version.runtime_file, sha256=version.runtime_sha256)
    card_path = card_path_for(models_dir() / version.file)
    return EvaluationTarget(
        card=dict(version.card) or json.loads(card_path.read_text()),
        runtime_path=runtime_path,
        card_path=card_path if card_path.is_file() else None,
        model_version=version,
    )


def predict_logits(*, runtime_path: Path, paths: Sequence[Path], input_size: int, num_threads: int = 2) -> np.ndarray:
    """Logits of every image by the LiteRT export, after the one preprocessing function."""
    from .engine import LiteRTEngine

    engine = LiteRTEngine(runtime_path, num_threads=num_threads)
    if engine.input_size != input_size:
        raise ValueError(f"{runtime_path} takes {engine.input_size} px, the card says {input_size}")
    return np.stack([engine.run(preprocess(Path(p).read_bytes(), size=input_size)).logits for p in paths]).astype(
        np.float64
    )


def evaluate(
    *,
    model: str,
    images_dir: Path,
    labels_path: Path,
    output_dir: Path,
    split: str = "all",
    n_bootstrap: int = 1000,
    seed: int = 0,
    num_threads: int = 2,
    update_card: bool = False,
    store: bool = True,
    metrics_key: str | None = None,
    log: Log = print,
) -> dict:
    """Evaluate a model on a labelled folder (optionally only the card's recorded validation or
    test ids), write metrics.json, predictions.csv and the figures to ``output_dir``; store the
    metrics on the registered ModelVersion (under ``metrics_key``, default the split's name) and,
    with ``update_card``, in the card."""
    from .services import model_version_set_metrics
    from .training import find_image_files, read_labels, source_repository, write_card

    target = resolve_model(model=model)
    card = target.card
    classes = list(card["classes"])
    labelled = {item.image_id: item for item in read_labels(path=labels_path)}
    if split != "all":
        wanted = card.get("split", {}).get(f"{split}_ids")
        if wanted is None:
            raise ValueError(f"the model card records no {split} ids")
        missing_labels = [i for i in wanted if i not in labelled]
        if missing_labels:
            log(f"{len(missing_labels)} of the {len(wanted)} {split} ids have no label in {labels_path}")
        labelled = {i: labelled[i] for i in wanted if i in labelled}
    files = find_image_files(images_dir=images_dir, image_ids=sorted(labelled))
    if len(files) < len(labelled):
        log(f"{len(labelled) - len(files)} labelled images have no file in {images_dir}; they are left out")
    ids = sorted(files)
    if not ids:
        raise ValueError("no labelled image to evaluate")
    log(
        f"Evaluating {card['name']} {card['version']} (LiteRT, T={card.get('temperature', 1.0):.3f}) "
        f"on {len(ids)} images"
    )
    logits = predict_logits(
        runtime_path=target.runtime_path,
        paths=[files[i] for i in ids],
        input_size=int(card["input_size"]),
        num_threads=num_threads,
    )
    labels = np.array([classes.index(labelled[i].label) for i in ids])
    temperature = float(card.get("temperature", 1.0))
    probabilities = softmax_rows(logits, temperature=temperature)
    metrics = compute_metrics(
        probabilities=probabilities,
        labels=labels,
        classes=classes,
        thresholds=card.get("thresholds"),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    sources = [source_repository(labelled[i].source) for i in ids]
    metrics["by_source"] = {
        source: _source_summary(probabilities[mask], labels[mask], classes)
        for source in sorted(set(sources))
        for mask in [np.array(sources) == source]
    }
    metrics["evaluated"] = {
        "model": f"{card['name']} {card['version']}",
        "runtime": "LiteRT (.tflite export)",
        "temperature": temperature,
        "split": split,
        "images_dir": str(images_dir),
        "labels": str(labels_path),
    }
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    with (output_dir / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", *classes])
        for image_id, label, row in zip(ids, labels, probabilities, strict=True):
            writer.writerow([image_id, classes[label], *(f"{p:.6f}" for p in row)])
    figures = write_figures(
        probabilities=probabilities, labels=labels, metrics=metrics, output_dir=output_dir, title=f"{split} split"
    )
    log(f"Wrote {output_dir / 'metrics.json'}, predictions.csv and {', '.join(p.name for p in figures)}")

    key = metrics_key or split
    if store and target.model_version is not None:
        version = target.model_version
        model_version_set_metrics(model_version=version, metrics={**(version.metrics or {}), key: metrics})
        log(f"Stored the metrics on {version} under {key!r}")
    if update_card:
        if target.card_path is None:
            raise FileNotFoundError("no card file to update")
        updated = json.loads(target.card_path.read_text())
        updated.setdefault("metrics", {})[key] = metrics
        write_card(card=updated, path=target.card_path)
        log(f"Updated {target.card_path} (metrics[{key!r}])")
    return metrics
