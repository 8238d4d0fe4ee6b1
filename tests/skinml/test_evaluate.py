"""Evaluation over files: the target, the images chosen, the report. No database."""

from __future__ import annotations

import json
import shutil

import pytest

from skinml.evaluate import EvaluationTarget, add_metrics_to_card, evaluate, labelled_files, target_from_keras_path

from .tiny_data import tiny_dataset


def _lines():
    lines: list[str] = []
    return lines, lines.append


def test_a_model_path_needs_its_card_and_runtime_export_beside_it(tmp_path):
    keras_path = tmp_path / "m.keras"
    keras_path.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"m\.card\.json does not exist"):
        target_from_keras_path(keras_path)
    keras_path.with_suffix(".card.json").write_text('{"name": "m"}')
    with pytest.raises(FileNotFoundError, match=r"m\.tflite does not exist"):
        target_from_keras_path(keras_path)
    keras_path.with_suffix(".tflite").write_bytes(b"")
    assert target_from_keras_path(keras_path) == EvaluationTarget(
        card={"name": "m"}, runtime_path=tmp_path / "m.tflite", card_path=tmp_path / "m.card.json"
    )


def test_a_split_picks_the_card_s_ids_and_says_what_is_missing(tmp_path):
    folder, labels, _ = tiny_dataset(tmp_path)
    (folder / "ISIC_0000001.jpg").unlink()
    card = {"split": {"test_ids": ["ISIC_0000000", "ISIC_0000001", "ISIC_0000002", "ISIC_9999999"]}}
    lines, log = _lines()
    labelled, files = labelled_files(card=card, images_dir=folder, labels_path=labels, split="test", log=log)
    assert sorted(labelled) == ["ISIC_0000000", "ISIC_0000001", "ISIC_0000002"]
    assert sorted(files) == ["ISIC_0000000", "ISIC_0000002"]
    assert lines == [
        f"1 of the 4 test ids have no label in {labels}",
        f"1 labelled images have no file in {folder}; they are left out",
    ]
    with pytest.raises(ValueError, match="the model card records no validation ids"):
        labelled_files(card=card, images_dir=folder, labels_path=labels, split="validation", log=log)
    with pytest.raises(ValueError, match="no labelled image to evaluate"):
        labelled_files(card=card, images_dir=tmp_path, labels_path=labels, split="all", log=log)


def test_add_metrics_to_card_needs_a_card_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no card file to update"):
        add_metrics_to_card(card_path=None, key="test", metrics={})


@pytest.mark.slow
def test_evaluate_the_test_model_and_update_its_card(test_model_dir, tmp_path):
    folder, labels, _ = tiny_dataset(tmp_path)
    models = tmp_path / "models"
    shutil.copytree(test_model_dir, models)
    target = target_from_keras_path(next(models.glob("*.keras")))
    lines, log = _lines()
    metrics = evaluate(
        target=target, images_dir=folder, labels_path=labels, output_dir=tmp_path / "report", n_bootstrap=0, log=log
    )
    assert metrics["n"] == 30 and metrics["risk_levels"]["thresholds"] == {"medium": 0.3, "high": 0.6}
    assert metrics["evaluated"]["temperature"] == 1.0
    assert lines[0] == "Evaluating test-mobilenetv2 0.1.0 (LiteRT, T=1.000) on 30 images"
    assert lines[-1].startswith(f"Wrote {tmp_path / 'report' / 'metrics.json'}, predictions.csv and roc.png")
    add_metrics_to_card(card_path=target.card_path, key="tiny", metrics=metrics)
    assert json.loads(target.card_path.read_text())["metrics"]["tiny"] == metrics

    wrong_size = EvaluationTarget(
        card={**target.card, "input_size": 96}, runtime_path=target.runtime_path, card_path=None
    )
    with pytest.raises(ValueError, match="takes 224 px, the card says 96"):
        evaluate(target=wrong_size, images_dir=folder, labels_path=labels, output_dir=tmp_path / "r2", log=log)
