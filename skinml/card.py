"""The model card (``<model>.card.json`` beside ``<model>.keras``, with the LiteRT export
``<model>.tflite``): where it lives, what it must say for this code to serve the model, the
check that the export reproduces the Keras model, and its JSON and Markdown files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .classes import CLASSES
from .engine import LiteRTEngine, normalised_cam, softmax
from .preprocessing import PREPROCESSING_ID

#: The LiteRT export must agree with the Keras Grad-CAM reference to these tolerances.
PROBABILITY_TOLERANCE = 1e-4
MAP_TOLERANCE = 1e-2

REQUIRED_FIELDS = ("name", "version", "architecture", "input_size", "classes", "preprocessing", "gradcam_layer")


class CardError(ValueError):
    """A model card that this code cannot serve (missing fields, other classes or preprocessing)."""


class RuntimeMismatchError(ValueError):
    """A LiteRT export that does not reproduce its Keras model."""


def card_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".card.json")


def runtime_path_for(model_path: Path) -> Path:
    return model_path.with_suffix(".tflite")


def validated_card(card: dict, *, source: Path) -> dict:
    """``card`` itself if this code can serve the model it describes; CardError otherwise."""

    def fail(message: str):
        raise CardError(f"Model card {source}: {message}")

    missing = [key for key in (*REQUIRED_FIELDS, "thresholds") if key not in card]
    if missing:
        fail(f"missing {', '.join(missing)}.")
    if sorted(card["classes"]) != sorted(CLASSES):
        fail(f"classes must be {', '.join(CLASSES)} in the model's output order, not {card['classes']}.")
    if card["preprocessing"] != PREPROCESSING_ID:
        fail(f"preprocessing {card['preprocessing']!r} is not this code's {PREPROCESSING_ID!r}.")
    thresholds = card["thresholds"]
    if not (0.0 <= thresholds.get("medium", -1) <= thresholds.get("high", -1) <= 1.0):
        fail('thresholds must be {"medium": t1, "high": t2} with 0 <= t1 <= t2 <= 1.')
    if float(card.get("temperature", 1.0)) <= 0:
        fail("temperature must be positive.")
    return card


def check_runtime_matches_keras(*, keras_path: Path, runtime_path: Path, card: dict) -> None:
    """Refuse (RuntimeMismatchError) a runtime export that does not reproduce the Keras model:
    probabilities and every class's map on two random inputs. Imports TensorFlow."""
    from . import keras_model

    reference = keras_model.GradCamReference(keras_model.load_classifier(keras_path))
    engine = LiteRTEngine(runtime_path, num_threads=1)
    rng = np.random.default_rng(0)
    size = int(card["input_size"])
    temperature = float(card.get("temperature", 1.0))
    for _ in range(2):
        probe = rng.uniform(-1.0, 1.0, (size, size, 3)).astype(np.float32)
        output = engine.run(probe)
        for class_index in range(len(card["classes"])):
            logits, reference_cam = reference(probe, class_index)
            probability_error = np.abs(
                softmax(output.logits, temperature=temperature) - softmax(logits, temperature=temperature)
            ).max()
            map_error = np.abs(normalised_cam(output.class_maps, class_index) - reference_cam).max()
            if probability_error > PROBABILITY_TOLERANCE or map_error > MAP_TOLERANCE:
                raise RuntimeMismatchError(
                    f"{runtime_path} does not reproduce {keras_path}: probabilities differ by {probability_error:.2e}, "
                    f"maps by {map_error:.2e}."
                )


def write_card(*, card: dict, path: Path) -> None:
    """Write the card JSON and its Markdown rendering (``<name>.card.md``) beside it."""
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    path.with_suffix(".md").write_text(card_markdown(card))


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _metrics_markdown(metrics: dict) -> list[str]:
    lines = ["| metric | value | 95% CI |", "| --- | --- | --- |"]
    intervals = metrics.get("confidence_intervals", {})

    def row(label: str, key: str, value) -> None:
        interval = intervals.get(key)
        ci = f"{_fmt(interval[0])} – {_fmt(interval[1])}" if interval else ""
        lines.append(f"| {label} | {_fmt(value)} | {ci} |")

    row("images", "n", metrics.get("n"))
    row("balanced accuracy", "balanced_accuracy", metrics.get("balanced_accuracy"))
    for label in metrics.get("classes", CLASSES):
        row(f"AUC {label} vs rest", f"auc_{label}", metrics.get("auc", {}).get(label))
    row("AUC malignant (MEL+BCC) vs NV (= NV vs rest)", "auc_malignant", metrics.get("auc_malignant"))
    for level in ("80", "90"):
        key = f"mel_sensitivity_at_{level}_specificity"
        row(f"MEL sensitivity at {level}% specificity", key, metrics.get(key))
    row("expected calibration error (15 bins)", "ece", metrics.get("ece"))
    return lines


def _summary_markdown(card: dict) -> list[str]:
    lines = [
        f"# Model card: {card['name']} {card['version']}",
        "",
        f"- Architecture: {card['architecture']}",
        f"- Input: {card['input_size']}×{card['input_size']} RGB, preprocessing `{card['preprocessing']}`",
        f"- Classes (output order): {', '.join(card['classes'])}; Grad-CAM layer `{card['gradcam_layer']}`",
        f"- Temperature: {card.get('temperature', 1.0):.3f} (probabilities = softmax(logits / T))",
        f"- Thresholds on P(BCC)+P(MEL): medium {card['thresholds']['medium']:.4f}, "
        f"high {card['thresholds']['high']:.4f}",
    ]
    for key in ("high", "medium"):
        if key in card.get("threshold_rule", {}):
            lines.append(f"  - {card['threshold_rule'][key]}")
    if "intended_use" in card:
        lines += ["", f"**Intended use:** {card['intended_use']} {card.get('licence', '')}".rstrip()]
    return lines


def _data_markdown(card: dict) -> list[str]:
    split = card.get("split", {})
    splits = card["data"]["splits"]
    lines = [
        "",
        "## Data",
        "",
        f"Split seed {split.get('seed')}, {split.get('method', '')}.",
        "",
        "| split | images | BCC | MEL | NV |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, summary in splits.items():
        counts = summary["classes"]
        lines.append(f"| {name} | {summary['images']} | {counts['BCC']} | {counts['MEL']} | {counts['NV']} |")
    lines += ["", "Per source repository (BCC / MEL / NV):", "", "| source | " + " | ".join(splits) + " |"]
    lines.append("| --- |" + " --- |" * len(splits))
    sources = sorted({s for summary in splits.values() for s in summary["sources"]})
    for source in sources:
        cells = []
        for summary in splits.values():
            counts = summary["sources"].get(source, dict.fromkeys(CLASSES, 0))
            cells.append(" / ".join(str(counts[c]) for c in CLASSES))
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return lines


def _training_markdown(card: dict) -> list[str]:
    lines = ["", "## Training", ""]
    lines += [f"- {key}: {value}" for key, value in card["hyperparameters"].items()]
    if "training" in card:
        lines.append(f"- training time: {card['training']['seconds'] / 60:.1f} min")
        for phase in card["training"]["phases"]:
            lines.append(
                f"- phase {phase['phase']}: {phase['epochs_run']} epochs, best {phase['best_epoch']}, "
                f"{phase['seconds'] / 60:.1f} min"
            )
    return lines


def card_markdown(card: dict) -> str:
    """A short human-readable rendering of a model card."""
    lines = _summary_markdown(card)
    if "data" in card:
        lines += _data_markdown(card)
    if "hyperparameters" in card:
        lines += _training_markdown(card)
    for name, metrics in card.get("metrics", {}).items():
        if isinstance(metrics, dict) and "balanced_accuracy" in metrics:
            lines += ["", f"## Metrics: {name}", "", *_metrics_markdown(metrics)]
    if "quality" in card:
        lines += _quality_markdown(card["quality"])
    return "\n".join(lines) + "\n"


def _quality_markdown(quality: dict) -> list[str]:
    """The quality gate: its out-of-scope thresholds, how often it flags good images per split,
    and (once ``evaluate_quality`` has run) how often it catches each kind of bad image."""
    lines = ["", "## Quality gate", "", quality.get("method", ""), ""]
    lines += ["| score | rejected above |", "| --- | --- |"]
    lines += [f"| {name} | {_fmt(levels['rejected'])} |" for name, levels in quality.get("ood_thresholds", {}).items()]
    lines += ["", "| split | images | rejected by the gate | warning or worse |", "| --- | --- | --- | --- |"]
    for split, rates in quality.get("ood_flag_rates", {}).items():
        rejected = rates.get("gate_rejected", rates.get("rejected"))
        warned = rates.get("gate_warning_or_worse", rates.get("warning_or_worse"))
        lines.append(f"| {split} | {rates.get('images')} | {_fmt(rejected)} | {_fmt(warned)} |")
    evaluation = quality.get("evaluation")
    if evaluation:
        lines += ["", "| kind of image | images | rejected | warning or worse |", "| --- | --- | --- | --- |"]
        for kind, figures in evaluation.get("kinds", {}).items():
            lines.append(
                f"| {kind.replace('_', ' ')} | {figures.get('images')} | {_fmt(figures.get('rejected'))} "
                f"| {_fmt(figures.get('warning_or_worse'))} |"
            )
    return lines
