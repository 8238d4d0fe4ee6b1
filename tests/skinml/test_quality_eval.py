"""The gate's evaluation harness on the small test model and generated images. No database."""

from __future__ import annotations

import csv
import json

import numpy as np

from skinml.card import card_path_for
from skinml.quality_eval import DEGRADATIONS, evaluate_gate, non_skin_images

from .. import images


def test_non_skin_pictures_and_degradations_are_rgb_images():
    pictures = dict(non_skin_images())
    assert {"photo:china", "photo:flower", "noise", "text"} <= set(pictures)
    rgb = np.asarray(images.lesion_like(300, 200, seed=1))
    for name, degrade in DEGRADATIONS.items():
        degraded = degrade(rgb)
        assert degraded.dtype == np.uint8 and degraded.shape == rgb.shape, name
        assert not np.array_equal(degraded, rgb), name
    for picture in pictures.values():
        assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3


def test_evaluate_gate_writes_its_figures(test_model_dir, tmp_path):
    isic = tmp_path / "isic"
    (isic / "images").mkdir(parents=True)
    ids = [f"ISIC_{i:07d}" for i in range(3)]
    for index, image_id in enumerate(ids):
        images.lesion_like(260, 200, seed=index).save(isic / "images" / f"{image_id}.jpg")
    with (isic / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["image", "label"], *[[i, "NV"] for i in ids]])
    keras_path = next(test_model_dir.glob("*.keras"))
    card = {**json.loads(card_path_for(keras_path).read_text()), "split": {"test_ids": ids}}
    figures = evaluate_gate(
        runtime_path=keras_path.with_suffix(".tflite"),
        card=card,
        ood_path=None,
        isic_dir=isic,
        other_dir=None,
        output_dir=tmp_path / "out",
        log=lambda line: None,
    )
    assert figures["in_distribution"]["images"] == 3
    assert set(figures["kinds"]) == {"non_skin", *DEGRADATIONS}
    assert figures["kinds"]["non_skin"]["rejected"] > 0.5
    assert "skin_fraction" in figures["kinds"]["non_skin"]["auroc"]
    assert figures["timing_ms"]["assess_median"] > 0
    assert json.loads((tmp_path / "out" / "quality_eval.json").read_text()) == figures
    assert (tmp_path / "out" / "quality_eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
