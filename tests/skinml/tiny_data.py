"""Small labelled image folders written by the tests."""

from __future__ import annotations

import csv
from pathlib import Path

from skinml.classes import CLASSES

from .. import images


def write_csv(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def tiny_dataset(directory: Path) -> tuple[Path, Path, Path]:
    """30 small JPEGs (10 per class, drawn differently per class), labels with sources, and
    lesion ids pairing some of them: (images folder, labels.csv, meta.csv)."""
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
    return folder, write_csv(directory / "labels.csv", rows), write_csv(directory / "meta.csv", meta)
