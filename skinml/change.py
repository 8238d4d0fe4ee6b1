"""Change of one lesion between two visits, measured in the earlier image's frame, and the
pictures that show it. NumPy and OpenCV only; no probabilities (the apps add those).

:func:`compare` aligns the later picture to the earlier one (:mod:`skinml.registration`), measures
both lesions (:mod:`skinml.measurement`), the later one in the earlier frame, so that a change of
camera distance between visits does not count as growth, and compares them. Colours are compared
after shades-of-grey and after matching the later picture's skin to the earlier's (a per-channel
gain on the median skin colour), so that a change of exposure is not a change of colour. When the alignment
failed nothing is compared: both images are measured on their own and ``change`` is None.

Asymmetric growth: the lesion's outline is compared by 16 angular sectors around the earlier
lesion's centroid; the growth is asymmetric when the sectors' radial growth differs by more than
:data:`ASYMMETRIC_SPREAD` between the 10th and 90th percentile (uniform growth moves every sector
alike), and its direction is the sector that grew most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import measurement, registration
from .colour import delta_e_2000, rgb_to_lab, shades_of_grey
from .measurement import Measurements, Segmentation, measure_segmentation, remove_hair, segment_small
from .registration import Registration, register, warp_to_earlier

ALGORITHM_VERSION = f"{registration.ALGORITHM_VERSION}+{measurement.ALGORITHM_VERSION}+change-1"

#: Area changes smaller than this (per cent) are reported as no clear change of size.
SIZE_TOLERANCE_PERCENT = 5.0
#: Spread (10th to 90th percentile) of the sectors' relative radial growth beyond which the
#: growth or shrinkage is called asymmetric.
ASYMMETRIC_SPREAD = 0.08
SECTORS = 16
#: Mean ΔE00 inside the lesion above which the summary says the colour changed.
COLOUR_CHANGE_DELTA_E = 5.0
#: At least this fraction of the earlier lesion must lie inside the aligned later frame for sizes
#: to be compared.
MIN_LESION_IN_FRAME = 0.98

DIRECTIONS = ("right", "lower right", "bottom", "lower left", "left", "upper left", "top", "upper right")


@dataclass(frozen=True)
class Change:
    area_percent: float | None  # later vs earlier lesion area, both in the earlier frame
    diameter_percent: float | None  # maximum Feret diameter, likewise
    asymmetry_change: float | None  # mean of the two asymmetry axes, later minus earlier
    colours_gained: tuple[str, ...]
    colours_lost: tuple[str, ...]
    delta_e: float | None  # mean CIEDE2000 ΔE00 over the pixels inside both lesions, after shades-of-grey
    summary: str  # one line in words
    asymmetric: bool = False  # the growth (or shrinkage) differs by direction
    growth_direction: str | None = None  # where it grew most, in the earlier picture ("upper left"...)
    centroid_shift_px: float | None = None  # lesion centroid movement, earlier frame pixels

    def to_dict(self) -> dict:
        return {
            "area_percent": self.area_percent,
            "diameter_percent": self.diameter_percent,
            "asymmetry_change": self.asymmetry_change,
            "colours_gained": list(self.colours_gained),
            "colours_lost": list(self.colours_lost),
            "delta_e": self.delta_e,
            "summary": self.summary,
            "asymmetric": self.asymmetric,
            "growth_direction": self.growth_direction,
            "centroid_shift_px": self.centroid_shift_px,
        }


@dataclass(frozen=True)
class Comparison:
    registration: Registration
    earlier: Measurements
    later: Measurements  # in the earlier frame when aligned, else on the later image itself
    change: Change | None  # None when the alignment failed
    summary: str = ""  # the change's summary, or why nothing could be compared

    def to_dict(self) -> dict:
        return {
            "algorithm_version": ALGORITHM_VERSION,
            "registration": self.registration.to_dict(),
            "earlier": self.earlier.to_dict(),
            "later": self.later.to_dict(),
            "change": None if self.change is None else self.change.to_dict(),
            "summary": self.summary,
        }


# Compare --------------------------------------------------------------------------------------


def compare(earlier: np.ndarray, later: np.ndarray) -> Comparison:
    """Align ``later`` to ``earlier`` (uint8 RGB), measure both lesions and their change."""
    earlier_seg = segment_small(earlier)
    later_seg = segment_small(later)
    aligned = register(earlier, later, earlier_seg=earlier_seg, later_seg=later_seg)
    earlier_measures = measure_segmentation(earlier_seg)
    if not aligned.succeeded:
        later_measures = measure_segmentation(later_seg)
        summary = (
            f"The two pictures could not be aligned reliably, so no change can be measured: {aligned.reason}"
            if aligned.reason
            else "The two pictures could not be aligned reliably, so no change can be measured."
        )
        return Comparison(aligned, earlier_measures, later_measures, None, summary)

    later_in_earlier = in_earlier_frame(later, later_seg, aligned, earlier_seg)
    later_measures = measure_segmentation(later_in_earlier.segmentation)
    change = measure_change(earlier_seg, later_in_earlier, earlier_measures, later_measures)
    return Comparison(aligned, earlier_measures, later_measures, change, change.summary)


@dataclass(frozen=True)
class Warped:
    segmentation: Segmentation  # the later lesion in the earlier frame (earlier's small size)
    frame: np.ndarray  # bool, where the later picture covers the earlier frame (small size)


def in_earlier_frame(later: np.ndarray, later_seg: Segmentation, aligned: Registration, earlier_seg: Segmentation):
    """The later image and its lesion mask resampled into the earlier image's small frame."""
    width, height = earlier_seg.full_size
    small_shape = earlier_seg.mask.shape
    full = aligned.as_array()
    earlier_map = registration.resize_map((width, height), (small_shape[1], small_shape[0]))
    later_map = registration.resize_map(later_seg.full_size, (later_seg.mask.shape[1], later_seg.mask.shape[0]))
    mask_matrix = registration.between(full, earlier_map, later_map)
    size = (small_shape[1], small_shape[0])
    mask = cv2.warpAffine(later_seg.mask.astype(np.float32), mask_matrix, size, flags=cv2.INTER_LINEAR) >= 0.5
    frame = cv2.warpAffine(np.ones(later_seg.mask.shape, np.uint8), mask_matrix, size, flags=cv2.INTER_NEAREST) > 0
    # The pixels, warped from the later image's full resolution straight to the small frame.
    pixel_matrix = registration.between(full, earlier_map, np.eye(3))
    small = cv2.warpAffine(later, pixel_matrix, size, flags=cv2.INTER_LINEAR)
    small = match_skin(shades_of_grey(remove_hair(small)), earlier_seg, mask, frame)
    reason = "" if mask.any() else measurement.NO_LESION
    return Warped(Segmentation(mask, small, earlier_seg.factor, earlier_seg.full_size, reason), frame)


def match_skin(small: np.ndarray, earlier_seg: Segmentation, later_mask: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``small`` with each channel scaled so that its skin (outside both lesions, inside the frame)
    has the earlier picture's median: a change of exposure is not a change of the lesion's colour."""
    skin = frame & ~earlier_seg.mask & ~later_mask
    skin &= cv2.cvtColor(earlier_seg.small_rgb, cv2.COLOR_RGB2GRAY) > measurement.VIGNETTE_LUMINANCE
    if skin.sum() < 100:
        return small
    reference = np.median(earlier_seg.small_rgb[skin].astype(np.float32), axis=0)
    current = np.median(small[skin].astype(np.float32), axis=0)
    gains = np.clip(reference / np.maximum(current, 1.0), 0.5, 2.0)
    return np.clip(small.astype(np.float32) * gains, 0, 255).astype(np.uint8)


def sector_radii(mask: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """The mean distance from ``centre`` of the mask's outline points in each of SECTORS angular
    sectors (NaN where the outline has no point)."""
    contour = measurement.largest_contour(mask.astype(np.uint8))
    radii = np.full(SECTORS, np.nan)
    if contour is None:
        return radii
    points = contour.reshape(-1, 2).astype(np.float64) - np.asarray(centre)
    angles = np.arctan2(points[:, 1], points[:, 0]) % (2 * math.pi)
    index = np.minimum((angles / (2 * math.pi) * SECTORS).astype(int), SECTORS - 1)
    distances = np.hypot(points[:, 0], points[:, 1])
    for sector in range(SECTORS):
        selected = distances[index == sector]
        if len(selected):
            radii[sector] = selected.mean()
    return radii


def measure_change(earlier_seg: Segmentation, warped: Warped, earlier: Measurements, later: Measurements) -> Change:
    if not earlier.succeeded or not later.succeeded:
        which = "earlier" if not earlier.succeeded else "later"
        return Change(None, None, None, (), (), None, f"The lesion could not be found in the {which} picture.")
    inside = float((earlier_seg.mask & warped.frame).sum()) / max(1.0, float(earlier_seg.mask.sum()))
    sizes_comparable = inside >= MIN_LESION_IN_FRAME
    area_percent = 100.0 * (later.area_px / earlier.area_px - 1.0) if sizes_comparable else None
    diameter_percent = 100.0 * (later.max_diameter_px / earlier.max_diameter_px - 1.0) if sizes_comparable else None
    asymmetry_change = float(np.mean(later.asymmetry) - np.mean(earlier.asymmetry))
    gained = tuple(c for c in measurement.DERMOSCOPIC_COLOURS if c in later.colours and c not in earlier.colours)
    lost = tuple(c for c in measurement.DERMOSCOPIC_COLOURS if c in earlier.colours and c not in later.colours)

    both = earlier_seg.mask & warped.segmentation.mask & warped.frame
    delta_e = None
    if both.sum() >= 20:
        step = max(1, int(both.sum()) // 20000)
        lab_e = rgb_to_lab(earlier_seg.small_rgb[both][::step])
        lab_l = rgb_to_lab(warped.segmentation.small_rgb[both][::step])
        delta_e = float(np.mean(delta_e_2000(lab_e, lab_l)))

    factor = earlier_seg.factor
    centre_small = ((earlier.centroid_px[0] + 0.5) * factor - 0.5, (earlier.centroid_px[1] + 0.5) * factor - 0.5)
    growth = sector_radii(warped.segmentation.mask, centre_small) / sector_radii(earlier_seg.mask, centre_small) - 1.0
    growth = growth[np.isfinite(growth)]
    asymmetric, direction = False, None
    if sizes_comparable and len(growth) >= SECTORS // 2:
        spread = float(np.percentile(growth, 90) - np.percentile(growth, 10))
        asymmetric = spread > ASYMMETRIC_SPREAD and abs(area_percent or 0.0) >= SIZE_TOLERANCE_PERCENT
        if asymmetric:
            radii_e = sector_radii(earlier_seg.mask, centre_small)
            radii_l = sector_radii(warped.segmentation.mask, centre_small)
            signed = (radii_l - radii_e) * (1.0 if (area_percent or 0.0) > 0 else -1.0)
            sector = int(np.nanargmax(signed))
            angle = (sector + 0.5) * 360.0 / SECTORS
            direction = DIRECTIONS[round(angle / 45.0) % 8]
    shift = math.hypot(later.centroid_px[0] - earlier.centroid_px[0], later.centroid_px[1] - earlier.centroid_px[1])
    change = Change(
        area_percent=area_percent,
        diameter_percent=diameter_percent,
        asymmetry_change=asymmetry_change,
        colours_gained=gained,
        colours_lost=lost,
        delta_e=delta_e,
        summary="",
        asymmetric=asymmetric,
        growth_direction=direction,
        centroid_shift_px=shift,
    )
    return Change(**{**change.__dict__, "summary": summarise(change)})


def summarise(change: Change) -> str:
    """One line in words, e.g. "Grew 18 % in area, asymmetrically (mostly towards the upper
    left); blue-grey appeared."."""
    parts: list[str] = []
    if change.area_percent is None:
        parts.append("Size not compared: the later picture does not show the whole lesion")
    elif abs(change.area_percent) < SIZE_TOLERANCE_PERCENT:
        parts.append("No clear change in size")
    else:
        verb = "Grew" if change.area_percent > 0 else "Shrank"
        text = f"{verb} {abs(change.area_percent):.0f} % in area"
        if change.asymmetric:
            text += ", asymmetrically"
            if change.growth_direction:
                text += f" (mostly towards the {change.growth_direction})"
        parts.append(text)
    for colours, verb in ((change.colours_gained, "appeared"), (change.colours_lost, "disappeared")):
        if colours:
            words = [measurement.COLOUR_NAMES[c] for c in colours]
            listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
            parts.append(f"{listed} {verb}")
    if change.delta_e is not None and change.delta_e >= COLOUR_CHANGE_DELTA_E:
        parts.append(f"colour changed (mean ΔE00 {change.delta_e:.1f})")
    return "; ".join(parts) + "."


# Overlays -----------------------------------------------------------------------------------------

MODES = ("aligned", "swipe", "blink", "difference")
#: ΔE00 at which the difference map starts to turn red, and where it is fully red.
DIFFERENCE_RANGE = (3.0, 15.0)


def render_overlay(
    earlier: np.ndarray, later: np.ndarray, registration: Registration, *, mode: str, position: float = 0.5
) -> np.ndarray:
    """A picture in the earlier image's frame (uint8 RGB, earlier's shape):

    - "aligned" and "blink": the later image aligned to the earlier one (the UI alternates the two
      for blink); outside the later picture's frame the earlier image shows through;
    - "swipe": the earlier image left of ``position`` (0..1 of the width), the aligned later image
      right of it, with a thin white line between;
    - "difference": the earlier image in grey, turning red where the colour changed (ΔE00 between
      the colour-normalised images, from 3 to 15).

    ValueError when the registration failed, for an unknown mode, or a position outside 0..1."""
    if mode not in MODES:
        raise ValueError(f"unknown overlay mode {mode!r}; expected one of {', '.join(MODES)}")
    if not 0.0 <= position <= 1.0:
        raise ValueError("position must be between 0 and 1")
    height, width = earlier.shape[:2]
    aligned = warp_to_earlier(later, registration, (height, width))
    frame = warp_to_earlier(np.full(later.shape[:2], 255, np.uint8), registration, (height, width)) >= 128
    composed = np.where(frame[..., None], aligned, earlier)
    if mode in ("aligned", "blink"):
        return composed
    if mode == "swipe":
        cut = round(position * width)
        out = earlier.copy()
        out[:, cut:] = composed[:, cut:]
        line = max(1, width // 400)
        out[:, max(0, cut - line) : min(width, cut + line)] = 255
        return out
    return difference_map(earlier, aligned, frame)


def difference_map(earlier: np.ndarray, aligned: np.ndarray, frame: np.ndarray) -> np.ndarray:
    height, width = earlier.shape[:2]
    small_e, factor = measurement.downscale(earlier, measurement.SEGMENT_SIDE)
    small_size = (small_e.shape[1], small_e.shape[0])
    small_l = cv2.resize(aligned, small_size, interpolation=cv2.INTER_AREA) if factor < 1 else aligned
    delta = delta_e_2000(rgb_to_lab(shades_of_grey(small_e)), rgb_to_lab(shades_of_grey(small_l)))
    delta = cv2.GaussianBlur(delta.astype(np.float32), (0, 0), 1.5)
    low, high = DIFFERENCE_RANGE
    weight = np.clip((delta - low) / (high - low), 0.0, 1.0)
    weight = cv2.resize(weight, (width, height), interpolation=cv2.INTER_LINEAR) * frame
    grey = cv2.cvtColor(earlier, cv2.COLOR_RGB2GRAY).astype(np.float32) * 0.8
    base = np.repeat(grey[..., None], 3, axis=2)
    red = np.array([230.0, 30.0, 30.0], dtype=np.float32)
    out = base * (1.0 - weight[..., None]) + red * weight[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)
