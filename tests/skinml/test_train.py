"""Training end to end on tiny generated images, then evaluating the files it wrote: no
database, no Django."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from skinml.card import validated_card
from skinml.classes import CLASSES
from skinml.engine import LiteRTEngine, sha256_of_file
from skinml.evaluate import add_metrics_to_card, evaluate, target_from_keras_path
from skinml.ood import OODStatistics
from skinml.preprocessing import PREPROCESSING_ID
from skinml.quality_fit import fit_for_existing_model
from skinml.train import TrainingConfig, train

from .tiny_data import tiny_dataset


@pytest.mark.slow
def test_train_then_evaluate_end_to_end(tmp_path):
    folder, labels, metadata = tiny_dataset(tmp_path)
    output = tmp_path / "out" / "tiny-0.0.1.keras"
    config = TrainingConfig(
        images=folder,
        labels=labels,
        metadata=metadata,
        output=output,
        name="tiny",
        version="0.0.1",
        image_size=64,
        alpha=0.35,
        head_epochs=1,
        fine_tune_epochs=1,
        batch_size=8,
        seed=3,
        run_eagerly=True,
        verbose=0,
    )
    lines: list[str] = []
    result = train(config=config, log=lines.append)

    assert (result.keras_path, result.runtime_path, result.card_path) == (
        output,
        output.with_suffix(".tflite"),
        output.with_suffix(".card.json"),
    )
    for suffix in (".keras", ".tflite", ".card.json", ".card.md"):
        assert output.with_suffix(suffix).is_file(), suffix
    card = json.loads(output.with_suffix(".card.json").read_text())
    assert card == result.card
    validated_card(card, source=output)
    assert card["classes"] == list(CLASSES)
    assert card["preprocessing"] == PREPROCESSING_ID and card["input_size"] == 64
    assert card["temperature"] > 0
    assert 0 <= card["thresholds"]["medium"] <= card["thresholds"]["high"] <= 1
    assert sum(card["split"]["sizes"].values()) == 30
    assert card["split"]["sizes"]["test"] == len(card["split"]["test_ids"])
    assert card["data"]["splits"]["train"]["sources"].keys() <= {"owner0/repo", "owner1/repo"}
    assert card["data"]["images"] == 30 and card["data"]["groups"] == 24  # 12 images in 6 lesions
    assert "validation" in card["metrics"]
    assert card["metrics"]["validation"]["n"] == card["split"]["sizes"]["validation"]
    assert card["calibration"]["validation_ece_after"] == round(card["metrics"]["validation"]["ece"], 5)
    assert card["hyperparameters"]["init_weights"] == "random"
    assert [phase["phase"] for phase in card["training"]["phases"]] == ["head", "fine-tune"]
    quality = card["quality"]
    ood_file = output.with_name(quality["statistics_file"])
    assert ood_file == output.with_suffix(".ood.npz") and quality["statistics_sha256"] == sha256_of_file(ood_file)
    statistics = OODStatistics.load(ood_file)
    assert set(statistics.thresholds) == {"energy", "mahalanobis"} and statistics.dimensions == 1280
    assert set(quality["ood_flag_rates"]) == {"train", "validation", "test"}
    assert quality["ood_flag_rates"]["validation"]["energy_rejected"] <= 0.05 + 1e-9
    assert LiteRTEngine(result.runtime_path).run(np.zeros((64, 64, 3), np.float32)).features.shape == (1280,)
    assert lines[0] == f"30 labelled images found (0 labelled ids have no file in {folder})"
    assert lines[-1].startswith(f"Wrote {output}, tiny-0.0.1.tflite, tiny-0.0.1.card.json in ")

    # Evaluate the files on every image, writing the metrics into the card.
    report = tmp_path / "report"
    target = target_from_keras_path(output)
    metrics = evaluate(target=target, images_dir=folder, labels_path=labels, output_dir=report, n_bootstrap=20)
    add_metrics_to_card(card_path=target.card_path, key="all", metrics=metrics)
    assert json.loads((report / "metrics.json").read_text()) == metrics
    assert metrics["n"] == 30 and set(metrics["auc"]) == set(CLASSES)
    assert set(metrics["by_source"]) == {"owner0/repo", "owner1/repo"}
    assert metrics["evaluated"]["split"] == "all" and metrics["evaluated"]["runtime"] == "LiteRT (.tflite export)"
    for figure in ("roc.png", "confusion_matrix.png", "reliability.png"):
        assert (report / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (report / "predictions.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["image", "label", *CLASSES] and len(rows) == 31
    updated = json.loads(output.with_suffix(".card.json").read_text())
    assert updated["metrics"]["all"]["n"] == 30
    assert "## Metrics: all" in output.with_suffix(".card.md").read_text()

    # Only the card's held-out test ids.
    metrics = evaluate(
        target=target_from_keras_path(output),
        images_dir=folder,
        labels_path=labels,
        output_dir=tmp_path / "r2",
        split="test",
        n_bootstrap=0,
    )
    assert metrics["n"] == len(card["split"]["test_ids"])
    assert "confidence_intervals" not in metrics

    # The gate fitted afterwards for the trained model, in another folder, from its card's split.
    refit = tmp_path / "refit"
    card_path = fit_for_existing_model(output, folder, labels, output_dir=refit, log=lines.append)
    assert "Recomputed the card's split: " in "\n".join(lines)
    refitted = json.loads(card_path.read_text())
    for score, levels in card["quality"]["ood_thresholds"].items():
        assert refitted["quality"]["ood_thresholds"][score] == pytest.approx(levels, rel=1e-4)
    assert (refit / "tiny-0.0.1.tflite").is_file() and (refit / "tiny-0.0.1.ood.npz").is_file()


def test_too_few_images_are_refused_before_any_training(tmp_path):
    folder, labels, _ = tiny_dataset(tmp_path)
    config = TrainingConfig(images=folder, labels=labels, output=tmp_path / "x.keras", max_images=8)
    with pytest.raises(ValueError, match="too few labelled images"):
        train(config=config, log=lambda line: None)
