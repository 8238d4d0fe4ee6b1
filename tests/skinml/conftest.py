"""Fixtures of the skinml tests, which need no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from .model_fixture import SHARED_WEIGHTS, build_test_model


@pytest.fixture(scope="session")
def localising_model_dir(tmp_path_factory) -> Path:
    if not SHARED_WEIGHTS.is_file():
        pytest.skip(f"needs the offline MobileNetV2 weights at {SHARED_WEIGHTS}: random deep features do not localise")
    directory = tmp_path_factory.mktemp("localising-models")
    build_test_model(directory, name="localising-mobilenetv2", backbone_weights=SHARED_WEIGHTS)
    return directory
