"""Image quality checks of one uploaded photograph: resolution, focus, exposure, and whether it
looks like a close-up of skin at all. NumPy and OpenCV only (the workers' dependencies).

:func:`image_checks` computes every score on a fixed-size downscale (``ANALYSIS_SIZE`` square,
the way the model sees the image), so a score does not depend on the camera's resolution, and
compares it with :data:`DEFAULT_THRESHOLDS`. Those thresholds were measured, not hand-picked:
:func:`folder_scores` computes the scores of every image of a folder,
:func:`thresholds_from_scores` takes their quantiles and :func:`fit_appearance` the appearance
statistics (composed by :func:`skinml.quality_eval.measure_image_thresholds`; figures at
``DEFAULT_THRESHOLDS``).

The out-of-distribution scores of the model's own output are :mod:`skinml.ood`; the two are put
together by :func:`skinml.gate.assess`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

Status = Literal["ok", "warning", "rejected"]
SEVERITY_ORDER: dict[str, int] = {"ok": 0, "warning": 1, "rejected": 2}

#: Side of the square downscale every score is computed on (pixels).
ANALYSIS_SIZE = 256
#: The central region (fraction of each side) where focus and exposure are judged: dermoscopic
#: images put the lesion in the middle and often have a black vignette in the corners.
CENTRAL_FRACTION = 0.5
#: Pixels this dark (luminance, 0–255) are the dermoscope's vignette, left out of the skin fraction.
VIGNETTE_LUMINANCE = 25.0
#: A channel at or above / at or below these values counts as clipped.
HIGHLIGHT_LEVEL = 250
SHADOW_LEVEL = 5
#: Skin chroma in YCrCb (Chai & Ngan 1999, widened towards the pink and brown of dermoscopy).
SKIN_CR = (133, 180)
SKIN_CB = (70, 135)


@dataclass(frozen=True)
class Finding:
    code: str  # "low_resolution", "out_of_focus", "over_exposed", "under_exposed", "not_skin", "out_of_distribution"
    severity: Status  # "warning" or "rejected"
    message: str  # plain words for a clinician
    advice: str  # how to retake the picture


@dataclass(frozen=True)
class QualityVerdict:
    status: Status  # the worst severity of the findings, "ok" if none
    findings: tuple[Finding, ...]
    scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """``{"status", "reasons": [{"code", "severity", "message", "advice"}, ...], "scores"}``,
        JSON-serialisable."""
        return {
            "status": self.status,
            "reasons": [asdict(finding) for finding in self.findings],
            "scores": {key: float(value) for key, value in self.scores.items()},
        }


def worst_status(findings: Iterable[Finding]) -> Status:
    """The most severe status of ``findings``: "rejected" over "warning" over "ok"."""
    status: Status = "ok"
    for finding in findings:
        if SEVERITY_ORDER[finding.severity] > SEVERITY_ORDER[status]:
            status = finding.severity
    return status


def verdict(*, findings: Sequence[Finding], scores: Mapping[str, float]) -> QualityVerdict:
    return QualityVerdict(
        status=worst_status(findings),
        findings=tuple(findings),
        scores={key: float(value) for key, value in scores.items()},
    )


# What a clinician is told ---------------------------------------------------------------------

MESSAGES: dict[str, tuple[str, str]] = {
    "low_resolution": (
        "too small to assess",
        "Take the picture at the camera's full resolution; do not send a thumbnail or a screenshot.",
    ),
    "out_of_focus": (
        "out of focus",
        "Hold the dermatoscope still and focus on the lesion before taking the picture.",
    ),
    "over_exposed": (
        "over-exposed",
        "Reduce the light or the flash, avoid reflections, and use the dermatoscope's contact fluid or polarised mode.",
    ),
    "under_exposed": (
        "under-exposed",
        "Turn on the dermatoscope's light or add light, and retake the picture.",
    ),
    "not_skin": (
        "does not look like an image of a skin lesion",
        "Upload a dermoscopic or close-up photograph of the lesion, filling most of the picture.",
    ),
    "out_of_distribution": (
        "unlike the lesions the model was trained on",
        "The model knows only melanoma, nevus and basal cell carcinoma in dermoscopic images; "
        "judge this lesion clinically, or retake a centred dermoscopic picture.",
    ),
}


#: A warning's wording: the result is shown, so it says what may be less reliable, not that the
#: image cannot be judged (about 11 % of good ISIC images get one).
WARNING_MESSAGES: dict[str, str] = {
    "low_resolution": "smaller than most dermoscopic images",
    "out_of_focus": "slightly out of focus",
    "over_exposed": "bright or reflective in places",
    "under_exposed": "rather dark",
    "not_skin": "unusual colours or framing for a dermoscopic image",
    "out_of_distribution": "unusual for the lesions the model was trained on",
}


def finding(code: str, severity: Status) -> Finding:
    message, advice = MESSAGES[code]
    if severity == "warning":
        message = WARNING_MESSAGES[code]
    return Finding(code=code, severity=severity, message=message, advice=advice)


# Thresholds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """A score is flagged "warning" past ``warning`` and "rejected" past ``rejected``; ``below``
    says which way is bad (True: low values, e.g. focus)."""

    warning: float
    rejected: float
    below: bool

    def severity(self, value: float) -> Status:
        if self.below:
            return "rejected" if value < self.rejected else "warning" if value < self.warning else "ok"
        return "rejected" if value > self.rejected else "warning" if value > self.warning else "ok"


#: Which check each thresholded score belongs to. A check's severity is the worst of its scores.
CHECK_OF_SCORE: dict[str, str] = {
    "resolution_px": "low_resolution",
    "focus_laplacian": "out_of_focus",
    "clipped_highlights": "over_exposed",
    "mean_luminance_high": "over_exposed",
    "clipped_shadows": "under_exposed",
    "mean_luminance_low": "under_exposed",
    "skin_fraction": "not_skin",
    "appearance_distance": "not_skin",
}

#: Measured with ``python -m skinml.quality_eval /work/shared/data/isic <card>``
#: (:func:`skinml.quality_eval.measure_image_thresholds`): quantiles of the 4,221 ISIC MEL/NV/BCC
#: images outside the bundled model's test split (1.0.0 and 1.1.0 share it), "rejected" at the 0.5 % tail and
#: "warning" at the 2.5 % tail of each score on its bad side, to 3 digits. Two exceptions:
#: - resolution: the smallest real images are 150 px (200×150: 848 images, 180×180: 290), so
#:   "rejected" is below 112 px (half the model's 224 px input) and "warning" below the smallest
#:   training image; resolution never says "not a lesion";
#: - clipped fractions: no ISIC image has clipped shadows in its centre (the quantiles are 0 and
#:   0.001), so they are floored at 1 % (warning) and 5 % (rejected) of the central pixels.
#: Rates (any image check "rejected" / at least "warning"): the 4,221 images 2.7 % / 12.6 %;
#: the 429 images of the test split 2.8 % / 11.2 % (per check rejected: focus 0.5 %, over-exposed
#: 0.9 %, under-exposed 0.7 %, not skin 0.7 %, resolution 0 %).
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "resolution_px": Threshold(warning=150.0, rejected=112.0, below=True),
    "focus_laplacian": Threshold(warning=8.91, rejected=6.42, below=True),
    "clipped_highlights": Threshold(warning=0.0728, rejected=0.432, below=False),
    "mean_luminance_high": Threshold(warning=191.0, rejected=210.0, below=False),
    "clipped_shadows": Threshold(warning=0.01, rejected=0.05, below=False),
    "mean_luminance_low": Threshold(warning=68.1, rejected=46.3, below=True),
    "skin_fraction": Threshold(warning=0.255, rejected=0.108, below=True),
    "appearance_distance": Threshold(warning=4.04, rejected=4.96, below=False),
}
#: Lowest thresholds of the clipped fractions (see above).
CLIPPED_FLOOR = {"warning": 0.01, "rejected": 0.05}

#: The appearance of a dermoscopic image, for ``appearance_distance``: the mean and the inverse
#: covariance of :func:`appearance_features` over the same 4,221 ISIC images
#: (:func:`fit_appearance`). Natural photographs (sklearn's sample images, a portrait) lie at
#: 6.3–7.8, out-of-scope ISIC lesion types mostly below 3.
APPEARANCE_FEATURES = ("log_focus_laplacian", "log_focus_tenengrad", "skin_fraction", "log_colourfulness", "luminance")
APPEARANCE_MEAN: tuple[float, ...] = (3.90333, 0.781777, 0.875756, 3.4858, 0.523735)
APPEARANCE_PRECISION: tuple[tuple[float, ...], ...] = (
    (2.75712, -4.91407, -0.160794, -0.725996, -0.769165),
    (-4.91407, 15.52, 1.09625, 0.716168, 6.62251),
    (-0.160794, 1.09625, 24.369, 0.5837, 0.568074),
    (-0.725996, 0.716168, 0.5837, 9.73431, 6.29667),
    (-0.769165, 6.62251, 0.568074, 6.29667, 74.4672),
)


# The scores -------------------------------------------------------------------------------------


def _central(array: np.ndarray, fraction: float = CENTRAL_FRACTION) -> np.ndarray:
    h, w = array.shape[:2]
    dy, dx = round(h * (1 - fraction) / 2), round(w * (1 - fraction) / 2)
    return array[dy : h - dy, dx : w - dx]


def image_scores(rgb: np.ndarray) -> dict[str, float]:
    """Every image-check score of one HxWx3 uint8 RGB image (plain floats):

    - ``resolution_px``: the shorter side of the original.
    - ``focus_laplacian``: variance of the 3×3 Laplacian of the luminance (0–255) on the central
      region of the ``ANALYSIS_SIZE`` downscale; ``focus_tenengrad``: mean squared Sobel gradient
      magnitude there (divided by 1000). Both fall when the image is blurred.
    - ``clipped_highlights`` / ``clipped_shadows``: fraction of central pixels with a channel
      ≥ ``HIGHLIGHT_LEVEL`` / with every channel ≤ ``SHADOW_LEVEL``; ``mean_luminance``: their
      mean luminance (0–255).
    - ``skin_fraction``: fraction of the non-vignette pixels whose YCrCb chroma is skin-like;
      ``colourfulness``: Hasler & Süsstrunk's M of the whole downscale.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    h, w = rgb.shape[:2]
    interpolation = cv2.INTER_AREA if min(h, w) >= ANALYSIS_SIZE else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(rgb), (ANALYSIS_SIZE, ANALYSIS_SIZE), interpolation=interpolation)
    luminance = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    centre = _central(luminance)
    laplacian = cv2.Laplacian(centre, cv2.CV_32F, ksize=1)
    gx = cv2.Sobel(centre, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(centre, cv2.CV_32F, 0, 1, ksize=3)
    centre_rgb = _central(small)
    ycrcb = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)
    lit = luminance > VIGNETTE_LUMINANCE
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    skin = (cr >= SKIN_CR[0]) & (cr <= SKIN_CR[1]) & (cb >= SKIN_CB[0]) & (cb <= SKIN_CB[1]) & lit
    r, g, b = (small[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    mean_luminance = float(centre.mean())
    scores = {
        "resolution_px": float(min(h, w)),
        "focus_laplacian": float(laplacian.var()),
        "focus_tenengrad": float((gx**2 + gy**2).mean() / 1000.0),
        "clipped_highlights": float((centre_rgb >= HIGHLIGHT_LEVEL).any(axis=-1).mean()),
        "clipped_shadows": float((centre_rgb <= SHADOW_LEVEL).all(axis=-1).mean()),
        "mean_luminance": mean_luminance,
        "skin_fraction": float(skin.sum() / max(int(lit.sum()), 1)) if lit.mean() > 0.05 else 0.0,
        "colourfulness": float(colourfulness),
    }
    scores["appearance_distance"] = float(appearance_distance(appearance_features(scores)))
    return scores


def appearance_features(scores: Mapping[str, float | np.ndarray]) -> np.ndarray:
    """The :data:`APPEARANCE_FEATURES` of one image's scores (5,) or of arrays of scores (n, 5)."""
    return np.stack(
        [
            np.log1p(np.asarray(scores["focus_laplacian"], dtype=np.float64)),
            np.log1p(np.asarray(scores["focus_tenengrad"], dtype=np.float64)),
            np.asarray(scores["skin_fraction"], dtype=np.float64),
            np.log1p(np.asarray(scores["colourfulness"], dtype=np.float64)),
            np.asarray(scores["mean_luminance"], dtype=np.float64) / 255.0,
        ],
        axis=-1,
    )


def appearance_distance(
    features: np.ndarray,
    *,
    mean: Sequence[float] = APPEARANCE_MEAN,
    precision: Sequence[Sequence[float]] = APPEARANCE_PRECISION,
) -> float | np.ndarray:
    """Mahalanobis distance of :func:`appearance_features` from those of dermoscopic images:
    how unlike a dermoscopic close-up of skin the picture's sharpness, colour and brightness are."""
    centred = np.asarray(features, dtype=np.float64) - np.asarray(mean)
    squared = np.einsum("...i,ij,...j->...", centred, np.asarray(precision), centred)
    return np.sqrt(np.maximum(squared, 0.0))


def fit_appearance(scores: Mapping[str, np.ndarray]) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]:
    """(mean, precision) of the appearance features of good images, for :data:`APPEARANCE_MEAN`
    and :data:`APPEARANCE_PRECISION` (rounded to 6 significant digits)."""
    features = appearance_features(scores)
    mean = features.mean(axis=0)
    precision = np.linalg.inv(np.cov(features, rowvar=False))
    return (
        tuple(float(f"{v:.6g}") for v in mean),
        tuple(tuple(float(f"{v:.6g}") for v in row) for row in precision),
    )


def _thresholded_value(scores: Mapping[str, float], name: str) -> float:
    return scores["mean_luminance"] if name.startswith("mean_luminance") else scores[name]


def image_checks(
    rgb: np.ndarray, *, thresholds: Mapping[str, Threshold] | None = None
) -> tuple[dict[str, float], list[Finding]]:
    """The scores of :func:`image_scores` and the findings they give (at most one per check, with
    the worst severity of its scores), against ``thresholds`` (default :data:`DEFAULT_THRESHOLDS`).

    Resolution is only ever "low_resolution", never the out-of-scope signal: many real ISIC
    images are 150–256 px."""
    thresholds = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    scores = image_scores(rgb)
    return scores, findings_of(scores, thresholds=thresholds)


#: A picture already rejected as blurred or badly exposed looks unusual, and loses its skin colour
#: to clipping, for that reason: it is not also called "not a lesion" (it is rejected anyway).
_CAUSES_OF_UNUSUAL_APPEARANCE = ("out_of_focus", "over_exposed", "under_exposed")


def findings_of(scores: Mapping[str, float], *, thresholds: Mapping[str, Threshold] | None = None) -> list[Finding]:
    """The findings of precomputed :func:`image_scores` (see :func:`image_checks`)."""
    thresholds = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    severities: dict[str, Status] = {}
    for name, threshold in thresholds.items():
        severity = threshold.severity(_thresholded_value(scores, name))
        check = CHECK_OF_SCORE[name]
        if SEVERITY_ORDER[severity] > SEVERITY_ORDER[severities.get(check, "ok")]:
            severities[check] = severity
    if any(severities.get(check) == "rejected" for check in _CAUSES_OF_UNUSUAL_APPEARANCE):
        severities.pop("not_skin", None)
    return [finding(check, severity) for check, severity in severities.items() if severity != "ok"]


# Measuring the thresholds -----------------------------------------------------------------------


def read_rgb(path: Path) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB, through the one decoding function (EXIF orientation)."""
    from .preprocessing import load_rgb

    return np.asarray(load_rgb(Path(path).read_bytes()))


def folder_scores(paths: Iterable[Path]) -> dict[str, np.ndarray]:
    """:func:`image_scores` of every image file, as one array per score (in the order given)."""
    rows = [image_scores(read_rgb(path)) for path in paths]
    if not rows:
        return {}
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def thresholds_from_scores(
    scores: Mapping[str, np.ndarray], *, rejected_tail: float = 0.005, warning_tail: float = 0.025
) -> dict[str, Threshold]:
    """Each thresholded score's ``rejected_tail`` and ``warning_tail`` quantiles on the bad side,
    from the scores of good (in-distribution) images. Resolution keeps its rule (see
    :data:`DEFAULT_THRESHOLDS`)."""
    chosen = {"resolution_px": DEFAULT_THRESHOLDS["resolution_px"]}
    for name, default in DEFAULT_THRESHOLDS.items():
        if name == "resolution_px":
            continue
        values = scores["mean_luminance" if name.startswith("mean_luminance") else name]
        if default.below:
            rejected, warning = np.quantile(values, [rejected_tail, warning_tail])
        else:
            rejected, warning = np.quantile(values, [1 - rejected_tail, 1 - warning_tail])
        if name.startswith("clipped_"):
            warning, rejected = max(warning, CLIPPED_FLOOR["warning"]), max(rejected, CLIPPED_FLOOR["rejected"])
        chosen[name] = Threshold(warning=float(warning), rejected=float(rejected), below=default.below)
    return chosen


def rates(scores: Mapping[str, np.ndarray], thresholds: Mapping[str, Threshold] | None = None) -> dict[str, float]:
    """For precomputed arrays of ``scores``: the fraction of images whose worst image-check finding
    is "rejected", at least "warning", and the "rejected" fraction per check."""
    n = len(next(iter(scores.values())))
    per_image = [findings_of({k: float(v[i]) for k, v in scores.items()}, thresholds=thresholds) for i in range(n)]
    statuses = [worst_status(found) for found in per_image]
    result = {
        "images": n,
        "rejected": sum(s == "rejected" for s in statuses) / max(n, 1),
        "warning_or_worse": sum(s != "ok" for s in statuses) / max(n, 1),
    }
    for check in dict.fromkeys(CHECK_OF_SCORE.values()):
        hits = sum(any(f.code == check and f.severity == "rejected" for f in found) for found in per_image)
        result[f"rejected_{check}"] = hits / max(n, 1)
    return result


def rounded(thresholds: Mapping[str, Threshold], digits: int = 3) -> dict[str, Threshold]:
    return {
        name: replace(t, warning=float(f"{t.warning:.{digits}g}"), rejected=float(f"{t.rejected:.{digits}g}"))
        for name, t in thresholds.items()
    }
