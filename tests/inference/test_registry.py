from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inference import runtime
from inference.models import DiagnosisClass, ModelVersion, RiskLevel
from skinml.engine import sha256_of_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_models_dir(settings, tmp_path):
    settings.SKINPORTAL_MODELS_DIR = tmp_path / "registered"
    return settings.SKINPORTAL_MODELS_DIR


@pytest.fixture
def candidate(test_model_dir, tmp_path):
    """A copy of the test model (with its card and LiteRT export) outside the models folder."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    keras_path = next(test_model_dir.glob("*.keras"))
    for source in (keras_path, keras_path.with_suffix(".card.json"), keras_path.with_suffix(".tflite")):
        shutil.copy(source, folder / source.name)
    return folder / keras_path.name


@pytest.mark.slow  # exports the LiteRT model and checks it against Keras
def test_register_model_exports_copies_checks_and_activates(candidate, empty_models_dir, capsys):
    candidate.with_suffix(".tflite").unlink()  # registration makes the LiteRT export itself
    call_command("register_model", str(candidate))

    version = ModelVersion.objects.get()
    assert version.is_active  # the first version becomes active
    assert (version.name, version.version, version.input_size) == ("test-mobilenetv2", "0.1.0", 224)
    assert version.class_labels == ["BCC", "MEL", "NV"]
    assert version.gradcam_layer == "out_relu" and version.preprocessing == "rgb-exif-bilinear-mobilenetv2-v1"
    assert version.thresholds == {"medium": 0.3, "high": 0.6}
    for name, digest in ((version.file, version.sha256), (version.runtime_file, version.runtime_sha256)):
        assert sha256_of_file(empty_models_dir / name) == digest
    assert "registered (active)" in capsys.readouterr().out

    with pytest.raises(CommandError, match="already registered"):
        call_command("register_model", str(candidate))
    call_command("register_model", str(candidate), "--if-new")
    assert ModelVersion.objects.count() == 1


@pytest.mark.slow  # three registrations, each checked against Keras
def test_a_second_version_is_activated_only_on_request(candidate, empty_models_dir):
    call_command("register_model", str(candidate))
    card_path = candidate.with_suffix(".card.json")
    for version, activate in (("0.2.0", False), ("0.3.0", True)):
        card = json.loads(card_path.read_text())
        card["version"] = version
        renamed = candidate.with_name(f"test-mobilenetv2-{version}.keras")
        shutil.copy(candidate, renamed)
        shutil.copy(candidate.with_suffix(".tflite"), renamed.with_suffix(".tflite"))
        renamed.with_suffix(".card.json").write_text(json.dumps(card))
        call_command("register_model", str(renamed), *(["--activate"] if activate else []))
    assert ModelVersion.objects.get(is_active=True).version == "0.3.0"
    assert ModelVersion.objects.count() == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": ["MEL", "NV", "SCC"]}, "classes must be"),
        ({"preprocessing": "bgr-caffe"}, "is not this code's"),
        ({"thresholds": {"medium": 0.8, "high": 0.2}}, "thresholds must be"),
    ],
)
def test_a_card_that_does_not_fit_this_code_is_refused(candidate, empty_models_dir, change, message):
    card_path = candidate.with_suffix(".card.json")
    card_path.write_text(json.dumps({**json.loads(card_path.read_text()), **change}))
    with pytest.raises(CommandError, match=message):
        call_command("register_model", str(candidate))
    assert not ModelVersion.objects.exists()


@pytest.mark.slow  # loads, changes and exports a Keras model
def test_a_runtime_export_that_differs_from_the_keras_model_is_refused(candidate, empty_models_dir, models_dir):
    # A LiteRT file of another network (the localising test model would do; a copy with a
    # changed head is simpler): registration must notice and record nothing.
    from skinml import keras_model

    model = keras_model.load_classifier(candidate)
    kernel, bias = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([kernel[:, ::-1].copy(), bias])
    keras_model.export_runtime(model, candidate.with_suffix(".tflite"))
    with pytest.raises(CommandError, match="does not reproduce"):
        call_command("register_model", str(candidate))
    assert not ModelVersion.objects.exists()


def test_a_model_without_a_card_is_refused(candidate, empty_models_dir):
    candidate.with_suffix(".card.json").unlink()
    with pytest.raises(CommandError, match="no model card"):
        call_command("register_model", str(candidate))


def test_the_choices_are_skinmls_classes_and_risk_levels():
    """Made from skinml's tuples; values and labels are those stored in the database and the API."""
    assert DiagnosisClass.choices == [("BCC", "Basal cell carcinoma"), ("MEL", "Melanoma"), ("NV", "Nevus")]
    assert RiskLevel.choices == [("low", "Low"), ("medium", "Medium"), ("high", "High")]
    assert (DiagnosisClass.MEL, RiskLevel.HIGH) == ("MEL", "high")


@pytest.mark.parametrize(("score", "level"), [(0.29, RiskLevel.LOW), (0.3, RiskLevel.MEDIUM), (0.6, RiskLevel.HIGH)])
def test_a_model_versions_risk_level_is_skinmls_rule_with_its_thresholds(score, level):
    version = ModelVersion(thresholds={"medium": 0.3, "high": 0.6})
    assert version.risk_level(malignant_probability=score) is level


BUNDLED = Path(__file__).resolve().parents[2] / "models" / "skinportal-mobilenetv2-1.1.0.keras"


@pytest.mark.slow  # checks the bundled export against its Keras model
@pytest.mark.skipif(not BUNDLED.is_file(), reason=f"needs the bundled model {BUNDLED}")
def test_registering_the_bundled_model_records_its_quality_gate_statistics(db, empty_models_dir):
    call_command("register_model", str(BUNDLED))

    version = ModelVersion.objects.get()
    card = json.loads(BUNDLED.with_suffix(".card.json").read_text())
    assert version.quality_statistics_file == card["quality"]["statistics_file"]
    assert version.quality_statistics_sha256 == card["quality"]["statistics_sha256"]
    assert sha256_of_file(empty_models_dir / version.quality_statistics_file) == version.quality_statistics_sha256
    assert runtime.get_quality_statistics(version).thresholds == card["quality"]["ood_thresholds"]
