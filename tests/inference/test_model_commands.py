"""The train_model and evaluate_model commands: thin adapters over skinml.train and
skinml.evaluate that find the registered ModelVersion and store the metrics on it."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError

from inference import selectors
from inference.models import ModelVersion
from skinml.card import validated_card
from skinml.classes import CLASSES
from skinml.preprocessing import PREPROCESSING_ID

from ..conftest import model_version_from_dir
from ..skinml.tiny_data import tiny_dataset

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_train_then_evaluate_end_to_end(tmp_path, settings):
    folder, labels, metadata = tiny_dataset(tmp_path)
    output = tmp_path / "out" / "tiny-0.0.1.keras"
    call_command(
        "train_model",
        images=folder,
        labels=labels,
        metadata=metadata,
        output=output,
        name="tiny",
        model_version="0.0.1",
        image_size=64,
        alpha=0.35,
        head_epochs=1,
        fine_tune_epochs=1,
        batch_size=8,
        seed=3,
        eager=True,
        verbosity=0,
    )
    for suffix in (".keras", ".tflite", ".card.json", ".card.md"):
        assert output.with_suffix(suffix).is_file(), suffix
    card = json.loads(output.with_suffix(".card.json").read_text())
    validated_card(card, source=output)
    assert card["classes"] == list(CLASSES)
    assert card["preprocessing"] == PREPROCESSING_ID and card["input_size"] == 64
    assert card["temperature"] > 0
    assert 0 <= card["thresholds"]["medium"] <= card["thresholds"]["high"] <= 1
    assert sum(card["split"]["sizes"].values()) == 30
    assert card["split"]["sizes"]["test"] == len(card["split"]["test_ids"])
    assert card["data"]["splits"]["train"]["sources"].keys() <= {"owner0/repo", "owner1/repo"}
    assert "validation" in card["metrics"]
    assert [phase["phase"] for phase in card["training"]["phases"]] == ["head", "fine-tune"]

    # Evaluate the file on every image, writing the metrics into the card.
    report = tmp_path / "report"
    call_command(
        "evaluate_model", str(output), images=folder, labels=labels, output_dir=report, bootstrap=20, update_card=True
    )
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n"] == 30 and set(metrics["auc"]) == set(CLASSES)
    for figure in ("roc.png", "confusion_matrix.png", "reliability.png"):
        assert (report / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(output.with_suffix(".card.json").read_text())["metrics"]["all"]["n"] == 30

    # As a registered version (recorded as registration does, minus its slow parity check),
    # evaluated on its card's test split: the metrics are stored on the version.
    settings.SKINPORTAL_MODELS_DIR = output.parent
    version = model_version_from_dir(output.parent)
    call_command(
        "evaluate_model",
        "tiny:0.0.1",
        images=folder,
        labels=labels,
        split="test",
        output_dir=tmp_path / "r2",
        bootstrap=0,
    )
    version = ModelVersion.objects.get(pk=version.pk)
    assert version.metrics["test"]["n"] == len(card["split"]["test_ids"])
    assert "validation" in version.metrics  # the card's metrics stay


def test_train_model_refuses_an_output_that_is_not_keras(tmp_path):
    with pytest.raises(CommandError, match=r"--output must end in \.keras"):
        call_command("train_model", images=tmp_path, labels=tmp_path / "l.csv", output=tmp_path / "m.h5")


def test_train_model_reports_too_few_images(tmp_path):
    folder, labels, _ = tiny_dataset(tmp_path)
    with pytest.raises(CommandError, match="too few labelled images"):
        call_command("train_model", images=folder, labels=labels, output=tmp_path / "m.keras", max_images=5)


# evaluate_model on the test model -----------------------------------------------------------


@pytest.fixture
def model_copy(models_dir, tmp_path):
    """A copy of the test model (with card and LiteRT export) outside the models folder."""
    folder = tmp_path / "candidate"
    shutil.copytree(models_dir, folder)
    return next(folder.glob("*.keras"))


@pytest.fixture
def data_dir(tmp_path):
    """The tiny labelled folder, in ``tmp_path / "data"``."""
    (tmp_path / "data").mkdir()
    tiny_dataset(tmp_path / "data")
    return tmp_path / "data"


def _evaluate(model: str, tmp_path, *args, **options) -> dict:
    """Run evaluate_model on the tiny folder (``data_dir``); the metrics it wrote."""
    data = tmp_path / "data"
    report = tmp_path / "report"
    call_command(
        "evaluate_model",
        model,
        *args,
        images=data / "images",
        labels=data / "labels.csv",
        output_dir=report,
        bootstrap=0,
        **options,
    )
    return json.loads((report / "metrics.json").read_text())


def test_metrics_of_a_registered_file_are_stored_on_its_version(model_version, model_copy, data_dir, tmp_path, capsys):
    metrics = _evaluate(str(model_copy), tmp_path, metrics_key="tiny")
    assert ModelVersion.objects.get(pk=model_version.pk).metrics["tiny"] == metrics
    out = capsys.readouterr().out
    assert f"Stored the metrics on {model_version} under 'tiny'" in out
    assert out.rstrip().splitlines()[-1].startswith("n=30 balanced accuracy ")


def test_a_file_other_than_the_registered_one_gets_no_metrics(model_version, model_copy, data_dir, tmp_path):
    ModelVersion.objects.filter(pk=model_version.pk).update(sha256="0" * 64)
    _evaluate(str(model_copy), tmp_path)
    assert "all" not in ModelVersion.objects.get(pk=model_version.pk).metrics


def test_no_store_does_not_look_the_version_up(model_version, model_copy, data_dir, tmp_path, monkeypatch):
    def fail(**kwargs):
        raise AssertionError("looked up")

    monkeypatch.setattr(selectors, "model_version_by_name", fail)
    _evaluate(str(model_copy), tmp_path, "--no-store")
    assert "all" not in ModelVersion.objects.get(pk=model_version.pk).metrics


def test_a_database_error_is_reported_and_the_file_still_evaluated(model_copy, data_dir, tmp_path, monkeypatch, capsys):
    def unreachable(**kwargs):
        raise DatabaseError("the database is unreachable")

    monkeypatch.setattr(selectors, "model_version_by_name", unreachable)
    metrics = _evaluate(str(model_copy), tmp_path)
    assert metrics["n"] == 30
    assert (
        "Could not look up test-mobilenetv2 0.1.0 in the database (DatabaseError: the database is unreachable); "
        "the metrics will not be stored on a model version." in capsys.readouterr().err
    )


def test_an_unknown_model_is_a_command_error(data_dir, tmp_path):
    with pytest.raises(CommandError, match=r"'nothing:1\.0' is neither a \.keras file nor a registered name:version"):
        _evaluate("nothing:1.0", tmp_path)
    with pytest.raises(CommandError, match=r"missing\.keras does not exist"):
        _evaluate(str(tmp_path / "missing.keras"), tmp_path)


def test_update_card_of_a_version_without_card_file_is_a_command_error(model_version, data_dir, tmp_path, settings):
    models = tmp_path / "no-card"
    shutil.copytree(settings.SKINPORTAL_MODELS_DIR, models)
    next(models.glob("*.card.json")).unlink()
    settings.SKINPORTAL_MODELS_DIR = models
    with pytest.raises(CommandError, match="no card file to update"):
        _evaluate(f"{model_version.name}:{model_version.version}", tmp_path, "--update-card")
    assert "all" in ModelVersion.objects.get(pk=model_version.pk).metrics  # stored before the card was tried
