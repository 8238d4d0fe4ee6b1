"""Training: labels, the lesion-grouped split, class weights, augmentation, calibration,
thresholds, and an end-to-end run of train_model + evaluate_model on tiny generated images."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from inference import evaluation, training
from inference.models import CLASSES, ModelVersion
from inference.preprocessing import PREPROCESSING_ID, preprocess

from .. import images
from ..conftest import model_version_from_dir
from .model_fixture import SHARED_DATA

ISIC = SHARED_DATA / "isic"
BUNDLED_CARD = Path(__file__).resolve().parents[2] / "models" / "skinportal-mobilenetv2-1.0.0.card.json"


def _write_csv(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


# Labels ------------------------------------------------------------------------------------


def test_read_labels_simple_format(tmp_path):
    path = _write_csv(
        tmp_path / "labels.csv",
        [
            ["image", "label", "source"],
            ["ISIC_1", "MEL", "owner/repo:images/ISIC_1.jpg"],
            ["ISIC_2", "nv", ""],
            ["ISIC_3", "BKL", "owner/repo:x"],
            ["ISIC_4", "BCC", "other/repo:y"],
        ],
    )
    labels = training.read_labels(path=path)
    assert [(item.image_id, item.label) for item in labels] == [("ISIC_1", "MEL"), ("ISIC_2", "NV"), ("ISIC_4", "BCC")]
    assert training.source_repository(labels[0].source) == "owner/repo"
    assert training.source_repository(labels[1].source) == "unknown"


def test_read_labels_isic_one_hot_keeps_mel_nv_bcc_only(tmp_path):
    path = _write_csv(
        tmp_path / "gt.csv",
        [
            ["image", "MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"],
            ["ISIC_1", "1.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0"],
            ["ISIC_2", "0", "1", "0", "0", "0", "0", "0", "0", "0"],
            ["ISIC_3", "0", "0", "0", "0", "1", "0", "0", "0", "0"],
            ["ISIC_4", "0.0", "0.0", "1.0", "0.0", "0.0", "0.0", "0.0", "0.0", "0.0"],
            ["ISIC_5", "0", "0", "0", "0", "0", "0", "0", "0", "1"],
        ],
    )
    labels = training.read_labels(path=path)
    assert [(item.image_id, item.label) for item in labels] == [("ISIC_1", "MEL"), ("ISIC_2", "NV"), ("ISIC_4", "BCC")]


def test_read_labels_rejects_other_files(tmp_path):
    path = _write_csv(tmp_path / "x.csv", [["image", "diagnosis"], ["ISIC_1", "MEL"]])
    with pytest.raises(ValueError, match="one-hot"):
        training.read_labels(path=path)


def test_read_lesion_ids(tmp_path):
    path = _write_csv(
        tmp_path / "meta.csv",
        [["lesion_id", "image_id", "dx"], ["HAM_1", "ISIC_1", "mel"], ["HAM_1", "ISIC_2", "mel"], ["", "ISIC_3", "nv"]],
    )
    assert training.read_lesion_ids(path=path) == {"ISIC_1": "HAM_1", "ISIC_2": "HAM_1"}


@pytest.mark.skipif(not ISIC.is_dir(), reason=f"needs the ISIC data at {ISIC}")
def test_both_label_formats_agree_on_the_shared_data():
    simple = {item.image_id: item.label for item in training.read_labels(path=ISIC / "labels.csv")}
    one_hot = {
        item.image_id: item.label
        for item in training.read_labels(path=ISIC / "groundtruth" / "ISIC_2019_Training_GroundTruth.csv")
    }
    assert len(simple) == 2868
    common = simple.keys() & one_hot.keys()
    assert len(common) > 2000
    assert all(simple[i] == one_hot[i] for i in common)


# Split -------------------------------------------------------------------------------------


def _synthetic_dataset(seed: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    """600 images in lesions of 1-4 images (one class per lesion), a sixth with no lesion id."""
    rng = np.random.default_rng(seed)
    labels, lesions = {}, {}
    counter = 0
    for lesion in range(260):
        label = ("MEL", "NV", "NV", "BCC")[lesion % 4]
        for _ in range(int(rng.integers(1, 5))):
            image_id = f"ISIC_{counter:07d}"
            labels[image_id] = label
            if lesion % 6:
                lesions[image_id] = f"HAM_{lesion:07d}"
            counter += 1
    return labels, lesions


def test_split_keeps_every_lesion_on_one_side():
    labels, lesions = _synthetic_dataset()
    split = training.split_by_lesion(labels=labels, lesion_ids=lesions, seed=1)
    assert sorted(i for ids in split.values() for i in ids) == sorted(labels)
    side_of_lesion: dict[str, set[str]] = {}
    for name, ids in split.items():
        for image_id in ids:
            if image_id in lesions:
                side_of_lesion.setdefault(lesions[image_id], set()).add(name)
    assert all(len(sides) == 1 for sides in side_of_lesion.values())


def test_split_is_seeded_and_independent_of_input_order():
    labels, lesions = _synthetic_dataset()
    first = training.split_by_lesion(labels=labels, lesion_ids=lesions, seed=7)
    reordered = dict(reversed(list(labels.items())))
    assert training.split_by_lesion(labels=reordered, lesion_ids=lesions, seed=7) == first
    assert training.split_by_lesion(labels=labels, lesion_ids=lesions, seed=8) != first


def test_split_is_stratified_by_class():
    labels, lesions = _synthetic_dataset()
    split = training.split_by_lesion(labels=labels, lesion_ids=lesions, seed=3, fractions=(0.7, 0.15, 0.15))
    totals = Counter(labels.values())
    for name, fraction in zip(training.SPLITS, (0.7, 0.15, 0.15), strict=True):
        counts = Counter(labels[i] for i in split[name])
        for label in CLASSES:
            assert counts[label] / totals[label] == pytest.approx(fraction, abs=0.03), (name, label)


def test_images_without_lesion_id_are_their_own_group():
    labels = {f"ISIC_{i}": "NV" for i in range(20)}
    split = training.split_by_lesion(labels=labels, lesion_ids={}, seed=0, fractions=(0.5, 0.25, 0.25))
    assert [len(split[name]) for name in training.SPLITS] == [10, 5, 5]


@pytest.mark.skipif(not ISIC.is_dir(), reason=f"needs the ISIC data at {ISIC}")
def test_split_of_the_shared_data_separates_lesions():
    labels = {item.image_id: item.label for item in training.read_labels(path=ISIC / "labels.csv")}
    lesions = training.read_lesion_ids(path=ISIC / "groundtruth" / "HAM10000_metadata.csv")
    split = training.split_by_lesion(labels=labels, lesion_ids=lesions, seed=42)
    sides = [{lesions[i] for i in split[name] if i in lesions} for name in training.SPLITS]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert len(split["test"]) == pytest.approx(0.15 * len(labels), rel=0.05)


# Class weights and augmentation ---------------------------------------------------------------


def test_class_weights_balance_the_classes():
    labels = np.array([0, 0, 0, 2])
    weights = training.class_weights(labels=labels, num_classes=3)
    assert weights == pytest.approx([4 / 6, 0.0, 2.0])
    assert weights[0] * 3 == pytest.approx(weights[2] * 1)  # every present class weighs the same in total


def test_augment_keeps_shape_and_range_and_is_seeded():
    batch = np.stack([preprocess(images.lesion_like(80, 60, seed=i), size=48) for i in range(6)])
    first = training.augment(batch, rng=np.random.default_rng(0))
    assert first.shape == batch.shape and first.dtype == np.float32
    assert first.min() >= -1.0 and first.max() <= 1.0
    assert not np.allclose(first, batch)
    np.testing.assert_array_equal(first, training.augment(batch, rng=np.random.default_rng(0)))
    assert first.mean() == pytest.approx(batch.mean(), abs=0.15)  # colour jitter stays mild


def test_augment_keeps_a_saturated_image_in_range():
    batch = np.ones((2, 32, 32, 3), dtype=np.float32)
    batch[1] = -1.0
    result = training.augment(batch, rng=np.random.default_rng(5))
    assert result.min() >= -1.0 and result.max() <= 1.0


def test_image_cache_holds_the_preprocessed_images(tmp_path):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"ISIC_{i}.jpg")
        paths[-1].write_bytes(images.jpeg(90, 70, seed=i))
    cache = training.load_image_cache(paths=paths, size=40)
    assert cache.shape == (3, 40, 40, 3) and cache.dtype == np.float16
    for path, cached in zip(paths, cache, strict=True):
        np.testing.assert_allclose(cached.astype(np.float32), preprocess(path.read_bytes(), size=40), atol=1e-3)


def test_training_batches_cover_every_image_once_per_epoch():
    stack = np.arange(10, dtype=np.float16)[:, None, None, None] * np.ones((10, 8, 8, 3), dtype=np.float16) / 10
    labels = np.array([0, 1, 2, 2, 2, 1, 1, 1, 1, 0])
    weights = training.class_weights(labels=labels)
    batches = training.training_batches(
        images=stack, labels=labels, sample_weights=weights[labels], batch_size=4, seed=0
    )
    epoch = [next(batches) for _ in range(3)]  # 4 + 4 + 2
    assert [len(b[1]) for b in epoch] == [4, 4, 2]
    assert sorted(np.concatenate([b[1] for b in epoch]).tolist()) == sorted(labels.tolist())
    for _, batch_labels, batch_weights in epoch:
        np.testing.assert_allclose(batch_weights, weights[batch_labels])


# Calibration and thresholds ---------------------------------------------------------------------


def test_fit_temperature_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2.0, (20000, 3))
    probabilities = evaluation.softmax_rows(true_logits)
    labels = (rng.random((20000, 1)) > probabilities.cumsum(axis=1)).sum(axis=1)
    overconfident = true_logits * 2.5  # a model whose logits are 2.5 times too large
    assert training.fit_temperature(logits=overconfident, labels=labels) == pytest.approx(2.5, rel=0.05)
    assert training.fit_temperature(logits=true_logits, labels=labels) == pytest.approx(1.0, rel=0.05)


def _probabilities_with_malignancy(scores: list[float], label: str) -> np.ndarray:
    """Rows whose P(BCC)+P(MEL) equals ``scores`` (all of it on the true class when malignant)."""
    rows = np.zeros((len(scores), 3))
    column = CLASSES.index(label if label != "NV" else "MEL")
    rows[:, column] = scores
    rows[:, CLASSES.index("NV")] = 1 - np.asarray(scores)
    return rows


def test_thresholds_meet_the_target_sensitivities():
    mel = [0.99, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3]
    bcc = [0.95, 0.2]
    nv = [0.1, 0.5, 0.05]
    probabilities = np.concatenate(
        [
            _probabilities_with_malignancy(mel, "MEL"),
            _probabilities_with_malignancy(bcc, "BCC"),
            _probabilities_with_malignancy(nv, "NV"),
        ]
    )
    labels = np.array([1] * 10 + [0] * 2 + [2] * 3)
    thresholds = training.choose_thresholds(probabilities=probabilities, labels=labels)
    # 90% of 10 MEL = 9 flagged: the 9th highest score; 97% of 12 malignant = all 12: the lowest.
    assert thresholds == {"medium": 0.2, "high": 0.35}
    score = probabilities[:, :2].sum(axis=1)
    assert (score[labels == 1] >= thresholds["high"]).mean() >= 0.9
    assert (score[labels == 1] >= thresholds["high"] + 1e-3).mean() < 0.9  # it is the largest such threshold
    assert (score[labels != 2] >= thresholds["medium"]).mean() >= 0.97


def test_medium_threshold_never_exceeds_high():
    probabilities = np.concatenate(
        [_probabilities_with_malignancy([0.1, 0.2, 0.3, 0.4, 0.5], "MEL"), _probabilities_with_malignancy([0.9], "BCC")]
    )
    labels = np.array([1] * 5 + [0])
    thresholds = training.choose_thresholds(
        probabilities=probabilities, labels=labels, target_mel_sensitivity=0.5, target_malignant_sensitivity=0.1
    )
    assert thresholds["medium"] <= thresholds["high"] == 0.3


# End to end -----------------------------------------------------------------------------------


def _tiny_dataset(directory: Path) -> tuple[Path, Path, Path]:
    """30 small JPEGs (10 per class, drawn differently per class), labels with sources, and
    lesion ids pairing some of them."""
    folder = directory / "images"
    folder.mkdir()
    rows, meta = [["image", "label", "source"]], [["lesion_id", "image_id"]]
    centres = {"BCC": (0.3, 0.3), "MEL": (0.5, 0.5), "NV": (0.7, 0.6)}
    for index in range(30):
        label = CLASSES[index % 3]
        image_id = f"ISIC_{index:07d}"
        picture = images.lesion_like(72, 56, seed=index, centre=centres[label])
        picture.save(folder / f"{image_id}.jpg", quality=90)
        rows.append([image_id, label, f"owner{index % 2}/repo:images/{image_id}.jpg"])
        if index < 12:
            meta.append([f"HAM_{index // 2:07d}", image_id])
    return folder, _write_csv(directory / "labels.csv", rows), _write_csv(directory / "meta.csv", meta)


@pytest.mark.django_db
def test_train_then_evaluate_end_to_end(tmp_path, settings):
    from inference.services import _validated_card

    folder, labels, metadata = _tiny_dataset(tmp_path)
    output = tmp_path / "out" / "tiny-0.0.1.keras"
    call_command(
        "train_model",
        images=folder,
        labels=labels,
        metadata=metadata,
        output=output,
        name="tiny",
        model_version="0.0.1",
        image_size=64,
        alpha=0.35,
        head_epochs=1,
        fine_tune_epochs=1,
        batch_size=8,
        seed=3,
        eager=True,
        verbosity=0,
    )
    for suffix in (".keras", ".tflite", ".card.json", ".card.md"):
        assert output.with_suffix(suffix).is_file(), suffix
    card = json.loads(output.with_suffix(".card.json").read_text())
    _validated_card(card, source=output)
    assert card["classes"] == list(CLASSES)
    assert card["preprocessing"] == PREPROCESSING_ID and card["input_size"] == 64
    assert card["temperature"] > 0
    assert 0 <= card["thresholds"]["medium"] <= card["thresholds"]["high"] <= 1
    assert sum(card["split"]["sizes"].values()) == 30
    assert card["split"]["sizes"]["test"] == len(card["split"]["test_ids"])
    assert card["data"]["splits"]["train"]["sources"].keys() <= {"owner0/repo", "owner1/repo"}
    assert "validation" in card["metrics"]
    assert [phase["phase"] for phase in card["training"]["phases"]] == ["head", "fine-tune"]

    # Evaluate the file on every image, writing the metrics into the card.
    report = tmp_path / "report"
    call_command(
        "evaluate_model", str(output), images=folder, labels=labels, output_dir=report, bootstrap=20, update_card=True
    )
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n"] == 30 and set(metrics["auc"]) == set(CLASSES)
    for figure in ("roc.png", "confusion_matrix.png", "reliability.png"):
        assert (report / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(output.with_suffix(".card.json").read_text())["metrics"]["all"]["n"] == 30

    # As a registered version (recorded as registration does, minus its slow parity check),
    # evaluated on its card's test split: the metrics are stored on the version.
    settings.SKINPORTAL_MODELS_DIR = output.parent
    version = model_version_from_dir(output.parent)
    call_command(
        "evaluate_model",
        "tiny:0.0.1",
        images=folder,
        labels=labels,
        split="test",
        output_dir=tmp_path / "r2",
        bootstrap=0,
    )
    version = ModelVersion.objects.get(pk=version.pk)
    assert version.metrics["test"]["n"] == len(card["split"]["test_ids"])
    assert "validation" in version.metrics  # the card's metrics stay


@pytest.mark.skipif(not BUNDLED_CARD.is_file(), reason="the bundled model has not been trained yet")
def test_bundled_model_card_is_valid():
    from inference.services import _validated_card

    card = json.loads(BUNDLED_CARD.read_text())
    _validated_card(card, source=BUNDLED_CARD)
    assert card["input_size"] == 224 and card["classes"] == list(CLASSES)
    assert BUNDLED_CARD.with_name(BUNDLED_CARD.name.replace(".card.json", ".tflite")).is_file()
