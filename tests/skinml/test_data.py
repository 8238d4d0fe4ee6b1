"""Training data: labels, lesion ids, the lesion-grouped split, class weights, the image cache
and the per-split summary. No database."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from skinml import data
from skinml.classes import CLASSES
from skinml.preprocessing import preprocess

from .. import images
from .model_fixture import SHARED_DATA
from .tiny_data import write_csv

ISIC = SHARED_DATA / "isic"


# Labels ------------------------------------------------------------------------------------


def test_read_labels_simple_format(tmp_path):
    path = write_csv(
        tmp_path / "labels.csv",
        [
            ["image", "label", "source"],
            ["ISIC_1", "MEL", "owner/repo:images/ISIC_1.jpg"],
            ["ISIC_2", "nv", ""],
            ["ISIC_3", "BKL", "owner/repo:x"],
            ["ISIC_4", "BCC", "other/repo:y"],
        ],
    )
    labels = data.read_labels(path=path)
    assert [(item.image_id, item.label) for item in labels] == [("ISIC_1", "MEL"), ("ISIC_2", "NV"), ("ISIC_4", "BCC")]
    assert data.source_repository(labels[0].source) == "owner/repo"
    assert data.source_repository(labels[1].source) == "unknown"


def test_read_labels_isic_one_hot_keeps_mel_nv_bcc_only(tmp_path):
    path = write_csv(
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
    labels = data.read_labels(path=path)
    assert [(item.image_id, item.label) for item in labels] == [("ISIC_1", "MEL"), ("ISIC_2", "NV"), ("ISIC_4", "BCC")]


def test_read_labels_rejects_other_files(tmp_path):
    path = write_csv(tmp_path / "x.csv", [["image", "diagnosis"], ["ISIC_1", "MEL"]])
    with pytest.raises(ValueError, match="one-hot"):
        data.read_labels(path=path)


def test_read_lesion_ids(tmp_path):
    path = write_csv(
        tmp_path / "meta.csv",
        [["lesion_id", "image_id", "dx"], ["HAM_1", "ISIC_1", "mel"], ["HAM_1", "ISIC_2", "mel"], ["", "ISIC_3", "nv"]],
    )
    assert data.read_lesion_ids(path=path) == {"ISIC_1": "HAM_1", "ISIC_2": "HAM_1"}


def test_find_image_files(tmp_path):
    for name in ("ISIC_1.jpg", "ISIC_2.PNG", "ISIC_3.txt", "notes.jpg"):
        (tmp_path / name).write_bytes(b"")
    found = data.find_image_files(images_dir=tmp_path, image_ids=["ISIC_1", "ISIC_2", "ISIC_3", "ISIC_4"])
    assert found == {"ISIC_1": tmp_path / "ISIC_1.jpg", "ISIC_2": tmp_path / "ISIC_2.PNG"}


@pytest.mark.skipif(not ISIC.is_dir(), reason=f"needs the ISIC data at {ISIC}")
def test_both_label_formats_agree_on_the_shared_data():
    simple = {item.image_id: item.label for item in data.read_labels(path=ISIC / "labels.csv")}
    one_hot = {
        item.image_id: item.label
        for item in data.read_labels(path=ISIC / "groundtruth" / "ISIC_2019_Training_GroundTruth.csv")
    }
    assert len(simple) == 4650  # shared/data/isic/README.md: MEL 1502, NV 2660, BCC 488
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
    split = data.split_by_lesion(labels=labels, lesion_ids=lesions, seed=1)
    assert sorted(i for ids in split.values() for i in ids) == sorted(labels)
    side_of_lesion: dict[str, set[str]] = {}
    for name, ids in split.items():
        for image_id in ids:
            if image_id in lesions:
                side_of_lesion.setdefault(lesions[image_id], set()).add(name)
    assert all(len(sides) == 1 for sides in side_of_lesion.values())


def test_split_is_seeded_and_independent_of_input_order():
    labels, lesions = _synthetic_dataset()
    first = data.split_by_lesion(labels=labels, lesion_ids=lesions, seed=7)
    reordered = dict(reversed(list(labels.items())))
    assert data.split_by_lesion(labels=reordered, lesion_ids=lesions, seed=7) == first
    assert data.split_by_lesion(labels=labels, lesion_ids=lesions, seed=8) != first


def test_split_is_stratified_by_class():
    labels, lesions = _synthetic_dataset()
    split = data.split_by_lesion(labels=labels, lesion_ids=lesions, seed=3, fractions=(0.7, 0.15, 0.15))
    totals = Counter(labels.values())
    for name, fraction in zip(data.SPLITS, (0.7, 0.15, 0.15), strict=True):
        counts = Counter(labels[i] for i in split[name])
        for label in CLASSES:
            assert counts[label] / totals[label] == pytest.approx(fraction, abs=0.03), (name, label)


def test_images_without_lesion_id_are_their_own_group():
    labels = {f"ISIC_{i}": "NV" for i in range(20)}
    split = data.split_by_lesion(labels=labels, lesion_ids={}, seed=0, fractions=(0.5, 0.25, 0.25))
    assert [len(split[name]) for name in data.SPLITS] == [10, 5, 5]


def test_split_fractions_must_be_three_summing_to_one():
    with pytest.raises(ValueError, match="fractions"):
        data.split_by_lesion(labels={"ISIC_1": "NV"}, lesion_ids={}, seed=0, fractions=(0.5, 0.5))


@pytest.mark.skipif(not ISIC.is_dir(), reason=f"needs the ISIC data at {ISIC}")
def test_split_of_the_shared_data_separates_lesions():
    labels = {item.image_id: item.label for item in data.read_labels(path=ISIC / "labels.csv")}
    lesions = data.read_lesion_ids(path=ISIC / "groundtruth" / "HAM10000_metadata.csv")
    split = data.split_by_lesion(labels=labels, lesion_ids=lesions, seed=42)
    sides = [{lesions[i] for i in split[name] if i in lesions} for name in data.SPLITS]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert len(split["test"]) == pytest.approx(0.15 * len(labels), rel=0.05)


# Class weights, summaries and the image cache -------------------------------------------------


def test_class_weights_balance_the_classes():
    labels = np.array([0, 0, 0, 2])
    weights = data.class_weights(labels=labels, num_classes=3)
    assert weights == pytest.approx([4 / 6, 0.0, 2.0])
    assert weights[0] * 3 == pytest.approx(weights[2] * 1)  # every present class weighs the same in total


def test_data_summary_counts_classes_and_sources():
    images_ = {
        "a": data.LabelledImage("a", "MEL", "owner/repo:a.jpg"),
        "b": data.LabelledImage("b", "NV", "owner/repo:b.jpg"),
        "c": data.LabelledImage("c", "NV"),
    }
    summary = data.data_summary(images=images_, split={"train": ["a", "b"], "validation": ["c"]})
    assert summary["train"] == {
        "images": 2,
        "classes": {"BCC": 0, "MEL": 1, "NV": 1},
        "sources": {"owner/repo": {"BCC": 0, "MEL": 1, "NV": 1}},
    }
    assert summary["validation"]["sources"] == {"unknown": {"BCC": 0, "MEL": 0, "NV": 1}}


def test_image_cache_holds_the_preprocessed_images(tmp_path):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"ISIC_{i}.jpg")
        paths[-1].write_bytes(images.jpeg(90, 70, seed=i))
    cache = data.load_image_cache(paths=paths, size=40)
    assert cache.shape == (3, 40, 40, 3) and cache.dtype == np.float16
    for path, cached in zip(paths, cache, strict=True):
        np.testing.assert_allclose(cached.astype(np.float32), preprocess(path.read_bytes(), size=40), atol=1e-3)
