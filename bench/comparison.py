"""Lesion tracking benchmark: prints measured times (nothing here is assumed).

    .venv/bin/python bench/comparison.py [--pairs N] [--side 1024]

1. ``skinml.change.compare`` on pairs of ``--side``-px images: real ISIC images from
   ../shared/data/isic/images (the largest ones, upscaled to the side: none is 1024 px), the later
   one rotated, rescaled and cropped back to a full frame; drawn lesions when the data is absent.
2. ``skinml.measurement.measure`` of one image (a worker's cost per uploaded image).
3. ``skinml.registration.align`` alone.

Median and p90 over the pairs, in this process, after one warm-up call; OpenCV's own threads as
configured (``cv2.getNumThreads()`` is printed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_IMAGES = ROOT.parent / "shared" / "data" / "isic" / "images"

sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(name: str, values_ms: list[float]) -> str:
    return f"| {name} | {statistics.median(values_ms):.0f} | {percentile(values_ms, 90):.0f} | {len(values_ms)} |"


def source_images(count: int, side: int):
    import cv2

    if SHARED_IMAGES.is_dir():
        from PIL import Image

        paths = [p for p in sorted(SHARED_IMAGES.glob("*.jpg")) if max(Image.open(p).size) >= 600]
        step = max(1, len(paths) // count)
        for path in paths[::step][:count]:
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            factor = side / max(rgb.shape[:2])
            yield cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        return
    from tests.skinml.synthetic_lesions import blob_scene

    for seed in range(count):
        yield blob_scene(round(side * 0.75), side, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--side", type=int, default=1024)
    args = parser.parse_args()

    import cv2
    import numpy as np

    from skinml.change import compare
    from skinml.measurement import measure
    from skinml.registration import align
    from tests.skinml.synthetic_lesions import later_visit

    rng = np.random.default_rng(0)
    pairs = []
    for index, earlier in enumerate(source_images(args.pairs, args.side)):
        later, _ = later_visit(earlier, angle=rng.uniform(-20, 20), scale=rng.uniform(0.9, 1.1), frame=0.95, seed=index)
        # Back to the full side: both visits are taken at the same resolution.
        later = cv2.resize(later, (args.side, args.side), interpolation=cv2.INTER_CUBIC)
        pairs.append((earlier, later))
    compare(*pairs[0])  # warm-up

    compare_ms, measure_ms, align_ms, aligned = [], [], [], 0
    for earlier, later in pairs:
        started = time.perf_counter()
        result = compare(earlier, later)
        compare_ms.append(1000 * (time.perf_counter() - started))
        aligned += result.registration.succeeded
        started = time.perf_counter()
        measure(earlier)
        measure_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        align(earlier, later)
        align_ms.append(1000 * (time.perf_counter() - started))

    shape = pairs[0][0].shape
    source = "ISIC images upscaled" if SHARED_IMAGES.is_dir() else "drawn lesions"
    print(f"{len(pairs)} pairs, earlier {shape[1]}x{shape[0]} and later {args.side}x{args.side} px ({source}); ")
    print(f"cv2 threads {cv2.getNumThreads()}; aligned {aligned}/{len(pairs)}\n")
    print("| step | median ms | p90 ms | n |")
    print("| --- | --- | --- | --- |")
    print(row("compare() of two images", compare_ms))
    print(row("measure() of one image", measure_ms))
    print(row("align() of two images", align_ms))


if __name__ == "__main__":
    main()
