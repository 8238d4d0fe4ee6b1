"""The inference engine used by the workers: one LiteRT forward pass gives the logits and the
Grad-CAM class maps of every class.

Why this is Grad-CAM exactly: the classifier's head is global average pooling followed by one
dense layer, so the gradient of class c's score before softmax with respect to the last
convolutional block's output A (h×w×k) is W[k, c] / (h·w) at every position. Grad-CAM's channel
weights (the spatial mean of that gradient) are therefore W[:, c] / (h·w), and the map is
ReLU(Σ_k W[k, c] A_k) up to that positive constant, which the normalisation removes. The
exported model computes Σ_k W[k, c] A_k for every class as a 1×1 convolution, so one forward
pass gives the probabilities and every class's map. ``tests/skinml/test_engine.py`` checks
this against a GradientTape Grad-CAM on the Keras model.

No TensorFlow here: a worker process that imports this module stays small.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CAM_EPSILON = 1e-7


class ModelFileError(Exception):
    """A model file is missing or is not the file that was registered."""


def sha256_of_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_path(path: Path | str, *, sha256: str, models_dir: Path | None = None) -> Path:
    """The model file ``path`` (relative to ``models_dir`` when given), after checking that it
    exists and has the registered SHA-256; ModelFileError otherwise."""
    path = Path(models_dir) / path if models_dir is not None else Path(path)
    if not path.is_file():
        raise ModelFileError(f"Model file {path} is missing.")
    actual = sha256_of_file(path)
    if actual != sha256:
        raise ModelFileError(
            f"Model file {path} has SHA-256 {actual}, but {sha256} was registered; refusing to load it."
        )
    return path


@dataclass(frozen=True)
class EngineOutput:
    logits: np.ndarray  # (classes,)
    class_maps: np.ndarray  # (h, w, classes): Σ_k W[k, c] A_k, before ReLU
    features: np.ndarray | None = None  # (D,) the pooled features, when the export has that output


def softmax(logits: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) over the last axis: of one logit vector (classes,) or of every row of
    an (n, classes) array. Float64."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def normalised_cam(class_maps: np.ndarray, class_index: int) -> np.ndarray:
    """Grad-CAM for one class: ReLU, then divided by its maximum (plus an epsilon), in [0, 1]."""
    cam = np.maximum(class_maps[..., class_index].astype(np.float32), 0.0)
    return cam / (cam.max() + CAM_EPSILON)


class LiteRTEngine:
    """A LiteRT interpreter of an exported model with outputs (logits, class maps[, features]).

    Outputs are told apart by shape, not order or name: 4-D is the class maps, 2-D with as many
    columns as the maps have classes is the logits, and another 2-D output is the pooled
    features (exports before issue 14 have none: ``features`` is then None)."""

    def __init__(self, path: Path, *, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        (input_detail,) = self._interpreter.get_input_details()
        self._input_index = input_detail["index"]
        self.input_size = int(input_detail["shape"][1])
        outputs = self._interpreter.get_output_details()
        maps = next(o for o in outputs if len(o["shape"]) == 4)
        classes = int(maps["shape"][-1])
        flat = [o for o in outputs if len(o["shape"]) == 2]
        self._maps_index = maps["index"]
        self._logits_index = next(o["index"] for o in flat if int(o["shape"][-1]) == classes)
        others = [o for o in flat if int(o["shape"][-1]) != classes]
        self._features_index = others[0]["index"] if others else None
        self.feature_dimensions = int(others[0]["shape"][-1]) if others else None
        self._lock = threading.Lock()  # an interpreter is not safe to share between threads

    def run(self, image: np.ndarray) -> EngineOutput:
        batch = np.ascontiguousarray(image[None], dtype=np.float32)
        with self._lock:
            self._interpreter.set_tensor(self._input_index, batch)
            self._interpreter.invoke()
            logits = self._interpreter.get_tensor(self._logits_index)[0].copy()
            class_maps = self._interpreter.get_tensor(self._maps_index)[0].copy()
            features = (
                self._interpreter.get_tensor(self._features_index)[0].copy()
                if self._features_index is not None
                else None
            )
        return EngineOutput(logits=logits, class_maps=class_maps, features=features)
