"""Measuring and evaluating the image quality and out-of-scope gate (issue 14).

- :func:`measure_image_thresholds`: the image-check thresholds of :mod:`skinml.quality`, from the
  scores of real ISIC images outside a model's test split, and the rates they give on the test
  split. ``python -m skinml.quality_eval <isic dir> <model .card.json>`` prints them.
- :func:`evaluate_gate`: the whole gate (:func:`skinml.gate.assess` with the model's LiteRT
  output) on the in-distribution test split and on kinds of bad image: photographs that are not
  skin, synthetic degradations of the same test images, and lesion types the model does not know
  (``isic-other``). Writes ``quality_eval.json`` and ``quality_eval.png``.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import quality
from .data import Log, read_labels
from .engine import LiteRTEngine
from .gate import assess
from .ood import OODStatistics
from .preprocessing import preprocess


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


# Bad images ------------------------------------------------------------------------------------


def _short(rgb: np.ndarray) -> int:
    return min(rgb.shape[:2])


def _gaussian_blur(rgb: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), 0.02 * _short(rgb))


def _motion_blur(rgb: np.ndarray) -> np.ndarray:
    length = max(3, int(0.08 * _short(rgb)) | 1)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    return cv2.filter2D(rgb, -1, kernel)


def _jpeg(rgb: np.ndarray, quality_level: int = 5) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality_level)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def _corner(rgb: np.ndarray) -> np.ndarray:
    """The top-left corner (a quarter of each side): skin or vignette without the lesion."""
    h, w = rgb.shape[:2]
    return cv2.resize(rgb[: h // 4, : w // 4], (w, h), interpolation=cv2.INTER_LINEAR)


#: Synthetic degradations of a real in-distribution image (each from the image as decoded).
DEGRADATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gaussian_blur": _gaussian_blur,
    "motion_blur": _motion_blur,
    "over_exposure": lambda rgb: np.clip(rgb.astype(np.float32) * 2.2 + 40, 0, 255).astype(np.uint8),
    "under_exposure": lambda rgb: (rgb.astype(np.float32) * 0.18).astype(np.uint8),
    "heavy_jpeg": _jpeg,
    "corner_without_lesion": _corner,
    "channels_bgr": lambda rgb: np.ascontiguousarray(rgb[..., ::-1]),
    "channels_rotated": lambda rgb: np.ascontiguousarray(rgb[..., [1, 2, 0]]),
}


def non_skin_images(seed: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """Photographs and pictures that are not skin, all without a download: scikit-learn's two
    sample photographs and crops of them, matplotlib's sample portrait (a face: skin, but not a
    lesion), and constructed images (flat colours, noise, gradients, a checkerboard, text)."""
    import matplotlib
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    photographs = {name: rgb for name, rgb in zip(("china", "flower"), load_sample_images().images, strict=True)}
    for name, rgb in photographs.items():
        yield f"photo:{name}", rgb
        h, w = rgb.shape[:2]
        for index in range(6):
            size = int(rng.uniform(0.35, 0.7) * min(h, w))
            y, x = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
            yield f"photo:{name}-crop{index}", np.ascontiguousarray(rgb[y : y + size, x : x + size])
    portrait = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if portrait.is_file():
        yield "photo:portrait", quality.read_rgb(portrait)
    for name, colour in {"grey": (128, 128, 128), "white": (245, 245, 245), "blue": (40, 80, 200)}.items():
        yield (
            f"flat:{name}",
            np.clip(np.full((400, 400, 3), colour) + rng.normal(0, 6, (400, 400, 3)), 0, 255).astype(np.uint8),
        )
    yield "noise", rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, 400, dtype=np.float32)
    gradient = np.stack([np.tile(ramp, (400, 1)), np.tile(ramp[:, None], (1, 400)), np.full((400, 400), 90.0)], -1)
    yield "gradient", gradient.astype(np.uint8)
    checks = ((np.indices((400, 400)) // 40).sum(axis=0) % 2 * 255).astype(np.uint8)
    yield "checkerboard", np.repeat(checks[..., None], 3, axis=-1)
    page = np.full((400, 400, 3), 250, np.uint8)
    for row in range(12):
        origin = (10, 30 + 30 * row)
        cv2.putText(page, "Patient notes, lesion left arm", origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1)
    yield "text", page


# Running the gate -------------------------------------------------------------------------------


#: Scores oriented so that HIGHER = worse, for the AUROCs (luminance: distance from mid-grey).
ORIENTED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "energy": lambda v: v,
    "mahalanobis": lambda v: v,
    "appearance_distance": lambda v: v,
    "focus_laplacian": lambda v: -np.log1p(v),
    "focus_tenengrad": lambda v: -np.log1p(v),
    "clipped_highlights": lambda v: v,
    "clipped_shadows": lambda v: v,
    "mean_luminance": lambda v: np.abs(v - 128.0),
    "skin_fraction": lambda v: -v,
}


class GateRunner:
    """The model's LiteRT output and :func:`skinml.gate.assess` of RGB images, with timings."""

    def __init__(self, *, runtime_path: Path, statistics: OODStatistics | None, temperature: float) -> None:
        self.engine = LiteRTEngine(runtime_path, num_threads=2)
        self.statistics = statistics
        self.temperature = temperature
        self.assess_ms: list[float] = []
        self.model_ms: list[float] = []

    def __call__(self, rgb: np.ndarray) -> dict:
        started = time.perf_counter()
        output = self.engine.run(preprocess(Image.fromarray(rgb), size=self.engine.input_size))
        self.model_ms.append(1000 * (time.perf_counter() - started))
        started = time.perf_counter()
        result = assess(
            rgb=rgb,
            logits=output.logits,
            features=output.features,
            statistics=self.statistics,
            temperature=self.temperature,
        )
        self.assess_ms.append(1000 * (time.perf_counter() - started))
        rejected = [f.code for f in result.findings if f.severity == "rejected"]
        return {"status": result.status, "codes": rejected, **result.scores}


def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    codes: dict[str, int] = {}
    for row in rows:
        for code in row["codes"]:
            codes[code] = codes.get(code, 0) + 1
    return {
        "images": n,
        "rejected": sum(r["status"] == "rejected" for r in rows) / max(n, 1),
        "warning_or_worse": sum(r["status"] != "ok" for r in rows) / max(n, 1),
        "rejected_by": {code: count / max(n, 1) for code, count in sorted(codes.items())},
    }


def aurocs(good: list[dict], bad: list[dict]) -> dict[str, float | None]:
    """AUROC of each oriented score, good (label 0) against bad (label 1)."""
    from sklearn.metrics import roc_auc_score

    result: dict[str, float | None] = {}
    for name, orient in ORIENTED.items():
        if not good or not bad or name not in good[0] or name not in bad[0]:
            continue
        values = orient(np.array([row[name] for row in good + bad], dtype=np.float64))
        labels = np.r_[np.zeros(len(good)), np.ones(len(bad))]
        result[name] = round(float(roc_auc_score(labels, values)), 4)
    return result


def evaluate_gate(
    *,
    runtime_path: Path,
    card: dict,
    ood_path: Path | None,
    isic_dir: Path,
    other_dir: Path | None,
    output_dir: Path,
    max_images: int | None = None,
    log: Log = print,
) -> dict:
    """Run the gate on the card's ISIC test split, its degradations, non-skin pictures and (when
    ``other_dir`` exists) the out-of-scope lesion types; write the figures (JSON and PNG)."""
    statistics = OODStatistics.load(ood_path) if ood_path else None
    runner = GateRunner(
        runtime_path=runtime_path, statistics=statistics, temperature=float(card.get("temperature", 1.0))
    )
    test_ids = list(card["split"]["test_ids"])[:max_images]
    test_images = [quality.read_rgb(Path(isic_dir) / "images" / f"{i}.jpg") for i in test_ids]
    log(f"In-distribution: {len(test_images)} ISIC test-split images")
    groups: dict[str, list[dict]] = {"in_distribution": [runner(rgb) for rgb in test_images]}
    log("Non-skin pictures ...")
    groups["non_skin"] = [runner(rgb) for _, rgb in non_skin_images()]
    for name, degrade in DEGRADATIONS.items():
        log(f"Degradation {name} ...")
        groups[name] = [runner(degrade(rgb)) for rgb in test_images]
    if other_dir and (Path(other_dir) / "labels.csv").is_file():
        with (Path(other_dir) / "labels.csv").open(newline="") as handle:
            others = [row["image"] for row in csv.DictReader(handle)][:max_images]
        log(f"Out-of-scope lesion types: {len(others)} images ...")
        folder = Path(other_dir) / "images"
        groups["other_lesion_types"] = [runner(quality.read_rgb(folder / f"{i}.jpg")) for i in others]
    good = groups["in_distribution"]
    figures = {
        "model": {
            "name": card.get("name"),
            "version": card.get("version"),
            "ood_file": Path(ood_path).name if ood_path else None,
        },
        "in_distribution": summarise(good),
        "kinds": {
            name: {**summarise(rows), "auroc": aurocs(good, rows)}
            for name, rows in groups.items()
            if name != "in_distribution"
        },
        "timing_ms": {
            "assess_median": round(float(np.median(runner.assess_ms)), 3),
            "assess_p95": round(float(np.percentile(runner.assess_ms, 95)), 3),
            "model_median": round(float(np.median(runner.model_ms)), 3),
        },
    }
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "quality_eval.json").write_text(json.dumps(figures, indent=2) + "\n")
    plot_figures(figures, output_dir / "quality_eval.png")
    return figures


def plot_figures(figures: dict, path: Path) -> None:
    """Detection rates per kind (rejected, warning or worse) and the AUROC of each score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(figures["kinds"])
    scores = list(ORIENTED)
    fig, (bars, heat) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [1, 1.3]})
    y = np.arange(len(kinds))
    bars.barh(y + 0.2, [figures["kinds"][k]["warning_or_worse"] for k in kinds], 0.4, label="warning or worse")
    bars.barh(y - 0.2, [figures["kinds"][k]["rejected"] for k in kinds], 0.4, label="rejected")
    false_reject = figures["in_distribution"]["rejected"]
    bars.axvline(false_reject, color="k", linestyle="--", label=f"ISIC test rejected ({false_reject:.1%})")
    bars.set_yticks(y, kinds)
    bars.set_xlim(0, 1)
    bars.set_xlabel("fraction of images")
    bars.set_title("Detection rate per kind of bad image")
    bars.legend(loc="lower right", fontsize=8)
    grid = np.array([[figures["kinds"][k]["auroc"].get(s) or np.nan for s in scores] for k in kinds])
    image = heat.imshow(grid, vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
    heat.set_xticks(range(len(scores)), scores, rotation=45, ha="right")
    heat.set_yticks(range(len(kinds)), kinds)
    for i in range(len(kinds)):
        for j in range(len(scores)):
            if not np.isnan(grid[i, j]):
                heat.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
    heat.set_title("AUROC vs the ISIC test split (higher score = worse)")
    fig.colorbar(image, ax=heat)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


def evaluation_summary(figures: dict) -> dict:
    """What the model card keeps of :func:`evaluate_gate`'s figures: per kind of image, how many,
    the share rejected and warned, and each score's AUROC; the in-distribution false-reject rate."""
    return {
        "in_distribution": {key: figures["in_distribution"][key] for key in ("images", "rejected", "warning_or_worse")},
        "kinds": {
            kind: {key: summary.get(key) for key in ("images", "rejected", "warning_or_worse", "auroc")}
            for kind, summary in figures["kinds"].items()
        },
    }
