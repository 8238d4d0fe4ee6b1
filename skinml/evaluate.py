"""Running an exported model over a labelled image folder and writing what it scored.

The model is run with the LiteRT export (``<model>.tflite``), the file the workers serve, with
the card's temperature, so the numbers describe what the application actually computes. Which
model to evaluate is given as files (:class:`EvaluationTarget`); looking a registered version up
is the application's business.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .card import card_path_for, runtime_path_for, write_card
from .data import LabelledImage, Log, find_image_files, read_labels, source_repository
from .engine import LiteRTEngine, softmax
from .figures import write_figures
from .metrics import compute_metrics, source_summary
from .preprocessing import preprocess


@dataclass(frozen=True)
class EvaluationTarget:
    """The model to evaluate: its card, its LiteRT export, and its card file if there is one."""

    card: dict
    runtime_path: Path
    card_path: Path | None


def target_from_keras_path(path: Path) -> EvaluationTarget:
    """A ``.keras`` file with its card and LiteRT export beside it (FileNotFoundError if one is missing)."""
    path = Path(path)
    card_path = card_path_for(path)
    runtime_path = runtime_path_for(path)
    for required in (path, card_path, runtime_path):
        if not required.is_file():
            raise FileNotFoundError(f"{required} does not exist")
    return EvaluationTarget(card=json.loads(card_path.read_text()), runtime_path=runtime_path, card_path=card_path)


def predict_logits(*, runtime_path: Path, paths: Sequence[Path], input_size: int, num_threads: int = 2) -> np.ndarray:
    """Logits of every image by the LiteRT export, after the one preprocessing function."""
    engine = LiteRTEngine(runtime_path, num_threads=num_threads)
    if engine.input_size != input_size:
        raise ValueError(f"{runtime_path} takes {engine.input_size} px, the card says {input_size}")
    return np.stack([engine.run(preprocess(Path(p).read_bytes(), size=input_size)).logits for p in paths]).astype(
        np.float64
    )


def predict_probabilities(*, target: EvaluationTarget, paths: Sequence[Path], num_threads: int = 2) -> np.ndarray:
    """What the application computes for every image: softmax(logits / T) with the card's T."""
    logits = predict_logits(
        runtime_path=target.runtime_path,
        paths=paths,
        input_size=int(target.card["input_size"]),
        num_threads=num_threads,
    )
    return softmax(logits, temperature=float(target.card.get("temperature", 1.0)))


def labelled_files(
    *, card: dict, images_dir: Path, labels_path: Path, split: str, log: Log
) -> tuple[dict[str, LabelledImage], dict[str, Path]]:
    """The labelled images to evaluate (all of them, or only the card's recorded ``split`` ids)
    and the file of each one found in ``images_dir``."""
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
    if not files:
        raise ValueError("no labelled image to evaluate")
    return labelled, files


def evaluate(
    *,
    target: EvaluationTarget,
    images_dir: Path,
    labels_path: Path,
    output_dir: Path,
    split: str = "all",
    n_bootstrap: int = 1000,
    seed: int = 0,
    num_threads: int = 2,
    log: Log = print,
) -> dict:
    """Evaluate a model on a labelled folder (optionally only the card's recorded validation or
    test ids); write metrics.json, predictions.csv and the figures to ``output_dir``; return the
    metrics."""
    card = target.card
    classes = list(card["classes"])
    labelled, files = labelled_files(card=card, images_dir=images_dir, labels_path=labels_path, split=split, log=log)
    ids = sorted(files)
    log(
        f"Evaluating {card['name']} {card['version']} (LiteRT, T={card.get('temperature', 1.0):.3f}) "
        f"on {len(ids)} images"
    )
    probabilities = predict_probabilities(target=target, paths=[files[i] for i in ids], num_threads=num_threads)
    labels = np.array([classes.index(labelled[i].label) for i in ids])
    metrics = compute_metrics(
        probabilities=probabilities,
        labels=labels,
        classes=classes,
        thresholds=card.get("thresholds"),
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    metrics["by_source"] = _by_source(
        probabilities=probabilities,
        labels=labels,
        sources=[source_repository(labelled[i].source) for i in ids],
        classes=classes,
    )
    metrics["evaluated"] = {
        "model": f"{card['name']} {card['version']}",
        "runtime": "LiteRT (.tflite export)",
        "temperature": float(card.get("temperature", 1.0)),
        "split": split,
        "images_dir": str(images_dir),
        "labels": str(labels_path),
    }
    write_report(
        ids=ids,
        labels=labels,
        probabilities=probabilities,
        metrics=metrics,
        output_dir=output_dir,
        title=f"{split} split",
        log=log,
    )
    return metrics


def _by_source(*, probabilities: np.ndarray, labels: np.ndarray, sources: list[str], classes: list[str]) -> dict:
    """The summary of each source repository's images (see metrics.source_summary)."""
    return {
        source: source_summary(probabilities=probabilities[mask], labels=labels[mask], classes=classes)
        for source in sorted(set(sources))
        for mask in [np.array(sources) == source]
    }


def write_report(
    *,
    ids: Sequence[str],
    labels: np.ndarray,
    probabilities: np.ndarray,
    metrics: dict,
    output_dir: Path,
    title: str,
    log: Log,
) -> None:
    """metrics.json, predictions.csv (the probabilities of every image) and the figures."""
    classes = metrics["classes"]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    with (output_dir / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "label", *classes])
        for image_id, label, row in zip(ids, labels, probabilities, strict=True):
            writer.writerow([image_id, classes[label], *(f"{p:.6f}" for p in row)])
    figures = write_figures(
        probabilities=probabilities, labels=labels, metrics=metrics, output_dir=output_dir, title=title
    )
    log(f"Wrote {output_dir / 'metrics.json'}, predictions.csv and {', '.join(p.name for p in figures)}")


def add_metrics_to_card(*, card_path: Path | None, key: str, metrics: dict) -> None:
    """Write ``metrics`` into the card file under ``metrics[key]`` (and its Markdown again)."""
    if card_path is None:
        raise FileNotFoundError("no card file to update")
    updated = json.loads(card_path.read_text())
    updated.setdefault("metrics", {})[key] = metrics
    write_card(card=updated, path=card_path)
