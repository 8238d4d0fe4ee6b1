"""Synthetic dermoscopic-looking images for the tracking tests, independent of ../shared: skin-like
textured background, a pigmented lesion of known shape, optional hair, and similarity-transformed
"later visits" cropped back to a full frame (no black wedges), with the true transform."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

SHARED_ISIC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "isic"
SKIN_RGB = (214.0, 160.0, 138.0)
LESION_RGB = (105.0, 62.0, 45.0)
DARK_RGB = (60.0, 35.0, 28.0)


def skin(height: int, width: int, *, seed: int = 0) -> np.ndarray:
    """Float RGB skin with smooth blotches and fine pore-like texture."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.normal(0, 1, (max(2, height // 40), max(2, width // 40))), (width, height))
    fine = cv2.GaussianBlur(rng.normal(0, 1, (height, width)), (0, 0), 1.2)
    base = np.array(SKIN_RGB)[None, None, :] * (1.0 + 0.04 * coarse[..., None])
    return base + 10.0 * fine[..., None]


def texture(height: int, width: int, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (height, width)), (0, 0), 4.0)
    return blotches / (blotches.std() + 1e-9)


def ellipse_mask(height: int, width: int, *, centre, axes, angle: float = 0.0) -> np.ndarray:
    """Anti-aliased-free bool ellipse: ``centre`` (x, y), ``axes`` semi-axes (a, b), degrees."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    theta = math.radians(angle)
    dx, dy = xx - centre[0], yy - centre[1]
    u = dx * math.cos(theta) + dy * math.sin(theta)
    v = -dx * math.sin(theta) + dy * math.cos(theta)
    return (u / axes[0]) ** 2 + (v / axes[1]) ** 2 <= 1.0


def polygon_mask(height: int, width: int, points) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(points) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def irregular_polygon(centre, radius: float, *, seed: int, count: int = 14) -> np.ndarray:
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * math.pi, count))
    radii = radius * rng.uniform(0.7, 1.15, count)
    return np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], axis=1)


def add_hair(pixels: np.ndarray, *, seed: int, count: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed + 7)
    height, width = pixels.shape[:2]
    out = pixels.copy()
    for _ in range(count):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        angle = rng.uniform(0, math.pi)
        length = rng.uniform(0.4, 0.9) * max(height, width)
        x1, y1 = x0 + length * math.cos(angle), y0 + length * math.sin(angle)
        bend = rng.uniform(-0.1, 0.1) * length
        xs = np.linspace(x0, x1, 40) + bend * np.sin(np.linspace(0, math.pi, 40)) * math.sin(angle)
        ys = np.linspace(y0, y1, 40) - bend * np.sin(np.linspace(0, math.pi, 40)) * math.cos(angle)
        points = np.round(np.stack([xs, ys], axis=1)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [points], False, (40.0, 28.0, 22.0), thickness=int(rng.integers(1, 3)), lineType=cv2.LINE_AA)
    return out


def lesion_image(mask: np.ndarray, *, seed: int = 0, hair: bool = False, colour=LESION_RGB) -> np.ndarray:
    """uint8 RGB: skin with a textured lesion exactly where ``mask`` is (darker core, blotches)."""
    height, width = mask.shape
    pixels = skin(height, width, seed=seed)
    inside = cv2.GaussianBlur(mask.astype(np.float64), (0, 0), 0.7)
    core = cv2.GaussianBlur(cv2.erode(mask.astype(np.uint8), np.ones((9, 9))).astype(np.float64), (0, 0), 6.0)
    lesion = np.array(colour)[None, None, :] * (1.0 + 0.12 * texture(height, width, seed=seed)[..., None])
    lesion = lesion * (1.0 - 0.3 * core[..., None]) + np.array(DARK_RGB) * 0.3 * core[..., None]
    pixels = pixels * (1.0 - inside[..., None]) + lesion * inside[..., None]
    if hair:
        pixels = add_hair(pixels, seed=seed)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def blob_scene(height: int = 420, width: int = 560, *, seed: int = 0) -> np.ndarray:
    """A textured scene for registration without real images: an irregular lesion with a few
    smaller spots and a speckled background (features need structure)."""
    rng = np.random.default_rng(seed)
    mask = polygon_mask(height, width, irregular_polygon((width * 0.5, height * 0.5), height * 0.22, seed=seed))
    image = lesion_image(mask, seed=seed).astype(np.float64)
    for _ in range(40):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        radius = int(rng.integers(2, 7))
        shade = rng.uniform(0.55, 0.85)
        cv2.circle(image, centre, radius, tuple(float(c * shade) for c in SKIN_RGB), -1, lineType=cv2.LINE_AA)
    return np.clip(image, 0, 255).astype(np.uint8)


# Later visits -------------------------------------------------------------------------------------


def similarity(angle_degrees: float, scale: float, centre_later, centre_earlier) -> np.ndarray:
    """2x3 matrix mapping later pixel coordinates to earlier ones: rotate by ``angle_degrees``,
    scale by ``scale`` about ``centre_later``, then move that point to ``centre_earlier``."""
    theta = math.radians(angle_degrees)
    a, b = scale * math.cos(theta), scale * math.sin(theta)
    linear = np.array([[a, -b], [b, a]])
    translation = np.asarray(centre_earlier, dtype=np.float64) - linear @ np.asarray(centre_later, dtype=np.float64)
    return np.hstack([linear, translation[:, None]])


def later_visit(
    earlier: np.ndarray, *, angle: float, scale: float, shift=(0.0, 0.0), frame: float = 0.8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A "later visit" of ``earlier``: a frame of ``frame`` × the shorter side, whose pixels map to
    earlier ones by the returned 2x3 matrix, chosen so the whole frame lies inside ``earlier``
    (shrunk when needed), with a brightness/colour change and JPEG compression."""
    height, width = earlier.shape[:2]
    rng = np.random.default_rng(seed)
    side = frame * min(height, width)
    theta = math.radians(angle)
    extent = scale * side * (abs(math.cos(theta)) + abs(math.sin(theta)))
    if extent > 0.98 * min(height, width):
        side *= 0.98 * min(height, width) / extent
        extent = 0.98 * min(height, width)
    out_side = round(side)
    room_x, room_y = (width - extent) / 2.0, (height - extent) / 2.0
    centre_earlier = (
        width / 2.0 + float(np.clip(shift[0], -room_x, room_x)),
        height / 2.0 + float(np.clip(shift[1], -room_y, room_y)),
    )
    matrix = similarity(angle, scale, ((out_side - 1) / 2.0, (out_side - 1) / 2.0), centre_earlier)
    later = cv2.warpAffine(
        earlier,
        matrix,
        (out_side, out_side),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )
    gain = rng.uniform(0.85, 1.15) * np.array([1.0, rng.uniform(0.95, 1.05), rng.uniform(0.93, 1.07)])
    later = np.clip(later.astype(np.float64) * gain + rng.uniform(-8, 8), 0, 255).astype(np.uint8)
    ok, buffer = cv2.imencode(".jpg", later, [cv2.IMWRITE_JPEG_QUALITY, 88])
    assert ok
    return cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED), matrix


def corner_error(estimated, truth, later_shape) -> float:
    """Mean distance (earlier pixels) between the later frame's corners mapped by both matrices."""
    height, width = later_shape[:2]
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1], [width - 1, height - 1, 1]], dtype=np.float64)
    a = corners @ np.asarray(estimated, dtype=np.float64).T
    b = corners @ np.asarray(truth, dtype=np.float64).T
    return float(np.mean(np.linalg.norm(a - b, axis=1)))


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
