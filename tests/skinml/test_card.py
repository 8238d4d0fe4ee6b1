"""The model card: validation, paths, files, Markdown, and the check that a LiteRT export
reproduces its Keras model. No database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skinml import card as model_card
from skinml.classes import CLASSES
from skinml.preprocessing import PREPROCESSING_ID

BUNDLED_CARD = Path(__file__).resolve().parents[2] / "models" / "skinportal-mobilenetv2-1.1.0.card.json"

CARD = {
    "name": "test-mobilenetv2",
    "version": "0.1.0",
    "architecture": "MobileNetV2",
    "input_size": 224,
    "classes": ["BCC", "MEL", "NV"],
    "preprocessing": PREPROCESSING_ID,
    "gradcam_layer": "out_relu",
    "temperature": 1.0,
    "thresholds": {"medium": 0.3, "high": 0.6},
}


def test_card_and_runtime_paths_are_beside_the_model():
    assert model_card.card_path_for(Path("models/x-1.0.keras")) == Path("models/x-1.0.card.json")
    assert model_card.runtime_path_for(Path("models/x-1.0.keras")) == Path("models/x-1.0.tflite")


def test_a_card_that_fits_this_code_is_returned_as_it_is():
    assert model_card.validated_card(dict(CARD), source=Path("x.card.json")) == CARD
    assert model_card.validated_card({**CARD, "classes": ["NV", "MEL", "BCC"]}, source=Path("x"))  # any order


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": ["MEL", "NV", "SCC"]}, "classes must be BCC, MEL, NV in the model's output order"),
        ({"preprocessing": "bgr-caffe"}, "preprocessing 'bgr-caffe' is not this code's"),
        ({"thresholds": {"medium": 0.8, "high": 0.2}}, "thresholds must be"),
        ({"thresholds": {"high": 0.2}}, "thresholds must be"),
        ({"temperature": 0}, "temperature must be positive"),
    ],
)
def test_a_card_that_does_not_fit_this_code_is_refused(change, message):
    with pytest.raises(model_card.CardError, match=message) as raised:
        model_card.validated_card({**CARD, **change}, source=Path("models/x.card.json"))
    assert str(raised.value).startswith("Model card models/x.card.json: ")
    assert isinstance(raised.value, ValueError)


def test_a_card_missing_fields_names_them():
    card = {key: value for key, value in CARD.items() if key not in ("gradcam_layer", "thresholds")}
    with pytest.raises(model_card.CardError, match=r"x: missing gradcam_layer, thresholds\.$"):
        model_card.validated_card(card, source=Path("x"))


def test_write_card_writes_json_and_markdown(tmp_path):
    path = tmp_path / "m.card.json"
    card = {
        **CARD,
        "threshold_rule": {"high": "high rule", "medium": "medium rule"},
        "intended_use": "Tests only.",
        "licence": "CC0.",
        "metrics": {
            "test": {
                "n": 30,
                "classes": list(CLASSES),
                "balanced_accuracy": 0.5,
                "auc": {"BCC": 0.75, "MEL": None, "NV": 0.5},
                "confidence_intervals": {"balanced_accuracy": [0.25, 0.75]},
            }
        },
    }
    model_card.write_card(card=card, path=path)
    assert json.loads(path.read_text()) == card
    markdown = (tmp_path / "m.card.md").read_text()
    assert markdown.startswith("# Model card: test-mobilenetv2 0.1.0\n")
    assert "- Thresholds on P(BCC)+P(MEL): medium 0.3000, high 0.6000\n  - high rule\n  - medium rule\n" in markdown
    assert "**Intended use:** Tests only. CC0." in markdown
    assert "## Metrics: test" in markdown
    assert "| balanced accuracy | 0.500 | 0.250 – 0.750 |" in markdown
    assert "| AUC MEL vs rest | n/a |  |" in markdown


def test_write_card_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match="Out of range float"):
        model_card.write_card(card={**CARD, "temperature": float("nan")}, path=tmp_path / "m.card.json")


@pytest.mark.skipif(not BUNDLED_CARD.is_file(), reason="the bundled model has not been trained yet")
def test_bundled_model_card_is_valid():
    card = json.loads(BUNDLED_CARD.read_text())
    model_card.validated_card(card, source=BUNDLED_CARD)
    assert card["input_size"] == 224 and card["classes"] == list(CLASSES)
    assert BUNDLED_CARD.with_name(BUNDLED_CARD.name.replace(".card.json", ".tflite")).is_file()
    # Its Markdown is what card_markdown renders from it.
    assert BUNDLED_CARD.with_suffix(".md").read_text() == model_card.card_markdown(card)


@pytest.mark.slow
def test_the_runtime_export_must_reproduce_the_keras_model(test_model_dir, tmp_path):
    from skinml import keras_model

    keras_path = next(test_model_dir.glob("*.keras"))
    card = json.loads(model_card.card_path_for(keras_path).read_text())
    model_card.check_runtime_matches_keras(
        keras_path=keras_path, runtime_path=model_card.runtime_path_for(keras_path), card=card
    )

    # The export of another network (the same with its class columns swapped) is refused.
    model = keras_model.load_classifier(keras_path)
    kernel, bias = model.get_layer(keras_model.LOGITS_LAYER).get_weights()
    model.get_layer(keras_model.LOGITS_LAYER).set_weights([kernel[:, ::-1].copy(), bias])
    other = tmp_path / "other.tflite"
    keras_model.export_runtime(model, other)
    with pytest.raises(model_card.RuntimeMismatchError, match=f"{other} does not reproduce {keras_path}"):
        model_card.check_runtime_matches_keras(keras_path=keras_path, runtime_path=other, card=card)
