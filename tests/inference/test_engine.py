"""The fast engine (LiteRT, closed-form Grad-CAM) against the textbook Keras Grad-CAM."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from inference import engine, keras_model
from inference.engine import LiteRTEngine, ModelFileError, normalised_cam, softmax

from .model_fixture import lesion_batch

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def keras_and_runtime(test_model_dir):
    keras_path = next(test_model_dir.glob("*.keras"))
    model = keras_model.keras.models.load_model(keras_path, compile=False)
    return model, LiteRTEngine(keras_path.with_suffix(".tflite"))


def test_runtime_matches_the_keras_gradcam_reference(keras_and_runtime):
    model, runtime = keras_and_runtime
    reference = keras_model.GradCamReference(model)
    inputs = lesion_batch([(0.3, 0.3), (0.7, 0.6), (0.5, 0.5)], seed=40)
    for image in inputs:
        output = runtime.run(image)
        for class_index in range(3):
            logits, reference_cam = reference(image, class_index)
            assert np.abs(softmax(output.logits) - softmax(logits)).max() <= 1e-4
            assert np.abs(normalised_cam(output.class_maps, class_index) - reference_cam).max() <= 1e-2


def test_probabilities_sum_to_one_and_depend_on_the_image(keras_and_runtime):
    _, runtime = keras_and_runtime
    first, second = (softmax(runtime.run(image).logits) for image in lesion_batch([(0.3, 0.3), (0.7, 0.7)], seed=9))
    assert first.sum() == pytest.approx(1.0) and second.sum() == pytest.approx(1.0)
    assert np.abs(first - second).max() > 0.05
    assert np.abs(first - 1 / 3).max() > 0.05  # not the constant 1/3 of an uncalibrated network


def test_map_is_not_constant(keras_and_runtime):
    _, runtime = keras_and_runtime
    cam = normalised_cam(runtime.run(lesion_batch([(0.4, 0.6)], seed=3)[0]).class_maps, 1)
    assert cam.max() == pytest.approx(1.0, abs=1e-6)
    assert cam.std() > 0.05


def test_map_peak_follows_the_lesion_when_the_image_is_shifted(localising_model_dir):
    runtime = LiteRTEngine(next(localising_model_dir.glob("*.tflite")))
    peaks = {}
    for centre in [(0.3, 0.3), (0.3, 0.7), (0.7, 0.3), (0.7, 0.7)]:
        cam = normalised_cam(runtime.run(lesion_batch([centre], seed=77)[0]).class_maps, 1)
        y, x = np.unravel_index(cam.argmax(), cam.shape)
        peaks[centre] = ((y + 0.5) / cam.shape[0], (x + 0.5) / cam.shape[1])
        assert abs(peaks[centre][0] - centre[0]) <= 0.2 and abs(peaks[centre][1] - centre[1]) <= 0.2, peaks
    assert peaks[(0.7, 0.7)][0] > peaks[(0.3, 0.3)][0] and peaks[(0.7, 0.7)][1] > peaks[(0.3, 0.3)][1]


def test_a_model_file_that_changed_is_refused(model_version, models_dir, tmp_path, settings):
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    settings.SKINPORTAL_MODELS_DIR = copy
    with (copy / model_version.runtime_file).open("ab") as handle:
        handle.write(b"tampered")
    engine.clear_engines()
    with pytest.raises(ModelFileError, match="refusing to load"):
        engine.get_engine(model_version)


def test_the_engine_is_loaded_once_per_process(model_version):
    engine.clear_engines()
    first = engine.get_engine(model_version)
    assert engine.get_engine(model_version) is first
    assert engine.loaded_engine_count() == 1


def test_a_worker_process_never_imports_tensorflow(model_version, models_dir):
    """Workers stay small: the task module, the services and the engine load no TensorFlow."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django, sys; django.setup(); "
        "import inference.tasks, inference.admin, cases.admin; "
        "from inference.engine import LiteRTEngine; "
        f"LiteRTEngine(__import__('pathlib').Path({str(models_dir / model_version.runtime_file)!r})); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "skinportal.settings.test"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split()[-2:] == ["False", "False"], result.stderr


def test_the_bundled_models_map_follows_a_real_lesion_when_it_is_moved():
    """The bundled model on real ISIC melanoma images: the lesion, shrunk and pasted on the left
    or on the right of a plain canvas, pulls the MEL map's centre of mass with it."""
    import csv
    from pathlib import Path

    from PIL import Image

    from inference.preprocessing import load_rgb, preprocess

    from .model_fixture import SHARED_DATA

    root = Path(__file__).resolve().parents[2]
    runtime = next((root / "models").glob("*.tflite"), None)
    labels = SHARED_DATA / "isic" / "labels.csv"
    if runtime is None or not labels.is_file():
        pytest.skip(f"needs the bundled model in models/ and the ISIC images at {labels.parent}")
    engine_ = LiteRTEngine(runtime)
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
            cam = normalised_cam(engine_.run(preprocess(canvas, size=engine_.input_size)).class_maps, 1)
            columns = (np.arange(cam.shape[1]) + 0.5) / cam.shape[1]
            centres.append(float((cam.sum(axis=0) * columns).sum() / cam.sum()))
        assert centres[0] < 0.4 < 0.5 < centres[1], (image_id, centres)
