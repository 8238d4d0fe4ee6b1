"""The model runtime of a process: engines per model version, verified, loaded once, without
TensorFlow in a worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inference import runtime
from skinml.engine import ModelFileError

pytestmark = pytest.mark.django_db


def test_a_model_file_that_changed_is_refused(model_version, models_dir, tmp_path, settings):
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    settings.SKINPORTAL_MODELS_DIR = copy
    with (copy / model_version.runtime_file).open("ab") as handle:
        handle.write(b"tampered")
    runtime.clear_engines()
    with pytest.raises(ModelFileError, match="refusing to load"):
        runtime.get_engine(model_version)


def test_the_engine_is_loaded_once_per_process(model_version):
    runtime.clear_engines()
    first = runtime.get_engine(model_version)
    assert runtime.get_engine(model_version) is first
    assert runtime.loaded_engine_count() == 1


def test_a_worker_process_never_imports_tensorflow(model_version, models_dir):
    """Workers stay small: the task module, the services and the engine load no TensorFlow."""
    code = (
        "import django, sys; django.setup(); "
        "import inference.tasks, inference.admin, cases.admin; "
        "from skinml.engine import LiteRTEngine; "
        f"LiteRTEngine(__import__('pathlib').Path({str(models_dir / model_version.runtime_file)!r})); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "skinportal.settings.test"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split()[-2:] == ["False", "False"], result.stderr
