"""Where a lesion may sit on the body map, given its anatomical site.

The body map shows a front and a back outline, each in its own normalised box (x, y in 0..1,
origin top left, the patient facing the viewer on the front view). A position is accepted when
it is plausible for the lesion's ISIC site: the regions below are deliberately generous bands of
the outlines in ``static/img/body-front.svg`` / ``body-back.svg``; they catch a marker put on
the wrong view or at the wrong height, not a few millimetres off.
"""

from __future__ import annotations

from dataclasses import dataclass

FRONT = "front"
BACK = "back"


@dataclass(frozen=True)
class Region:
    views: tuple[str, ...]
    y_min: float
    y_max: float
    #: Where on the body that is, in words for a message.
    words: str


# y bands: head/neck above 0.2, torso 0.15–0.55, arms reach down to 0.6, legs from 0.45.
SITE_REGIONS: dict[str, Region] = {
    "head/neck": Region((FRONT, BACK), 0.0, 0.22, "the head or neck"),
    "anterior torso": Region((FRONT,), 0.14, 0.58, "the front of the torso"),
    "posterior torso": Region((BACK,), 0.14, 0.58, "the back of the torso"),
    "lateral torso": Region((FRONT, BACK), 0.14, 0.58, "the side of the torso"),
    "upper extremity": Region((FRONT, BACK), 0.14, 0.62, "an arm"),
    "lower extremity": Region((FRONT, BACK), 0.42, 1.0, "a leg"),
    "palms/soles": Region((FRONT, BACK), 0.45, 1.0, "a hand or foot"),
    "oral/genital": Region((FRONT, BACK), 0.0, 0.62, "the mouth or genital area"),
}


def position_problem(*, site: str, view: str, x: float, y: float) -> str | None:
    """Why a body-map position does not fit the site, in words; None when it fits."""
    if view not in (FRONT, BACK):
        return "Choose the front or the back view."
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        return "The position must lie on the body map (0 to 1 across and down)."
    region = SITE_REGIONS.get(site)
    if region is None:  # unknown site: any position on the map
        return None
    if view not in region.views:
        other = "back" if view == FRONT else "front"
        return f"This site is on {region.words}: place it on the {other} view."
    if not region.y_min <= y <= region.y_max:
        return f"This position is not on {region.words}, the lesion's site. Move the marker or change the site."
    return None
