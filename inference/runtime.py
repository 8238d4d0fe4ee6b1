"""The model runtime of this process: the LiteRT engine of each model version, and its
out-of-scope statistics for the quality gate, loaded once and verified against their registered
SHA-256, with the files and threads the settings give.

The engine itself (and Grad-CAM) is :mod:`skinml.engine`; this module only turns a
``ModelVersion`` into file paths and settings.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from skinml.card import card_path_for
from skinml.engine import LiteRTEngine, ModelFileError, verified_path
from skinml.ood import OODStatistics

from .models import ModelVersion


def models_dir() -> Path:
    return Path(settings.SKINPORTAL_MODELS_DIR)


def inference_threads() -> int:
    return int(os.environ.get("SKINPORTAL_INFERENCE_THREADS", settings.SKINPORTAL_INFERENCE_THREADS))


def runtime_path(model_version: ModelVersion) -> Path:
    """The version's LiteRT export, after checking its SHA-256 (skinml.engine.ModelFileError)."""
    return verified_path(model_version.runtime_file, sha256=model_version.runtime_sha256, models_dir=models_dir())


def card_path(model_version: ModelVersion) -> Path:
    """Where the version's card file is (or would be), beside its Keras file."""
    return card_path_for(models_dir() / model_version.file)


#: What each process has loaded: ("engine" | "statistics", model version id, SHA-256) -> object.
_loaded: dict[tuple[str, int, str], object] = {}
_loaded_lock = threading.Lock()


def _load_once(key: tuple[str, int, str], load: Callable[[], object]) -> object:
    """Load a model file once per process (workers: after the fork), under a lock."""
    value = _loaded.get(key)
    if value is None:
        with _loaded_lock:
            value = _loaded.get(key)
            if value is None:
                value = _loaded[key] = load()
    return value


def get_engine(model_version: ModelVersion) -> LiteRTEngine:
    """The engine of a model version, loaded once per process (after a worker's fork, on first
    use or by the worker_process_init warm-up) and verified against its registered SHA-256."""
    key = ("engine", model_version.pk, model_version.runtime_sha256)
    return _load_once(key, lambda: LiteRTEngine(runtime_path(model_version), num_threads=inference_threads()))


def loaded_engine_count() -> int:
    return sum(kind == "engine" for kind, _, _ in _loaded)


def clear_engines() -> None:
    """Forget the loaded engines and quality statistics (tests; a changed file)."""
    with _loaded_lock:
        _loaded.clear()


def quality_statistics_path(model_version: ModelVersion) -> Path | None:
    """The version's out-of-scope statistics file after checking its SHA-256
    (skinml.engine.ModelFileError), or None when the version has none."""
    if not model_version.quality_statistics_file:
        return None
    return verified_path(
        model_version.quality_statistics_file, sha256=model_version.quality_statistics_sha256, models_dir=models_dir()
    )


def get_quality_statistics(model_version: ModelVersion) -> OODStatistics | None:
    """The version's out-of-scope statistics, loaded once per process and verified against their
    registered SHA-256 like the engine; None when the version has none (then only the image
    quality checks apply)."""
    if not model_version.quality_statistics_file:
        return None

    def load() -> OODStatistics:
        try:
            path = quality_statistics_path(model_version)
        except ModelFileError as error:
            raise ModelFileError(f"The quality gate's statistics of {model_version}: {error}") from error
        return OODStatistics.load(path)

    return _load_once(("statistics", model_version.pk, model_version.quality_statistics_sha256), load)
