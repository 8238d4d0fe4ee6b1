"""Measuring and evaluating the image quality and out-of-scope gate (issue 14).

- :func:`measure_image_thresholds`: the image-check thresholds of :mod:`skinml.quality`, from the
  scores of real ISIC images outside a model's test split, and the rates they give on the test
  split. ``python -m skinml.quality_eval <isic dir> <model .card.json>`` prints them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import quality
from .data import read_labels


def _isic_paths(images_dir: Path, ids: Sequence[str]) -> list[Path]:
    return [Path(images_dir) / f"{image_id}.jpg" for image_id in ids]


def measure_image_thresholds(
    *,
    images_dir: Path,
    labels_path: Path,
    test_ids: Sequence[str],
    rejected_tail: float = 0.005,
    warning_tail: float = 0.025,
) -> dict:
    """Fit the appearance statistics and choose the image-check thresholds on every labelled
    image NOT in ``test_ids``, then measure the rejected and warning rates on ``test_ids``.
    Returns what to write into :mod:`skinml.quality` and the rates."""
    test = set(test_ids)
    ids = [item.image_id for item in read_labels(path=labels_path)]
    fit_ids = [i for i in ids if i not in test]
    fit_scores = quality.folder_scores(_isic_paths(images_dir, fit_ids))
    test_scores = quality.folder_scores(_isic_paths(images_dir, [i for i in ids if i in test]))
    mean, precision = quality.fit_appearance(fit_scores)
    for scores in (fit_scores, test_scores):
        scores["appearance_distance"] = quality.appearance_distance(
            quality.appearance_features(scores), mean=mean, precision=precision
        )
    thresholds = quality.rounded(
        quality.thresholds_from_scores(fit_scores, rejected_tail=rejected_tail, warning_tail=warning_tail)
    )
    return {
        "fit_images": len(fit_ids),
        "appearance_mean": mean,
        "appearance_precision": precision,
        "thresholds": thresholds,
        "rates_fit": quality.rates(fit_scores, thresholds),
        "rates_test": quality.rates(test_scores, thresholds),
    }


def main(argv: Sequence[str]) -> None:
    isic, card_path = Path(argv[0]), Path(argv[1])
    card = json.loads(card_path.read_text())
    measured = measure_image_thresholds(
        images_dir=isic / "images", labels_path=isic / "labels.csv", test_ids=card["split"]["test_ids"]
    )
    for key, value in measured.items():
        if key == "thresholds":
            for name, threshold in value.items():
                print(f"    {name!r}: {threshold!r},")
        else:
            print(f"{key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
