"""skinml is a plain Python package: importing it needs neither Django nor an app (nor, outside
skinml.keras_model, TensorFlow). import-linter checks the imports it names (.importlinter);
this checks what importing it actually loads."""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import skinml

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "audit", "cases", "core", "inference", "notifications", "reviews", "skinportal")


def test_importing_skinml_loads_no_django_no_app_and_no_tensorflow():
    modules = sorted(f"skinml.{m.name}" for m in pkgutil.iter_modules(skinml.__path__) if m.name != "keras_model")
    assert "skinml.train" in modules and "skinml.evaluate" in modules and "skinml.engine" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "skinml" in loaded
    assert not loaded & {"django", "tensorflow", "keras", *APPS}, loaded & {"django", "tensorflow", "keras", *APPS}
