from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.engine import clear_engines, sha256_of_file
from inference.models import ModelVersion

from .model_fixture import SHARED_WEIGHTS, build_test_model


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory) -> Path:
    """A folder with the random test model (.keras, .tflite, card), built once per session."""
    directory = tmp_path_factory.mktemp("models")
    build_test_model(directory)
    return directory


@pytest.fixture(scope="session")
def localising_model_dir(tmp_path_factory) -> Path:
    if not SHARED_WEIGHTS.is_file():
        pytest.skip(f"needs the offline MobileNetV2 weights at {SHARED_WEIGHTS}: random deep features do not localise")
    directory = tmp_path_factory.mktemp("localising-models")
    build_test_model(directory, name="localising-mobilenetv2", backbone_weights=SHARED_WEIGHTS)
    return directory


@pytest.fixture
def models_dir(settings, test_model_dir) -> Path:
    settings.SKINPORTAL_MODELS_DIR = test_model_dir
    yield test_model_dir
    clear_engines()


def model_version_from_dir(directory: Path, *, active: bool = True, version: str | None = None) -> ModelVersion:
    """A ModelVersion row for the model in ``directory``, as registration records it (without
    repeating registration's slow parity check; tests of registration call the service)."""
    keras_path = next(directory.glob("*.keras"))
    card = json.loads(keras_path.with_suffix(".card.json").read_text())
    runtime_path = keras_path.with_suffix(".tflite")
    return ModelVersion.objects.create(
        name=card["name"],
        version=version or card["version"],
        file=keras_path.name,
        sha256=sha256_of_file(keras_path),
        runtime_file=runtime_path.name,
        runtime_sha256=sha256_of_file(runtime_path),
        architecture=card["architecture"],
        input_size=card["input_size"],
        class_labels=card["classes"],
        preprocessing=card["preprocessing"],
        gradcam_layer=card["gradcam_layer"],
        temperature=card["temperature"],
        thresholds=card["thresholds"],
        metrics=card["metrics"],
        card=card,
        is_active=active,
    )


@pytest.fixture
def model_version(db, models_dir) -> ModelVersion:
    return model_version_from_dir(models_dir)
