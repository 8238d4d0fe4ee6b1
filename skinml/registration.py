"""Alignment of a later picture of a lesion to an earlier one (sequential dermoscopy), with a
verdict on whether the alignment can be trusted. NumPy and OpenCV only.

The transform is a similarity (rotation, uniform scale, translation): the skin is nearly flat
under a dermoscope, and the camera is turned and moved closer or further between visits.

:func:`align`:

1. both images are colour-normalised (shades-of-grey), downscaled to at most ``max_side`` a side
   (the transform is reported in full-resolution pixels of each), turned grey and contrast-
   equalised (CLAHE); the dermoscope's dark vignette is masked out;
2. ORB features, matched with Lowe's ratio test, then ``cv2.estimateAffinePartial2D`` with RANSAC;
3. ECC (``cv2.findTransformECC``, affine motion) on a 256-px level refines the feature estimate
   on the skin around the lesion only (the lesion's own growth must not become scale), and is
   kept only when it raises the correlation and stays close to a similarity; when features
   are too few (blur, smooth lesions) ECC alone is tried from a few starting points (centre to
   centre; the two lesions' centroids, sizes and orientations);
4. verification, in the earlier image's frame: the overlap of the two frames, the normalised
   cross-correlation of the band-passed grey images inside it (structure, not just "a dark blob
   on skin"), and the intersection-over-union of the two segmented lesions.

Each measured quantity becomes a factor in [0, 1] that is 0.5 exactly at its acceptance threshold
(:data:`FACTORS`); ``confidence`` is the smallest factor and the status is "succeeded" exactly when
it is at least 0.5 and the transform is plausible (field of view changed at most 3×, nearly a
similarity). Two different
lesions therefore get a low confidence even when a blob-like alignment was found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .colour import shades_of_grey
from .measurement import Segmentation, downscale, segment_small, vignette_mask

ALGORITHM_VERSION = "align-2"  # 2: features on 768 px, a shorter ECC refinement

#: Side (pixels) of the level ECC refines on and the verification is measured on.
ECC_SIDE = 256
#: The longest side features are detected on (larger pictures are reduced first).
FEATURE_SIDE = 768
#: Refining a feature alignment starts close to the answer: fewer ECC steps and a coarser stop
#: (a change of the warp's parameters under 1e-4) than the fallback's search from afar; this
#: halves compare()'s time with the same corner errors on the synthetic pairs (bench/comparison.py).
REFINE_ITERATIONS = 25
REFINE_EPSILON = 1e-4
#: Side of the coarse level where ECC alone searches its starting points.
COARSE_SIDE = 128
#: Plausible change of the field of view between visits: the transform's scale times the ratio of
#: the two images' diagonals (so that a mere change of resolution does not count). A closer view
#: of the same lesion is plausible; beyond 3× the two pictures share too little detail.
SCALE_RANGE = (1.0 / 3.0, 3.0)
#: At most this much anisotropy or shear (relative) in an ECC result before it is not a similarity.
MAX_NON_SIMILARITY = 0.06
#: Lowe's ratio test.
RATIO = 0.8
ORB_FEATURES = 1500


@dataclass(frozen=True)
class Factor:
    """A measured quantity x mapped to [0, 1]: 0 at ``zero``, 0.5 at ``threshold`` (the acceptance
    threshold), 1 at ``full``, linear in between."""

    zero: float
    threshold: float
    full: float

    def __call__(self, x: float) -> float:
        if x <= self.zero:
            return 0.0
        if x < self.threshold:
            return 0.5 * (x - self.zero) / (self.threshold - self.zero)
        if x < self.full:
            return 0.5 + 0.5 * (x - self.threshold) / (self.full - self.threshold)
        return 1.0


#: The factors of the confidence, by the quantity measured.
FACTORS: dict[str, Factor] = {
    # RANSAC inliers of the feature matches (feature methods only).
    "inliers": Factor(zero=4.0, threshold=12.0, full=40.0),
    # Inliers over the matches that passed the ratio test (feature methods only).
    "inlier_ratio": Factor(zero=0.05, threshold=0.15, full=0.5),
    # Overlap of the two frames (without vignette) in the earlier frame, over the smaller frame.
    "overlap": Factor(zero=0.2, threshold=0.4, full=0.8),
    # Normalised cross-correlation of the band-passed grey images inside the overlap.
    "structure_ncc": Factor(zero=0.0, threshold=0.25, full=0.6),
    # IoU of the two lesion masks inside the overlap (when both could be segmented).
    "lesion_iou": Factor(zero=0.1, threshold=0.35, full=0.7),
}
#: ECC alone maximises a correlation itself and has no independent feature evidence: its
#: alignments must correlate more (one different-lesion pair of 150 passed at 0.27 otherwise),
#: and on the skin around the lesion too (the smaller of the two correlations counts).
ECC_STRUCTURE = Factor(zero=0.05, threshold=0.3, full=0.6)
#: Without both lesion masks the lesion check cannot be made: confidence is capped there.
NO_MASK_CAP = 0.75
#: When these factors are all at 1 the alignment stands without the lesion check.
DECISIVE = ("inliers", "inlier_ratio", "structure_ncc")

Matrix = tuple[tuple[float, float, float], tuple[float, float, float]]
IDENTITY: Matrix = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))


@dataclass(frozen=True)
class Registration:
    status: str  # "succeeded" | "failed"
    method: str  # "features" | "features+ecc" | "ecc" | "none"
    matrix: Matrix  # 2x3, maps LATER pixel coordinates to EARLIER ones (full resolution of each)
    rotation_degrees: float
    scale: float
    translation_px: tuple[float, float]
    inliers: int
    confidence: float  # 0..1, the smallest factor of FACTORS (see the module docstring)
    reason: str  # plain words for a clinician when failed, "" when succeeded
    measures: dict[str, float] = field(default_factory=dict, compare=False)  # the measured quantities

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "method": self.method,
            "matrix": [[float(value) for value in row] for row in self.matrix],
            "rotation_degrees": float(self.rotation_degrees),
            "scale": float(self.scale),
            "translation_px": [float(value) for value in self.translation_px],
            "inliers": int(self.inliers),
            "confidence": float(self.confidence),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Registration:
        rows = d["matrix"]
        return cls(
            status=str(d["status"]),
            method=str(d["method"]),
            matrix=(
                (float(rows[0][0]), float(rows[0][1]), float(rows[0][2])),
                (float(rows[1][0]), float(rows[1][1]), float(rows[1][2])),
            ),
            rotation_degrees=float(d["rotation_degrees"]),
            scale=float(d["scale"]),
            translation_px=(float(d["translation_px"][0]), float(d["translation_px"][1])),
            inliers=int(d["inliers"]),
            confidence=float(d["confidence"]),
            reason=str(d["reason"]),
        )

    def as_array(self) -> np.ndarray:
        return np.array(self.matrix, dtype=np.float64)


def registration_from(
    matrix: np.ndarray, *, status: str, method: str, inliers: int, confidence: float, reason: str, measures=None
) -> Registration:
    a, b, tx = (float(value) for value in matrix[0])
    c, d, ty = (float(value) for value in matrix[1])
    return Registration(
        status=status,
        method=method,
        matrix=((a, b, tx), (c, d, ty)),
        rotation_degrees=math.degrees(math.atan2(c - b, a + d)),
        scale=math.sqrt(abs(a * d - b * c)),
        translation_px=(tx, ty),
        inliers=int(inliers),
        confidence=float(round(confidence, 4)),
        reason=reason,
        measures=dict(measures or {}),
    )


def failed(reason: str, *, method: str = "none", matrix=None, inliers: int = 0, confidence: float = 0.0, measures=None):
    return registration_from(
        np.array(IDENTITY if matrix is None else matrix, dtype=np.float64),
        status="failed",
        method=method,
        inliers=inliers,
        confidence=confidence,
        reason=reason,
        measures=measures,
    )


# Pyramid levels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """A grey, contrast-equalised copy of one image and the map from full-resolution pixel
    coordinates to its own (``to_level``, 3x3, pixel centres kept)."""

    grey: np.ndarray
    usable: np.ndarray  # bool, not the vignette
    to_level: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return self.grey.shape[1], self.grey.shape[0]


def resize_map(full_size: tuple[int, int], small_size: tuple[int, int]) -> np.ndarray:
    """3x3 map of pixel coordinates for a resize from ``full_size`` to ``small_size`` (w, h):
    pixel centres map to pixel centres, as in ``cv2.resize``."""
    fx, fy = small_size[0] / full_size[0], small_size[1] / full_size[1]
    return np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5], [0.0, 0.0, 1.0]])


def prepare(rgb: np.ndarray, max_side: int) -> Level:
    height, width = rgb.shape[:2]
    small, _ = downscale(rgb, max_side)
    grey = cv2.cvtColor(shades_of_grey(small), cv2.COLOR_RGB2GRAY)
    usable = ~vignette_mask(grey)
    tiles = max(2, round(max(grey.shape) / 64))
    grey = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(tiles, tiles)).apply(grey)
    return Level(grey, usable, resize_map((width, height), (grey.shape[1], grey.shape[0])))


def reduce(level: Level, max_side: int) -> Level:
    height, width = level.grey.shape
    factor = min(1.0, max_side / max(height, width))
    if factor >= 1.0:
        return level
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    grey = cv2.resize(level.grey, size, interpolation=cv2.INTER_AREA)
    usable = cv2.resize(level.usable.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return Level(grey, usable, resize_map((width, height), size) @ level.to_level)


def to3(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix[:2], [0.0, 0.0, 1.0]])


def between(full: np.ndarray, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """A full-resolution later→earlier matrix expressed between two levels' pixel coordinates."""
    return (earlier @ to3(full) @ np.linalg.inv(later))[:2]


def from_levels(level_matrix: np.ndarray, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    return (np.linalg.inv(earlier) @ to3(level_matrix) @ later)[:2]


# Features -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureResult:
    matrix: np.ndarray | None  # full resolution, later → earlier
    inliers: int
    matches: int


def feature_alignment(earlier: Level, later: Level) -> FeatureResult:
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, scaleFactor=1.2, nlevels=8, edgeThreshold=15, fastThreshold=8)
    keys_e, desc_e = orb.detectAndCompute(earlier.grey, earlier.usable.astype(np.uint8) * 255)
    keys_l, desc_l = orb.detectAndCompute(later.grey, later.usable.astype(np.uint8) * 255)
    if desc_e is None or desc_l is None or len(keys_e) < 3 or len(keys_l) < 3:
        return FeatureResult(None, 0, 0)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(desc_l, desc_e, k=2)
    good = [pair[0] for pair in pairs if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance]
    if len(good) < 3:
        return FeatureResult(None, 0, len(good))
    points_l = np.float32([keys_l[m.queryIdx].pt for m in good])
    points_e = np.float32([keys_e[m.trainIdx].pt for m in good])
    threshold = max(2.0, 0.006 * max(earlier.size))
    matrix, inlier_mask = cv2.estimateAffinePartial2D(
        points_l, points_e, method=cv2.RANSAC, ransacReprojThreshold=threshold, maxIters=5000, confidence=0.995
    )
    if matrix is None:
        return FeatureResult(None, 0, len(good))
    inliers = int(inlier_mask.sum())
    return FeatureResult(from_levels(matrix, earlier.to_level, later.to_level), inliers, len(good))


# ECC ------------------------------------------------------------------------------------------------


def ecc(
    earlier: Level,
    later: Level,
    full: np.ndarray,
    *,
    iterations: int = 60,
    epsilon: float = 1e-5,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, float] | None:
    """ECC (affine) from ``full`` on these levels, using the earlier level's ``mask`` pixels (its
    usable ones by default); the refined full-resolution matrix and ECC's correlation, or None when
    it does not converge."""
    warp = between(full, earlier.to_level, later.to_level).astype(np.float32)
    template = later.grey.astype(np.float32)
    source = earlier.grey.astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, epsilon)
    try:
        correlation, warp = cv2.findTransformECC(
            template,
            source,
            warp,
            cv2.MOTION_AFFINE,
            criteria,
            (earlier.usable if mask is None else mask).astype(np.uint8),
            5,
        )
    except cv2.error:
        return None
    if not np.all(np.isfinite(warp)):
        return None
    return from_levels(warp.astype(np.float64), earlier.to_level, later.to_level), float(correlation)


def non_similarity(matrix: np.ndarray) -> float:
    """How far the linear part is from a similarity, relative to its scale (0 for a similarity)."""
    a, b, c, d = matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1]
    scale = math.sqrt(abs(a * d - b * c)) or 1e-9
    return float(math.hypot(a - d, b + c) / (2.0 * scale))


def similarity_matrix(angle_degrees: float, scale: float, later_point, earlier_point) -> np.ndarray:
    theta = math.radians(angle_degrees)
    linear = scale * np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    translation = np.asarray(earlier_point, dtype=np.float64) - linear @ np.asarray(later_point, dtype=np.float64)
    return np.hstack([linear, translation[:, None]])


def lesion_pose(segmentation: Segmentation | None) -> tuple[tuple[float, float], float, float] | None:
    """Centroid (full-resolution pixels), area (full-resolution pixels²) and orientation (degrees)
    of a segmented lesion."""
    if segmentation is None or segmentation.reason or not segmentation.mask.any():
        return None
    moments = cv2.moments(segmentation.mask.astype(np.uint8), binaryImage=True)
    factor = segmentation.factor
    centroid = (
        (moments["m10"] / moments["m00"] + 0.5) / factor - 0.5,
        (moments["m01"] / moments["m00"] + 0.5) / factor - 0.5,
    )
    orientation = 0.5 * math.degrees(math.atan2(2.0 * moments["mu11"], moments["mu20"] - moments["mu02"]))
    return centroid, moments["m00"] / factor**2, orientation


def ecc_starts(earlier_rgb_shape, later_rgb_shape, earlier_seg, later_seg) -> list[np.ndarray]:
    """Starting points for ECC alone: centre on centre at scale 1, and the later lesion's centroid
    on the earlier one's with the scale of their areas and the rotation of their major axes."""
    earlier_centre = ((earlier_rgb_shape[1] - 1) / 2.0, (earlier_rgb_shape[0] - 1) / 2.0)
    later_centre = ((later_rgb_shape[1] - 1) / 2.0, (later_rgb_shape[0] - 1) / 2.0)
    starts = [similarity_matrix(0.0, 1.0, later_centre, earlier_centre)]
    pose_e, pose_l = lesion_pose(earlier_seg), lesion_pose(later_seg)
    if pose_e and pose_l:
        scale = math.sqrt(pose_e[1] / pose_l[1])
        if 0.25 <= scale <= 4.0:
            turn = pose_e[2] - pose_l[2]
            for angle in (0.0, turn, turn + 180.0):
                starts.append(similarity_matrix(angle, scale, pose_l[0], pose_e[0]))
    return starts


# Verification ------------------------------------------------------------------------------------


def band_pass(grey: np.ndarray) -> np.ndarray:
    image = grey.astype(np.float32)
    return cv2.GaussianBlur(image, (0, 0), 1.0) - cv2.GaussianBlur(image, (0, 0), 4.0)


def ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    if mask.sum() < 50:
        return 0.0
    x = a[mask].astype(np.float64)
    y = b[mask].astype(np.float64)
    x -= x.mean()
    y -= y.mean()
    denominator = math.sqrt(float(np.sum(x * x)) * float(np.sum(y * y)))
    return float(np.sum(x * y) / denominator) if denominator > 0 else 0.0


def overlap_and_ncc(
    earlier: Level, later: Level, full: np.ndarray, *, within: np.ndarray | None = None
) -> tuple[float, float]:
    """The overlap of the two frames over the smaller one, and the band-pass NCC inside it (and
    inside ``within``, a mask of the earlier level, when given)."""
    matrix = between(full, earlier.to_level, later.to_level)
    size = earlier.size
    warped = cv2.warpAffine(later.grey, matrix, size, flags=cv2.INTER_LINEAR)
    valid = cv2.warpAffine(later.usable.astype(np.uint8), matrix, size, flags=cv2.INTER_NEAREST) > 0
    valid = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    overlap = valid & earlier.usable
    # Relative to the smaller of the two frames: a closer view covers only part of a wider one.
    later_area = float(later.usable.sum()) * abs(float(np.linalg.det(matrix[:, :2])))
    coverage = float(overlap.sum()) / max(1.0, min(float(earlier.usable.sum()), later_area))
    region = overlap if within is None else overlap & within
    return coverage, ncc(band_pass(earlier.grey), band_pass(warped), region)


def lesion_iou(earlier_seg: Segmentation, later_seg: Segmentation, full: np.ndarray) -> float | None:
    """IoU of the two lesion masks in the earlier frame, inside the overlap of the two frames."""
    if earlier_seg.reason or later_seg.reason or not earlier_seg.mask.any() or not later_seg.mask.any():
        return None
    earlier_map = resize_map(earlier_seg.full_size, (earlier_seg.mask.shape[1], earlier_seg.mask.shape[0]))
    later_map = resize_map(later_seg.full_size, (later_seg.mask.shape[1], later_seg.mask.shape[0]))
    matrix = between(full, earlier_map, later_map)
    size = (earlier_seg.mask.shape[1], earlier_seg.mask.shape[0])
    warped = cv2.warpAffine(later_seg.mask.astype(np.uint8), matrix, size, flags=cv2.INTER_NEAREST) > 0
    frame = cv2.warpAffine(np.ones_like(later_seg.mask, dtype=np.uint8), matrix, size, flags=cv2.INTER_NEAREST) > 0
    earlier_mask = earlier_seg.mask & frame
    union = float((earlier_mask | warped).sum())
    return float((earlier_mask & warped).sum()) / union if union > 0 else 0.0


# Align ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    matrix: np.ndarray
    method: str
    inliers: int
    matches: int


def align(earlier: np.ndarray, later: np.ndarray, *, max_side: int = FEATURE_SIDE) -> Registration:
    """Align ``later`` (uint8 RGB) to ``earlier``: the transform from later to earlier pixels and
    whether it can be trusted (see the module docstring)."""
    return register(earlier, later, max_side=max_side)


def register(
    earlier: np.ndarray,
    later: np.ndarray,
    *,
    max_side: int = FEATURE_SIDE,
    earlier_seg: Segmentation | None = None,
    later_seg: Segmentation | None = None,
) -> Registration:
    """:func:`align`, reusing segmentations already made (``skinml.change.compare`` measures them)."""
    earlier_seg = earlier_seg if earlier_seg is not None else segment_small(earlier)
    later_seg = later_seg if later_seg is not None else segment_small(later)
    work_e, work_l = prepare(earlier, max_side), prepare(later, max_side)
    ecc_e, ecc_l = reduce(work_e, ECC_SIDE), reduce(work_l, ECC_SIDE)

    features = feature_alignment(work_e, work_l)
    candidate: Candidate | None = None
    if features.matrix is not None and features.inliers >= FACTORS["inliers"].threshold:
        candidate = Candidate(features.matrix, "features", features.inliers, features.matches)
        _, base_ncc = overlap_and_ncc(ecc_e, ecc_l, features.matrix)
        skin = skin_only(ecc_e, earlier_seg)
        refined = (
            ecc(ecc_e, ecc_l, features.matrix, mask=skin, iterations=REFINE_ITERATIONS, epsilon=REFINE_EPSILON)
            if skin is not None
            else None
        )
        if refined is not None and non_similarity(refined[0]) <= MAX_NON_SIMILARITY:
            _, refined_ncc = overlap_and_ncc(ecc_e, ecc_l, refined[0])
            if refined_ncc > base_ncc + 0.005 and corner_shift(features.matrix, refined[0], later.shape) < 0.05 * max(
                earlier.shape[:2]
            ):
                candidate = Candidate(refined[0], "features+ecc", features.inliers, features.matches)
    if candidate is None:
        candidate = ecc_search(earlier, later, ecc_e, ecc_l, earlier_seg, later_seg)
    if candidate is None:
        return failed(
            f"Too few matching features between the two images ({features.inliers}); they may show different lesions "
            "or be too blurred to compare.",
            inliers=features.inliers,
        )
    return verify(candidate, ecc_e, ecc_l, earlier_seg, later_seg, (earlier.shape, later.shape))


def skin_only(level: Level, segmentation: Segmentation) -> np.ndarray | None:
    """The level's usable pixels without the earlier lesion and a margin of a quarter of its
    equivalent radius: ECC refines on the surrounding skin, so that it cannot absorb the lesion's
    own growth into the scale. None when too little skin is left (a lesion filling the frame)."""
    if segmentation.reason or not segmentation.mask.any():
        return level.usable
    lesion = cv2.resize(segmentation.mask.astype(np.uint8), level.size, interpolation=cv2.INTER_NEAREST)
    radius = max(2, round(0.25 * math.sqrt(float(lesion.sum()) / math.pi)))
    lesion = cv2.dilate(lesion, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    skin = level.usable & (lesion == 0)
    return skin if skin.mean() >= 0.2 else None


def corner_shift(a: np.ndarray, b: np.ndarray, later_shape) -> float:
    height, width = later_shape[:2]
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], dtype=np.float64)
    return float(np.max(np.linalg.norm(corners @ a.T - corners @ b.T, axis=1)))


def ecc_search(earlier, later, ecc_e: Level, ecc_l: Level, earlier_seg, later_seg) -> Candidate | None:
    """ECC alone: the best of a few starting points on the coarse level, refined on the ECC level."""
    coarse_e, coarse_l = reduce(ecc_e, COARSE_SIDE), reduce(ecc_l, COARSE_SIDE)
    best: tuple[np.ndarray, float] | None = None
    for start in ecc_starts(earlier.shape, later.shape, earlier_seg, later_seg):
        result = ecc(coarse_e, coarse_l, start, iterations=40)
        if result is None or non_similarity(result[0]) > MAX_NON_SIMILARITY:
            continue
        if best is None or result[1] > best[1]:
            best = result
    if best is None:
        return None
    refined = ecc(ecc_e, ecc_l, best[0])
    matrix = refined[0] if refined is not None and non_similarity(refined[0]) <= MAX_NON_SIMILARITY else best[0]
    return Candidate(matrix, "ecc", 0, 0)


def field_scale(matrix: np.ndarray, earlier_shape, later_shape) -> float:
    """The transform's scale times later diagonal / earlier diagonal: how much wider (> 1) the
    later picture's field of view is than the earlier one's."""
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    return scale * math.hypot(*later_shape[:2]) / math.hypot(*earlier_shape[:2])


def verify(candidate: Candidate, ecc_e: Level, ecc_l: Level, earlier_seg, later_seg, shapes) -> Registration:
    matrix = candidate.matrix
    field = field_scale(matrix, *shapes)
    measures: dict[str, float] = {"field_scale": field, "non_similarity": non_similarity(matrix)}
    if not SCALE_RANGE[0] <= field <= SCALE_RANGE[1]:
        return failed(
            f"The two pictures differ too much in magnification ({field:.2f}×) to compare the lesion.",
            method=candidate.method,
            matrix=matrix,
            inliers=candidate.inliers,
            measures=measures,
        )
    coverage, structure = overlap_and_ncc(ecc_e, ecc_l, matrix)
    iou = lesion_iou(earlier_seg, later_seg, matrix)
    measures.update({"overlap": coverage, "structure_ncc": structure})
    if candidate.method != "ecc":
        measures.update(
            {"inliers": float(candidate.inliers), "inlier_ratio": candidate.inliers / max(1, candidate.matches)}
        )
    if iou is not None:
        measures["lesion_iou"] = iou
    factors = {name: FACTORS[name](value) for name, value in measures.items() if name in FACTORS}
    if candidate.method == "ecc":
        # ECC alone can fit one lesion's outline onto another's: only the skin around it counts.
        skin = skin_only(ecc_e, earlier_seg)
        skin_ncc = overlap_and_ncc(ecc_e, ecc_l, matrix, within=skin)[1] if skin is not None else 0.0
        measures["skin_ncc"] = skin_ncc
        factors["structure_ncc"] = ECC_STRUCTURE(min(structure, skin_ncc))
    if decisive(measures):
        # The images' own structure matches beyond doubt: a disagreement of the two segmentations
        # (a lesion cut by the frame, a sticker chosen instead) is the segmentation's, not the
        # alignment's. Recorded in measures, not a veto.
        factors.pop("lesion_iou", None)
    elif iou is None:
        factors["lesion_iou"] = NO_MASK_CAP
    confidence = min(factors.values())
    if confidence >= 0.5:
        return registration_from(
            matrix,
            status="succeeded",
            method=candidate.method,
            inliers=candidate.inliers,
            confidence=confidence,
            reason="",
            measures=measures,
        )
    return failed(
        failure_reason(factors, measures),
        method=candidate.method,
        matrix=matrix,
        inliers=candidate.inliers,
        confidence=confidence,
        measures=measures,
    )


def decisive(measures: dict[str, float]) -> bool:
    """Feature evidence at full strength on every count: inliers, inlier ratio and structure NCC."""
    return all(name in measures and FACTORS[name](measures[name]) >= 1.0 for name in DECISIVE)


def failure_reason(factors: dict[str, float], measures: dict[str, float]) -> str:
    """Plain words for the weakest check."""
    weakest = min(factors, key=lambda name: factors[name])
    if weakest == "inliers":
        return (
            f"Too few matching features between the two images ({int(measures['inliers'])}); "
            "they may show different lesions."
        )
    if weakest == "inlier_ratio":
        return "Most features of the two images do not agree on one alignment; they may show different lesions."
    if weakest == "overlap":
        return "The two images overlap too little once aligned to compare the lesion."
    if weakest == "lesion_iou":
        return "The lesions do not coincide once the images are aligned; they may be different lesions."
    return "The aligned images do not look alike; they may show different lesions or be too blurred to compare."


def warp_to_earlier(later: np.ndarray, registration: Registration, earlier_shape: tuple[int, ...]) -> np.ndarray:
    """``later`` resampled (bilinear) in the earlier image's frame; black outside the later frame.
    ValueError when the registration failed: a failed alignment is never drawn."""
    if not registration.succeeded:
        raise ValueError("the alignment failed: the later image cannot be shown in the earlier frame")
    height, width = int(earlier_shape[0]), int(earlier_shape[1])
    return cv2.warpAffine(later, registration.as_array(), (width, height), flags=cv2.INTER_LINEAR, borderValue=0)
