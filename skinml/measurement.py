"""Lesion segmentation and measurements of one dermoscopic image: area, maximum diameter,
perimeter, asymmetry, border irregularity, dermoscopic colours. NumPy and OpenCV only.

Everything is computed on a downscaled copy (at most :data:`SEGMENT_SIDE` pixels a side; the
cost of the worker should not grow with the camera) and reported in full-resolution pixels of
the image given. Millimetres only come from a known pixel spacing (:meth:`Measurements.in_mm`):
a dermoscopic photograph carries no scale of its own, so no figure in mm is ever guessed.

Segmentation (:func:`segment_lesion`):

1. hair removal: morphological black-hat of the grey image, thresholded to thin dark lines,
   filled in with ``cv2.inpaint`` (Telea) at half resolution;
2. shades-of-grey colour constancy (:mod:`skinml.colour`);
3. the dermoscope's dark vignette (dark regions touching the frame) and anything more saturated
   than skin or pigment can be (adhesive dots, ink) are left out;
4. each pixel's CIELAB distance from the skin colour, taken as the median of a ring along the
   frame, is thresholded with Otsu's method (darker than skin weighs double: most lesions are
   pigmented, and shadows of the skin's own relief are lighter than any lesion);
5. opening and closing, then the connected component with the most area near the centre, with its
   holes filled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .colour import rgb_to_lab_fast, shades_of_grey

ALGORITHM_VERSION = "measure-1"
DERMOSCOPIC_COLOURS = ("white", "red", "light_brown", "dark_brown", "blue_grey", "black")
#: The colours in words, for summaries and pages.
COLOUR_NAMES = {
    "white": "white",
    "red": "red",
    "light_brown": "light brown",
    "dark_brown": "dark brown",
    "blue_grey": "blue-grey",
    "black": "black",
}

#: Longest side of the copy segmentation and measurement run on (pixels).
SEGMENT_SIDE = 512
#: Dark pixels (luminance 0–255) connected to the frame are the dermoscope's vignette.
VIGNETTE_LUMINANCE = 40.0
#: A segmented lesion smaller than this fraction of the image, or larger than this fraction of
#: the non-vignette area, is not believed.
MIN_AREA_FRACTION = 0.002
MAX_AREA_FRACTION = 0.97
#: Pixels more saturated than this (CIELAB chroma) are adhesive dots or ink, not skin or lesion.
MAX_CHROMA = 45.0
#: Otsu's two classes must differ by at least this much (CIELAB distance) to be lesion and skin.
MIN_CONTRAST = 6.0
#: A colour is present when at least this fraction of the lesion's pixels are nearest to it.
COLOUR_MIN_FRACTION = 0.05

#: Reference CIELAB colours of the six dermoscopic colours and of skin, after shades-of-grey
#: (which makes the surrounding skin nearly neutral: its median over 60 ISIC images was
#: L 68, a 0, b 0, and lesion pixels had a median of L 44, a 12, b 10). Chosen by hand from that
#: sample and dermoscopy atlases: a heuristic, not a validated colour classifier. Lesion pixels
#: nearest to "skin" are counted in no colour.
COLOUR_REFERENCES_LAB: dict[str, tuple[float, float, float]] = {
    "white": (88.0, 0.0, 0.0),
    "red": (48.0, 32.0, 12.0),
    "light_brown": (55.0, 13.0, 19.0),
    "dark_brown": (34.0, 12.0, 11.0),
    "blue_grey": (45.0, -3.0, -9.0),
    "black": (14.0, 1.0, 0.0),
    "skin": (68.0, 2.0, 3.0),
}


@dataclass(frozen=True)
class Measurements:
    """Measurements of the lesion in one image, in full-resolution pixels of that image."""

    status: str  # "succeeded" | "failed"
    reason: str  # plain words when failed, "" when succeeded
    area_px: float
    max_diameter_px: float  # maximum Feret diameter (longest distance between two border points)
    perimeter_px: float
    asymmetry: tuple[float, float]  # mirrored across the major, then the minor principal axis: 0..1
    border_irregularity: float  # compactness index perimeter² / (4π·area): 1 for a circle, more if ragged
    colours: tuple[str, ...]  # dermoscopic colours present, in DERMOSCOPIC_COLOURS order
    mean_lab: tuple[float, float, float]  # mean CIELAB inside the lesion after shades-of-grey
    centroid_px: tuple[float, float]  # (x, y)
    image_size: tuple[int, int]  # (width, height)

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "reason": self.reason,
            "area_px": float(self.area_px),
            "max_diameter_px": float(self.max_diameter_px),
            "perimeter_px": float(self.perimeter_px),
            "asymmetry": [float(value) for value in self.asymmetry],
            "border_irregularity": float(self.border_irregularity),
            "colours": list(self.colours),
            "mean_lab": [float(value) for value in self.mean_lab],
            "centroid_px": [float(value) for value in self.centroid_px],
            "image_size": [int(value) for value in self.image_size],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Measurements:
        return cls(
            status=str(d["status"]),
            reason=str(d["reason"]),
            area_px=float(d["area_px"]),
            max_diameter_px=float(d["max_diameter_px"]),
            perimeter_px=float(d["perimeter_px"]),
            asymmetry=(float(d["asymmetry"][0]), float(d["asymmetry"][1])),
            border_irregularity=float(d["border_irregularity"]),
            colours=tuple(str(colour) for colour in d["colours"]),
            mean_lab=(float(d["mean_lab"][0]), float(d["mean_lab"][1]), float(d["mean_lab"][2])),
            centroid_px=(float(d["centroid_px"][0]), float(d["centroid_px"][1])),
            image_size=(int(d["image_size"][0]), int(d["image_size"][1])),
        )

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def in_mm(self, pixel_spacing_mm: float | None) -> dict | None:
        """``{"area_mm2", "max_diameter_mm", "perimeter_mm"}`` for a known pixel spacing (mm per
        pixel of this image); None when the spacing is unknown or the measurement failed."""
        if pixel_spacing_mm is None or not pixel_spacing_mm > 0 or not self.succeeded:
            return None
        spacing = float(pixel_spacing_mm)
        return {
            "area_mm2": self.area_px * spacing * spacing,
            "max_diameter_mm": self.max_diameter_px * spacing,
            "perimeter_mm": self.perimeter_px * spacing,
        }


def failed_measurements(reason: str, image_size: tuple[int, int]) -> Measurements:
    return Measurements(
        status="failed",
        reason=reason,
        area_px=0.0,
        max_diameter_px=0.0,
        perimeter_px=0.0,
        asymmetry=(0.0, 0.0),
        border_irregularity=0.0,
        colours=(),
        mean_lab=(0.0, 0.0, 0.0),
        centroid_px=(0.0, 0.0),
        image_size=image_size,
    )


# Segmentation -----------------------------------------------------------------------------------


def downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` resized (area interpolation) so its longest side is at most ``max_side``, and the
    factor applied (small = full × factor)."""
    height, width = rgb.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    if factor >= 1.0:
        return rgb, 1.0
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), factor


def hair_mask(grey: np.ndarray) -> np.ndarray:
    """Thin dark lines (hair) as a uint8 mask: black-hat with a disc about 1/30 of the image side,
    thresholded, small specks removed."""
    side = max(grey.shape)
    radius = max(3, side // 60)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    blackhat = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)
    mask = (blackhat > 18).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2, 2)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))


def remove_hair(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` with hair painted over (Telea inpainting at half resolution, pasted back at the hair
    pixels only, so the rest of the image keeps its sharpness)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    mask = hair_mask(grey)
    if not mask.any():
        return rgb
    height, width = grey.shape
    half = (max(1, width // 2), max(1, height // 2))
    small = cv2.resize(rgb, half, interpolation=cv2.INTER_AREA)
    small_mask = (cv2.resize(mask, half, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    painted = cv2.inpaint(small, small_mask, 3, cv2.INPAINT_TELEA)
    painted = cv2.resize(painted, (width, height), interpolation=cv2.INTER_LINEAR)
    out = rgb.copy()
    out[mask > 0] = painted[mask > 0]
    return out


def vignette_mask(grey: np.ndarray) -> np.ndarray:
    """Dark regions connected to the frame (a dermoscope's round field of view): bool mask."""
    dark = (cv2.GaussianBlur(grey, (5, 5), 0) < VIGNETTE_LUMINANCE).astype(np.uint8)
    if not dark.any():
        return np.zeros(grey.shape, dtype=bool)
    _, labels = cv2.connectedComponents(dark, connectivity=8)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    border = border[border > 0]
    return np.isin(labels, border)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """A uint8 0/1 mask with its enclosed holes filled."""
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = flood == 0
    padded[holes] = 1
    return padded[1:-1, 1:-1]


def skin_colour(lab: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Median CIELAB of a ring along the frame (8 % of the shorter side), usable pixels only."""
    height, width = usable.shape
    ring = max(2, round(0.08 * min(height, width)))
    frame = np.zeros_like(usable)
    frame[:ring] = frame[-ring:] = True
    frame[:, :ring] = frame[:, -ring:] = True
    pixels = lab[frame & usable]
    if len(pixels) < 20:
        pixels = lab[usable]
    pixels = pixels[:: max(1, len(pixels) // 4000)]
    if len(pixels) == 0:
        return np.array([70.0, 15.0, 18.0], dtype=np.float32)
    return np.median(pixels, axis=0).astype(np.float32)


@dataclass(frozen=True)
class Segmentation:
    """A segmentation on the downscaled copy: ``mask`` (bool, small), the copy itself (hair removed
    and colour-normalised), ``factor`` (small = full × factor) and why it failed, if it did."""

    mask: np.ndarray
    small_rgb: np.ndarray
    factor: float
    full_size: tuple[int, int]  # (width, height) of the full-resolution image
    reason: str = ""


NO_LESION = "No lesion could be separated from the skin."


def segment_small(rgb: np.ndarray, *, max_side: int = SEGMENT_SIDE) -> Segmentation:
    """Segment the lesion of ``rgb`` (uint8 RGB) on a copy of at most ``max_side`` a side."""
    height, width = rgb.shape[:2]
    small, factor = downscale(rgb, max_side)
    small = shades_of_grey(remove_hair(small))
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    usable = ~vignette_mask(grey)
    empty = np.zeros(grey.shape, dtype=bool)
    if usable.mean() < 0.2:
        return Segmentation(empty, small, factor, (width, height), "The image is too dark to find the lesion.")

    lab = rgb_to_lab_fast(cv2.GaussianBlur(small, (5, 5), 0))
    # Adhesive dots and ink are far more saturated than skin or pigment: not part of any lesion.
    usable &= np.hypot(lab[..., 1], lab[..., 2]) < MAX_CHROMA
    skin = skin_colour(lab, usable)
    difference = lab - skin
    darker = np.maximum(-difference[..., 0], 0.0)
    lighter = np.maximum(difference[..., 0], 0.0)
    distance = np.sqrt((2.0 * darker) ** 2 + (0.5 * lighter) ** 2 + difference[..., 1] ** 2 + difference[..., 2] ** 2)
    values = distance[usable][::3]
    top = float(np.percentile(values, 99.5))
    if top <= MIN_CONTRAST:
        return Segmentation(empty, small, factor, (width, height), NO_LESION)
    scaled = np.clip(distance / top * 255.0, 0, 255).astype(np.uint8)
    threshold, _ = cv2.threshold(scaled[usable][::3].reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    threshold_distance = threshold / 255.0 * top
    above, below = values[values > threshold_distance], values[values <= threshold_distance]
    if len(above) == 0 or len(below) == 0 or above.mean() - below.mean() < MIN_CONTRAST:
        return Segmentation(empty, small, factor, (width, height), NO_LESION)
    raw = ((distance > threshold_distance) & usable).astype(np.uint8)

    side = max(grey.shape)
    radius = max(1, side // 128)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    raw = cv2.morphologyEx(raw, cv2.MORPH_OPEN, kernel)
    raw = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, kernel, iterations=2)

    mask = central_component(raw)
    if mask is None:
        return Segmentation(empty, small, factor, (width, height), NO_LESION)
    mask = fill_holes(mask).astype(bool)
    area = float(mask.sum())
    if area < MIN_AREA_FRACTION * mask.size or area > MAX_AREA_FRACTION * float(usable.sum()):
        return Segmentation(empty, small, factor, (width, height), NO_LESION)
    return Segmentation(mask, small, factor, (width, height))


def central_component(binary: np.ndarray) -> np.ndarray | None:
    """The connected component with the largest area weighted by nearness to the centre (weight
    (1 - d)², d = distance from the centre over the half diagonal) and by how little of the frame
    it touches (adhesive dots, rulers and shadows sit at the edges), as a uint8 mask; None if none."""
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return None
    height, width = binary.shape
    centre = np.array([width / 2.0, height / 2.0])
    half_diagonal = float(np.hypot(width, height)) / 2.0
    frame = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    contact = np.bincount(frame, minlength=count) / float(len(frame))
    best, best_score = 0, 0.0
    for label in range(1, count):
        area = float(stats[label, cv2.CC_STAT_AREA])
        distance = min(1.0, float(np.linalg.norm(centroids[label] - centre)) / half_diagonal)
        score = area * max(0.05, 1.0 - distance) ** 2 * max(0.1, 1.0 - 2.0 * float(contact[label]))
        if score > best_score:
            best, best_score = label, score
    if best == 0:
        return None
    return (labels == best).astype(np.uint8)


def segment_lesion(rgb: np.ndarray) -> np.ndarray:
    """The lesion of ``rgb`` (uint8 RGB) as a bool mask of the same height and width; all False
    when no lesion could be separated from the skin."""
    segmentation = segment_small(rgb)
    return upscale_mask(segmentation.mask, rgb.shape[:2])


def upscale_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A small bool mask resized to ``shape`` (height, width) with smooth (bilinear) edges."""
    height, width = shape
    if mask.shape == (height, width):
        return mask.astype(bool)
    resized = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return resized >= 0.5


# Measurements ---------------------------------------------------------------------------------


def measure(rgb: np.ndarray, *, mask: np.ndarray | None = None) -> Measurements:
    """Segment (unless ``mask`` is given, bool HxW of ``rgb``) and measure the lesion of ``rgb``."""
    height, width = rgb.shape[:2]
    if mask is None:
        segmentation = segment_small(rgb)
    else:
        if mask.shape != (height, width):
            raise ValueError("the mask must have the image's height and width")
        small, factor = downscale(rgb, SEGMENT_SIDE)
        small = shades_of_grey(remove_hair(small))
        small_mask = upscale_mask(mask, small.shape[:2]) if factor < 1.0 else mask.astype(bool)
        segmentation = Segmentation(small_mask, small, factor, (width, height), "" if small_mask.any() else NO_LESION)
    return measure_segmentation(segmentation)


def measure_segmentation(segmentation: Segmentation) -> Measurements:
    """The measurements of a segmentation, in full-resolution pixels."""
    if segmentation.reason or not segmentation.mask.any():
        return failed_measurements(segmentation.reason or NO_LESION, segmentation.full_size)
    mask = segmentation.mask.astype(np.uint8)
    factor = segmentation.factor
    contour = largest_contour(mask)
    if contour is None:
        return failed_measurements(NO_LESION, segmentation.full_size)

    area_small = float(mask.sum())
    area = area_small / factor**2
    perimeter = smoothed_perimeter(contour) / factor
    diameter = max_feret(contour)
    # The contour runs through the centres of the border pixels: add one pixel of extent.
    diameter = (diameter + 1.0) / factor
    moments = cv2.moments(mask, binaryImage=True)
    centroid_small = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
    centroid = ((centroid_small[0] + 0.5) / factor - 0.5, (centroid_small[1] + 0.5) / factor - 0.5)
    lab = rgb_to_lab_fast(segmentation.small_rgb)
    inside = lab[segmentation.mask]
    mean_lab = tuple(float(value) for value in inside.mean(axis=0))
    return Measurements(
        status="succeeded",
        reason="",
        area_px=area,
        max_diameter_px=diameter,
        perimeter_px=perimeter,
        asymmetry=asymmetry(mask),
        border_irregularity=perimeter**2 / (4.0 * math.pi * area) if area > 0 else 0.0,
        colours=colours_present(inside),
        mean_lab=(mean_lab[0], mean_lab[1], mean_lab[2]),
        centroid_px=(float(centroid[0]), float(centroid[1])),
        image_size=segmentation.full_size,
    )


def largest_contour(mask: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    return max(contours, key=cv2.contourArea)


def smoothed_perimeter(contour: np.ndarray, *, window: int = 5) -> float:
    """Length of the closed contour after a circular moving average over ``window`` points, which
    removes most of the staircase of pixel contours (a raw 8-connected contour overestimates a
    circle's perimeter by up to about 8 %)."""
    points = contour.reshape(-1, 2).astype(np.float64)
    if len(points) < 3:
        return float(cv2.arcLength(contour, closed=True))
    if len(points) > window:
        kernel = np.ones(window) / window
        pad = window // 2
        wrapped = np.concatenate([points[-pad:], points, points[:pad]])
        points = np.stack([np.convolve(wrapped[:, i], kernel, mode="valid") for i in range(2)], axis=1)
    closed = np.concatenate([points, points[:1]])
    return float(np.sum(np.hypot(*np.diff(closed, axis=0).T)))


def max_feret(contour: np.ndarray) -> float:
    """The maximum Feret diameter: the longest distance between two points of the convex hull."""
    hull = cv2.convexHull(contour).reshape(-1, 2).astype(np.float64)
    if len(hull) < 2:
        return 0.0
    differences = hull[:, None, :] - hull[None, :, :]
    return float(np.sqrt(np.max(np.sum(differences * differences, axis=-1))))


def asymmetry(mask: np.ndarray) -> tuple[float, float]:
    """Shape asymmetry across each principal axis: the area of the mask that does not overlap its
    mirror image, divided by twice the mask's area (0 symmetric .. 1). Mirrored across the major
    axis first, then across the minor axis, both through the centroid."""
    moments = cv2.moments(mask, binaryImage=True)
    if moments["m00"] <= 0:
        return (0.0, 0.0)
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    angle = 0.5 * math.degrees(math.atan2(2.0 * moments["mu11"], moments["mu20"] - moments["mu02"]))
    height, width = mask.shape
    side = math.ceil(math.hypot(width, height)) + 2
    # Rotate about the centroid so the major axis lies along x, centred on a square canvas.
    rotation = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    rotation[:, 2] += ((side - 1) / 2.0 - cx, (side - 1) / 2.0 - cy)
    upright = cv2.warpAffine(mask.astype(np.uint8) * 255, rotation, (side, side), flags=cv2.INTER_LINEAR) >= 128
    area = float(upright.sum())
    if area <= 0:
        return (0.0, 0.0)
    # Flipping the array mirrors about the canvas centre ((side - 1) / 2), where the centroid is.
    across_major = np.flipud(upright)
    across_minor = np.fliplr(upright)
    return (
        float(np.logical_xor(upright, across_major).sum() / (2.0 * area)),
        float(np.logical_xor(upright, across_minor).sum() / (2.0 * area)),
    )


def colours_present(lab_pixels: np.ndarray) -> tuple[str, ...]:
    """The dermoscopic colours that at least :data:`COLOUR_MIN_FRACTION` of the lesion's pixels
    are nearest to (CIELAB distance to :data:`COLOUR_REFERENCES_LAB`)."""
    if len(lab_pixels) == 0:
        return ()
    names = list(COLOUR_REFERENCES_LAB)
    references = np.array([COLOUR_REFERENCES_LAB[name] for name in names], dtype=np.float32)
    sample = lab_pixels[:: max(1, len(lab_pixels) // 20000)]
    distances = np.linalg.norm(sample[:, None, :] - references[None, :, :], axis=-1)
    nearest = np.bincount(np.argmin(distances, axis=1), minlength=len(names)) / len(sample)
    return tuple(name for name in DERMOSCOPIC_COLOURS if nearest[names.index(name)] >= COLOUR_MIN_FRACTION)


# Outlines for the UI ------------------------------------------------------------------------------


def outline_polygons(mask: np.ndarray, *, max_points: int = 200) -> list[list[tuple[float, float]]]:
    """The outer outlines of ``mask`` as polygons of at most ``max_points`` points each, in
    coordinates normalised to 0..1 of the mask's width and height (for an SVG overlay)."""
    height, width = mask.shape[:2]
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    polygons: list[list[tuple[float, float]]] = []
    minimum_area = 1e-4 * height * width
    for contour in sorted(contours, key=cv2.contourArea, reverse=True):
        if cv2.contourArea(contour) < minimum_area:
            continue
        epsilon = 0.5
        simplified = cv2.approxPolyDP(contour, epsilon, closed=True)
        while len(simplified) > max_points:
            epsilon *= 1.5
            simplified = cv2.approxPolyDP(contour, epsilon, closed=True)
        points = simplified.reshape(-1, 2).astype(np.float64)
        polygons.append([((x + 0.5) / width, (y + 0.5) / height) for x, y in points])
    return polygons


OUTLINE_RGBA = (255, 230, 0, 255)


def outline_png(rgb_shape: tuple[int, ...], mask: np.ndarray) -> bytes:
    """A transparent PNG of the image's size with the outline of ``mask`` drawn (yellow), to lay
    over the picture. ``mask`` may be smaller than the image (it is scaled)."""
    height, width = int(rgb_shape[0]), int(rgb_shape[1])
    canvas = np.zeros((height, width, 4), dtype=np.uint8)
    thickness = max(2, round(max(height, width) / 300))
    scale_x, scale_y = width / mask.shape[1], height / mask.shape[0]
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    scaled = [
        np.round((contour.reshape(-1, 2) + 0.5) * (scale_x, scale_y) - 0.5).astype(np.int32).reshape(-1, 1, 2)
        for contour in contours
    ]
    red, green, blue, alpha = OUTLINE_RGBA
    cv2.drawContours(canvas, scaled, -1, (blue, green, red, alpha), thickness, lineType=cv2.LINE_AA)
    ok, buffer = cv2.imencode(".png", canvas)
    if not ok:
        raise ValueError("could not encode the outline")
    return buffer.tobytes()
