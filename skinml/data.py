"""Training and evaluation data: labels, lesion ids, image files, the lesion-grouped split,
class weights and the in-memory image cache.

Every image goes through :func:`skinml.preprocessing.preprocess`, exactly as at inference.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classes import CLASSES
from .preprocessing import preprocess

SPLITS = ("train", "validation", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")

#: Where progress lines go (``print``, a management command's ``stdout.write``).
Log = Callable[[str], None]


# Labels, lesion ids and image files ------------------------------------------------------


@dataclass(frozen=True)
class LabelledImage:
    image_id: str
    label: str
    source: str = ""  # "<owner>/<repo>:<path>" when the labels file names it


def read_labels(*, path: Path) -> list[LabelledImage]:
    """Read ``image,label[,source]`` (label MEL, NV or BCC) or the official ISIC one-hot ground
    truth (``image,MEL,NV,BCC,...``), keeping only the rows whose class is MEL, NV or BCC."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if "image" not in columns:
            raise ValueError(f"{path}: no 'image' column")
        rows = list(reader)
    result: list[LabelledImage] = []
    if "label" in columns:
        for row in rows:
            label = row["label"].strip().upper()
            if label in CLASSES:
                result.append(LabelledImage(row["image"].strip(), label, (row.get("source") or "").strip()))
        return result
    if not set(CLASSES) <= columns:
        raise ValueError(f"{path}: expected a 'label' column or the one-hot columns {', '.join(CLASSES)}")
    categories = [name for name in reader.fieldnames if name not in ("image", "score_weight", "validation_weight")]
    for row in rows:
        values = {name: float(row[name] or 0) for name in categories}
        label = max(values, key=values.__getitem__)
        if label in CLASSES and values[label] > 0.5:
            result.append(LabelledImage(row["image"].strip(), label))
    return result


def read_lesion_ids(*, path: Path) -> dict[str, str]:
    """Image id → lesion id from a HAM10000-style metadata file (``lesion_id,image_id,...``)."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        image_column = "image_id" if "image_id" in (reader.fieldnames or ()) else "image"
        return {row[image_column].strip(): row["lesion_id"].strip() for row in reader if row.get("lesion_id")}


def source_repository(source: str) -> str:
    """The ``owner/repo`` part of a ``source`` value, or "unknown"."""
    return source.split(":", 1)[0].strip() or "unknown"


def find_image_files(*, images_dir: Path, image_ids: Sequence[str]) -> dict[str, Path]:
    """The file of each image id that exists in ``images_dir`` (``<id>.jpg``, ``.jpeg`` or ``.png``)."""
    names = {path.name: path for path in Path(images_dir).iterdir() if path.suffix in IMAGE_SUFFIXES}
    found = {}
    for image_id in image_ids:
        for suffix in IMAGE_SUFFIXES:
            if f"{image_id}{suffix}" in names:
                found[image_id] = names[f"{image_id}{suffix}"]
                break
    return found


# Split, class weights and summaries ------------------------------------------------------


def split_by_lesion(
    *,
    labels: Mapping[str, str],
    lesion_ids: Mapping[str, str],
    seed: int,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
) -> dict[str, list[str]]:
    """A seeded train/validation/test split of image ids in which all images of one lesion fall
    on the same side (an image without a lesion id is its own group), stratified by class.

    Per class (a group's class is its most common label), the groups are shuffled and each goes
    to the split furthest below its target number of images, so every class ends up close to
    ``fractions`` as far as the group sizes allow. The result does not depend on input order."""
    if len(fractions) != len(SPLITS) or not math.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise ValueError("fractions must be three non-negative numbers summing to 1")
    groups: dict[str, list[str]] = defaultdict(list)
    for image_id in sorted(labels):
        groups[lesion_ids.get(image_id) or f"image:{image_id}"].append(image_id)
    group_class = {
        name: sorted(Counter(labels[i] for i in ids).items(), key=lambda item: (-item[1], item[0]))[0][0]
        for name, ids in groups.items()
    }
    rng = np.random.default_rng(seed)
    result: dict[str, list[str]] = {name: [] for name in SPLITS}
    for label in sorted(set(group_class.values())):
        names = sorted(name for name, cls in group_class.items() if cls == label)
        order = rng.permutation(len(names))
        total = sum(len(groups[name]) for name in names)
        counts = np.zeros(len(SPLITS))
        for index in order:
            ids = groups[names[index]]
            target = int(np.argmax(np.asarray(fractions) * total - counts))
            counts[target] += len(ids)
            result[SPLITS[target]].extend(ids)
    return {name: sorted(ids) for name, ids in result.items()}


def class_weights(*, labels: np.ndarray, num_classes: int = len(CLASSES)) -> np.ndarray:
    """Balanced weights n / (k · n_c): every class contributes equally to the loss. A class
    absent from ``labels`` gets weight 0."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def data_summary(*, images: Mapping[str, LabelledImage], split: Mapping[str, Sequence[str]]) -> dict:
    """Counts per class and per source repository (and class) of every split."""
    summary = {}
    for name, ids in split.items():
        per_source: dict[str, Counter] = defaultdict(Counter)
        for image_id in ids:
            per_source[source_repository(images[image_id].source)][images[image_id].label] += 1
        summary[name] = {
            "images": len(ids),
            "classes": {label: sum(images[i].label == label for i in ids) for label in CLASSES},
            "sources": {
                repo: {label: counts[label] for label in CLASSES} for repo, counts in sorted(per_source.items())
            },
        }
    return summary


# Images ------------------------------------------------------------------------------------


def load_image_cache(*, paths: Sequence[Path], size: int, workers: int = 2, log: Log | None = None) -> np.ndarray:
    """Preprocess every image once (the one preprocessing function) into a float16 array
    (n, size, size, 3) kept in memory, so epochs never decode JPEGs."""
    cache = np.empty((len(paths), size, size, 3), dtype=np.float16)

    def load(index: int) -> None:
        cache[index] = preprocess(Path(paths[index]).read_bytes(), size=size)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(load, range(len(paths))), start=1):
            if log and (done % 500 == 0 or done == len(paths)):
                log(f"  preprocessed {done}/{len(paths)} images")
    return cache
