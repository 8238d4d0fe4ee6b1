"""The fast engine (LiteRT, closed-form Grad-CAM) against the textbook Keras Grad-CAM, and the
engine's helpers. No database."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from skinml.engine import LiteRTEngine, ModelFileError, normalised_cam, sha256_of_file, softmax, verified_path
from skinml.preprocessing import load_rgb, preprocess

from .model_fixture import SHARED_DATA, lesion_batch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runtime(test_model_dir) -> LiteRTEngine:
    return LiteRTEngine(next(test_model_dir.glob("*.tflite")))


# Helpers (fast) ---------------------------------------------------------------------------


def test_softmax_of_a_vector_and_of_rows_agree():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0]])
    rows = softmax(logits, temperature=2.0)
    for row, vector in zip(rows, logits, strict=True):
        np.testing.assert_array_equal(softmax(vector, temperature=2.0), row)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    assert rows[0, 0] == pytest.approx(np.e / (np.e + 2))
    np.testing.assert_allclose(rows[1], 1 / 3)
    assert rows[2, 0] == 1.0  # no overflow: shifted by the row's maximum
    assert softmax(np.array([1.0, 2.0])).dtype == np.float64


def test_normalised_cam_is_relu_then_scaled_to_one():
    maps = np.zeros((2, 2, 3), dtype=np.float32)
    maps[..., 1] = [[-1.0, 2.0], [4.0, 0.0]]
    cam = normalised_cam(maps, 1)
    np.testing.assert_allclose(cam, [[0.0, 0.5], [1.0, 0.0]], atol=1e-6)
    assert normalised_cam(maps, 0).max() == 0.0  # an empty map stays zero (no division by zero)


def test_verified_path_checks_the_file_and_its_sha256(tmp_path):
    model = tmp_path / "models" / "model.tflite"
    model.parent.mkdir()
    model.write_bytes(b"model bytes")
    digest = sha256_of_file(model)
    assert verified_path("model.tflite", sha256=digest, models_dir=model.parent) == model
    assert verified_path(model, sha256=digest) == model
    with pytest.raises(ModelFileError, match="refusing to load"):
        verified_path(model, sha256="0" * 64)
    with pytest.raises(ModelFileError, match="is missing"):
        verified_path("other.tflite", sha256=digest, models_dir=model.parent)


# The test model (built with TensorFlow once per session) -------------------------------------


@pytest.mark.slow
def test_runtime_matches_the_keras_gradcam_reference(test_model_dir, runtime):
    from skinml import keras_model

    reference = keras_model.GradCamReference(keras_model.load_classifier(next(test_model_dir.glob("*.keras"))))
    inputs = lesion_batch([(0.3, 0.3), (0.7, 0.6), (0.5, 0.5)], seed=40)
    for image in inputs:
        output = runtime.run(image)
        for class_index in range(3):
            logits, reference_cam = reference(image, class_index)
            assert np.abs(softmax(output.logits) - softmax(logits)).max() <= 1e-4
            assert np.abs(normalised_cam(output.class_maps, class_index) - reference_cam).max() <= 1e-2


@pytest.mark.slow
def test_probabilities_sum_to_one_and_depend_on_the_image(runtime):
    first, second = (softmax(runtime.run(image).logits) for image in lesion_batch([(0.3, 0.3), (0.7, 0.7)], seed=9))
    assert first.sum() == pytest.approx(1.0) and second.sum() == pytest.approx(1.0)
    assert np.abs(first - second).max() > 0.05
    assert np.abs(first - 1 / 3).max() > 0.05  # not the constant 1/3 of an uncalibrated network


@pytest.mark.slow
def test_map_is_not_constant(runtime):
    cam = normalised_cam(runtime.run(lesion_batch([(0.4, 0.6)], seed=3)[0]).class_maps, 1)
    assert cam.max() == pytest.approx(1.0, abs=1e-6)
    assert cam.std() > 0.05


@pytest.mark.slow
def test_map_peak_follows_the_lesion_when_the_image_is_shifted(localising_model_dir):
    runtime = LiteRTEngine(next(localising_model_dir.glob("*.tflite")))
    peaks = {}
    for centre in [(0.3, 0.3), (0.3, 0.7), (0.7, 0.3), (0.7, 0.7)]:
        cam = normalised_cam(runtime.run(lesion_batch([centre], seed=77)[0]).class_maps, 1)
        y, x = np.unravel_index(cam.argmax(), cam.shape)
        peaks[centre] = ((y + 0.5) / cam.shape[0], (x + 0.5) / cam.shape[1])
        assert abs(peaks[centre][0] - centre[0]) <= 0.2 and abs(peaks[centre][1] - centre[1]) <= 0.2, peaks
    assert peaks[(0.7, 0.7)][0] > peaks[(0.3, 0.3)][0] and peaks[(0.7, 0.7)][1] > peaks[(0.3, 0.3)][1]


# The bundled model on real images ------------------------------------------------------------


def test_the_bundled_models_map_follows_a_real_lesion_when_it_is_moved():
    """The bundled model on real ISIC melanoma images: the lesion, shrunk and pasted on the left
    or on the right of a plain canvas, pulls the MEL map's centre of mass with it."""
    runtime = next((ROOT / "models").glob("*.tflite"), None)
    labels = SHARED_DATA / "isic" / "labels.csv"
    if runtime is None or not labels.is_file():
        pytest.skip(f"needs the bundled model in models/ and the ISIC images at {labels.parent}")
    engine = LiteRTEngine(runtime)
    with labels.open() as handle:
        melanomas = [row["image"] for row in csv.DictReader(handle) if row["label"] == "MEL"][:6]
    for image_id in melanomas:
        image = load_rgb((labels.parent / "images" / f"{image_id}.jpg").read_bytes())
        width, height = image.size
        small = image.resize((width // 2, height // 2))
        background = tuple(int(v) for v in np.asarray(image).reshape(-1, 3).mean(axis=0))
        centres = []
        for left in (0, width // 2):
            canvas = Image.new("RGB", (width, height), background)
            canvas.paste(small, (left, height // 4))
            cam = normalised_cam(engine.run(preprocess(canvas, size=engine.input_size)).class_maps, 1)
            columns = (np.arange(cam.shape[1]) + 0.5) / cam.shape[1]
            centres.append(float((cam.sum(axis=0) * columns).sum() / cam.sum()))
        assert centres[0] < 0.4 < 0.5 < centres[1], (image_id, centres)


def test_runtime_features_match_the_keras_pooled_features(test_model_dir, runtime):
    from skinml import keras_model

    model = keras_model.load_classifier(next(test_model_dir.glob("*.keras")))
    probe = np.random.default_rng(5).uniform(-1.0, 1.0, (1, 224, 224, 3)).astype(np.float32)
    output = runtime.run(probe[0])
    expected = np.asarray(keras_model.features_model(model)(probe, training=False))[0]
    assert output.features is not None and output.features.shape == (1280,) == expected.shape
    assert runtime.feature_dimensions == 1280
    assert np.abs(output.features - expected).max() <= 1e-3


@pytest.mark.slow
def test_an_export_without_the_features_output_still_runs(test_model_dir, tmp_path):
    """Exports from before the features output (the bundled 1.0.0) have only the logits and the
    maps: they still run, with features None (and the gate then uses its image checks only)."""
    from skinml import keras_model

    model = keras_model.load_classifier(next(test_model_dir.glob("*.keras")))
    three_outputs = keras_model.runtime_model(model)
    two_outputs = keras_model.keras.Model(three_outputs.input, three_outputs.outputs[:2])
    path = tmp_path / "two-outputs.tflite"
    two_outputs.export(str(path), format="litert", verbose=False)
    engine = LiteRTEngine(path)
    size = engine.input_size
    output = engine.run(np.zeros((size, size, 3), dtype=np.float32))
    assert output.features is None and engine.feature_dimensions is None
    assert output.logits.shape == (3,) and output.class_maps.shape[-1] == 3
