"""Alignment on real pairs: prints how often two images of the same HAM10000 lesion are aligned
and how often two different lesions are (falsely) reported as aligned (measured, nothing assumed).

    .venv/bin/python bench/alignment_rates.py [--same N] [--different N] [--seed S]

Pairs come from ../shared/data/isic (``groundtruth/HAM10000_metadata.csv``, images present in
``images/`` only). Same-lesion pairs are all pairs of images sharing a ``lesion_id`` (sampled);
different-lesion pairs are random pairs of images of different lesions drawn from the same pool,
so both sides have the same mix of sources (224×224 centre crops, 200×150 full frames, ...).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISIC = ROOT.parent / "shared" / "data" / "isic"

sys.path.insert(0, str(ROOT))


def lesion_images(isic: Path = ISIC) -> dict[str, list[str]]:
    """HAM10000 lesion id → image ids present in ``images/``."""
    present = {path.stem for path in (isic / "images").glob("*.jpg")}
    lesions: dict[str, list[str]] = defaultdict(list)
    with (isic / "groundtruth" / "HAM10000_metadata.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["image_id"] in present:
                lesions[row["lesion_id"]].append(row["image_id"])
    return {lesion: sorted(images) for lesion, images in sorted(lesions.items())}


def sample_pairs(
    same: int, different: int, *, seed: int = 0, isic: Path = ISIC
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(same-lesion pairs, different-lesion pairs) of image ids, seeded."""
    lesions = lesion_images(isic)
    rng = random.Random(seed)  # noqa: S311 (a reproducible sample, not a secret)
    same_pairs = [pair for images in lesions.values() for pair in itertools.combinations(images, 2)]
    rng.shuffle(same_pairs)
    pool = [(lesion, image) for lesion, images in lesions.items() if len(images) > 1 for image in images]
    different_pairs: list[tuple[str, str]] = []
    while len(different_pairs) < different:
        (lesion_a, image_a), (lesion_b, image_b) = rng.sample(pool, 2)
        if lesion_a != lesion_b:
            different_pairs.append((image_a, image_b))
    return same_pairs[:same], different_pairs


def read_rgb(image_id: str, isic: Path = ISIC):
    import cv2

    bgr = cv2.imread(str(isic / "images" / f"{image_id}.jpg"), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def run(pairs: list[tuple[str, str]], isic: Path = ISIC) -> list:
    from skinml.registration import align

    return [align(read_rgb(a, isic), read_rgb(b, isic)) for a, b in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--same", type=int, default=200)
    parser.add_argument("--different", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if not (ISIC / "groundtruth" / "HAM10000_metadata.csv").is_file():
        sys.exit(f"needs the ISIC data at {ISIC}")
    same_pairs, different_pairs = sample_pairs(args.same, args.different, seed=args.seed)
    started = time.perf_counter()
    same = run(same_pairs)
    different = run(different_pairs)
    elapsed = time.perf_counter() - started
    aligned = sum(r.succeeded for r in same)
    false = sum(r.succeeded for r in different)
    methods = defaultdict(int)
    for r in same:
        if r.succeeded:
            methods[r.method] += 1
    print("| pairs | count | reported aligned | rate |")
    print("| --- | --- | --- | --- |")
    print(f"| same lesion | {len(same)} | {aligned} | {100 * aligned / max(1, len(same)):.1f} % |")
    print(f"| different lesions | {len(different)} | {false} | {100 * false / max(1, len(different)):.1f} % (false) |")
    print(f"\nsame-lesion alignments by method: {dict(methods)}")
    print(f"{len(same) + len(different)} pairs in {elapsed:.1f} s")
    if args.verbose:
        for label, pairs, results in (("same", same_pairs, same), ("different", different_pairs, different)):
            for (a, b), r in zip(pairs, results, strict=True):
                measures = " ".join(f"{k}={v:.2f}" for k, v in r.measures.items())
                print(f"{label} {a} {b} {r.status} {r.method} conf={r.confidence:.2f} {measures} {r.reason}")


if __name__ == "__main__":
    main()
