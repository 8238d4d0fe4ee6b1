"""Writes of lesion tracking: measure an image, compare two visits (cached per pair and
algorithm version), render a comparison's overlays, and record a clinician's change checklist.

The image analysis is ``skinml``'s (``measurement``, ``registration``, ``change``); this module
reads the stored files, bounds the pixels it works on, converts the results back to the stored
images' pixels and keeps them as rows.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from PIL import Image

from accounts.models import User
from cases.models import Lesion, LesionImage
from core import permissions
from core.tasks import send_task_on_commit
from skinml import change as skinml_change
from skinml import measurement as skinml_measurement
from skinml.preprocessing import load_rgb
from skinml.registration import Registration

from .models import (
    SIGNIFICANT_CRITERIA,
    AnalysisStatus,
    ChangeAssessment,
    ChangeCriterion,
    ChangeVerdict,
    ImageComparison,
    ImageMeasurement,
)

logger = logging.getLogger(__name__)

#: The longest side the analysis works on; larger stored images are decoded at reduced size
#: (JPEG draft mode) so one request never holds a full 50-megapixel image.
WORKING_MAX_SIDE = 2048


@dataclass(frozen=True)
class WorkingImage:
    rgb: np.ndarray
    #: stored pixels per working pixel (1.0 when the image was not reduced)
    factor: float


def working_image(image: LesionImage) -> WorkingImage:
    """The stored image as RGB, at most WORKING_MAX_SIDE on its longer side."""
    with image.file.open("rb") as handle:
        picture = Image.open(io.BytesIO(handle.read()))
        picture.draft("RGB", (WORKING_MAX_SIDE, WORKING_MAX_SIDE))
        picture = load_rgb(picture)
    if max(picture.size) > WORKING_MAX_SIDE:
        picture.thumbnail((WORKING_MAX_SIDE, WORKING_MAX_SIDE), Image.Resampling.LANCZOS)
    return WorkingImage(rgb=np.asarray(picture), factor=image.width / picture.size[0])


# Measurements ---------------------------------------------------------------------------


def _measurement_fields(result: skinml_measurement.Measurements, *, factor: float) -> dict:
    """A skinml result in the stored image's pixels (lengths × factor, areas × factor²)."""
    if result.status != AnalysisStatus.SUCCEEDED:
        return {"status": AnalysisStatus.FAILED, "reason": result.reason or "The lesion could not be measured."}
    return {
        "status": AnalysisStatus.SUCCEEDED,
        "reason": "",
        "area_px": result.area_px * factor**2,
        "max_diameter_px": result.max_diameter_px * factor,
        "perimeter_px": result.perimeter_px * factor,
        "asymmetry_major": result.asymmetry[0],
        "asymmetry_minor": result.asymmetry[1],
        "border_irregularity": result.border_irregularity,
        "colours": list(result.colours),
        "mean_lab": [round(value, 2) for value in result.mean_lab],
    }


def measurement_run(*, image_id: int) -> ImageMeasurement | None:
    """Measure one image with the current algorithm, once: a measurement of this version is
    returned as it is. None when the image was deleted. Then compare the image with its
    neighbours in the lesion's timeline, so that a lesion's change is known without a visit to
    the comparison page."""
    image = LesionImage.objects.select_related("lesion").filter(pk=image_id).first()
    if image is None:
        return None
    version = skinml_measurement.ALGORITHM_VERSION
    measurement = ImageMeasurement.objects.filter(image=image, algorithm_version=version).first()
    if measurement is None:
        started = time.perf_counter()
        working = working_image(image)
        mask = skinml_measurement.segment_lesion(working.rgb)
        result = skinml_measurement.measure(working.rgb, mask=mask)
        outline = skinml_measurement.outline_polygons(mask) if result.status == AnalysisStatus.SUCCEEDED else []
        try:
            with transaction.atomic():
                measurement = ImageMeasurement.objects.create(
                    image=image,
                    algorithm_version=version,
                    outline=[[list(point) for point in polygon] for polygon in outline],
                    duration_ms=(time.perf_counter() - started) * 1000,
                    **_measurement_fields(result, factor=working.factor),
                )
        except IntegrityError:  # measured at the same moment by another worker
            measurement = ImageMeasurement.objects.get(image=image, algorithm_version=version)
    for earlier, later in _timeline_pairs(image):
        comparison_get_or_compute(earlier=earlier, later=later)
    return measurement


def _timeline_pairs(image: LesionImage) -> list[tuple[LesionImage, LesionImage]]:
    """(previous, image) and (image, next) among the lesion's images of the same modality from
    other visits."""
    same_kind = list(
        LesionImage.objects.filter(lesion_id=image.lesion_id, modality=image.modality)
        .exclude(captured_on=image.captured_on)
        .order_by("captured_on", "uploaded_at", "pk")
    )
    before = [other for other in same_kind if other.captured_on < image.captured_on]
    after = [other for other in same_kind if other.captured_on > image.captured_on]
    pairs = []
    if before:
        pairs.append((before[-1], image))
    if after:
        pairs.append((image, after[0]))
    return pairs


def measurement_request(*, image: LesionImage) -> None:
    """Have a worker measure the image after the current transaction commits."""
    from .tasks import measure_image

    send_task_on_commit(measure_image, image.pk)


# Comparisons ----------------------------------------------------------------------------


class NotComparable(Exception):
    """Two images that cannot be compared (the same image, or of two lesions)."""


def _in_timeline_order(first: LesionImage, second: LesionImage) -> tuple[LesionImage, LesionImage]:
    def key(image: LesionImage):
        return (image.captured_on, image.uploaded_at, image.pk)

    return (first, second) if key(first) <= key(second) else (second, first)


def _registration_at_full_size(registration: dict, *, earlier_factor: float, later_factor: float) -> dict:
    """A registration computed on reduced copies, in the stored images' pixels. The matrix maps
    later → earlier: full = S_earlier · M · S_later⁻¹."""
    if earlier_factor == 1.0 and later_factor == 1.0:
        return registration
    ratio = earlier_factor / later_factor
    (a, b, tx), (c, d, ty) = registration["matrix"]
    return {
        **registration,
        "matrix": [[a * ratio, b * ratio, tx * earlier_factor], [c * ratio, d * ratio, ty * earlier_factor]],
        "scale": registration["scale"] * ratio,
        "translation_px": [
            registration["translation_px"][0] * earlier_factor,
            registration["translation_px"][1] * earlier_factor,
        ],
    }


def change_flag_reasons(change: dict | None) -> list[str]:
    """Which configured thresholds a measured change reaches, in words (none: not flagged)."""
    if not change:
        return []
    reasons = []
    area, diameter, asymmetry = (
        change.get("area_percent"),
        change.get("diameter_percent"),
        change.get("asymmetry_change"),
    )
    if area is not None and area >= settings.SKINPORTAL_CHANGE_AREA_PERCENT:
        reasons.append(f"area grew {area:.0f} % (threshold {settings.SKINPORTAL_CHANGE_AREA_PERCENT:.0f} %)")
    if diameter is not None and diameter >= settings.SKINPORTAL_CHANGE_DIAMETER_PERCENT:
        reasons.append(
            f"diameter grew {diameter:.0f} % (threshold {settings.SKINPORTAL_CHANGE_DIAMETER_PERCENT:.0f} %)"
        )
    if asymmetry is not None and asymmetry >= settings.SKINPORTAL_CHANGE_ASYMMETRY:
        reasons.append(f"asymmetry rose by {asymmetry:.2f} (threshold {settings.SKINPORTAL_CHANGE_ASYMMETRY:.2f})")
    gained = change.get("colours_gained") or []
    if len(gained) >= settings.SKINPORTAL_CHANGE_NEW_COLOURS:
        reasons.append("new colour: " + ", ".join(colour.replace("_", " ") for colour in gained))
    return reasons


def comparison_get_or_compute(*, earlier: LesionImage, later: LesionImage) -> ImageComparison:
    """The comparison of two images of one lesion, the later aligned to the earlier (whatever
    order they are given in), computed once per pair and algorithm version."""
    if earlier.pk == later.pk:
        raise NotComparable("Choose two different images to compare.")
    if earlier.lesion_id != later.lesion_id:
        raise NotComparable("Both images must be of the same lesion.")
    earlier, later = _in_timeline_order(earlier, later)
    version = skinml_change.ALGORITHM_VERSION
    cached = ImageComparison.objects.filter(earlier=earlier, later=later, algorithm_version=version).first()
    if cached is not None:
        return cached
    started = time.perf_counter()
    earlier_working, later_working = working_image(earlier), working_image(later)
    result = skinml_change.compare(earlier_working.rgb, later_working.rgb)
    registration = _registration_at_full_size(
        result.registration.to_dict(), earlier_factor=earlier_working.factor, later_factor=later_working.factor
    )
    change = result.change.to_dict() if result.change is not None else None
    aligned = result.registration.status == AnalysisStatus.SUCCEEDED
    reasons = change_flag_reasons(change) if aligned else []
    try:
        with transaction.atomic():
            return ImageComparison.objects.create(
                lesion_id=earlier.lesion_id,
                earlier=earlier,
                later=later,
                algorithm_version=version,
                status=AnalysisStatus.SUCCEEDED if aligned else AnalysisStatus.FAILED,
                confidence=min(max(float(result.registration.confidence), 0.0), 1.0),
                registration=registration,
                change=change,
                earlier_measurement=_measurement_fields(result.earlier, factor=earlier_working.factor),
                # measured in the earlier image's frame when aligned
                later_measurement=_measurement_fields(
                    result.later, factor=earlier_working.factor if aligned else later_working.factor
                ),
                flagged=bool(reasons),
                flag_reasons=reasons,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
    except IntegrityError:  # the same pair computed at the same moment
        return ImageComparison.objects.get(earlier=earlier, later=later, algorithm_version=version)


class ComparisonNotAligned(Exception):
    """An overlay was asked for two images that could not be aligned."""


OVERLAY_MODES = ("aligned", "swipe", "blink", "difference")


def comparison_overlay(*, comparison: ImageComparison, mode: str, position: float = 0.5) -> tuple[bytes, str]:
    """The overlay image of an aligned comparison in the earlier image's frame: (bytes, media
    type). ``aligned`` and ``blink`` are the later image warped onto the earlier one; ``swipe``
    joins the two at ``position``; ``difference`` colours where they differ."""
    if mode not in OVERLAY_MODES:
        raise ValueError(f"Unknown overlay mode {mode!r}: use one of {', '.join(OVERLAY_MODES)}.")
    if not comparison.aligned:
        raise ComparisonNotAligned(
            comparison.registration.get("reason") or "The two images could not be aligned, so no overlay is shown."
        )
    earlier_working, later_working = working_image(comparison.earlier), working_image(comparison.later)
    registration = Registration.from_dict(
        _registration_at_full_size(
            comparison.registration, earlier_factor=1 / earlier_working.factor, later_factor=1 / later_working.factor
        )
    )
    picture = skinml_change.render_overlay(
        earlier_working.rgb, later_working.rgb, registration, mode=mode, position=min(max(position, 0.0), 1.0)
    )
    output = io.BytesIO()
    if mode == "difference":
        Image.fromarray(picture).save(output, format="PNG", optimize=True)
        return output.getvalue(), "image/png"
    Image.fromarray(picture).save(output, format="JPEG", quality=90)
    return output.getvalue(), "image/jpeg"


# Change checklist -----------------------------------------------------------------------


@transaction.atomic
def change_assessment_record(
    *,
    lesion: Lesion,
    actor: User,
    earlier: LesionImage,
    later: LesionImage,
    verdict: str,
    criteria: list[str],
    note: str = "",
) -> ChangeAssessment:
    """Record a clinician's checklist on two visits of a lesion."""
    if not permissions.can_assess_change(user=actor, lesion=lesion):
        raise PermissionDenied("Only the patient's care team, reviewers and admins can record a change assessment.")
    if earlier.lesion_id != lesion.pk or later.lesion_id != lesion.pk:
        raise ValidationError({"later": "Both images must be of this lesion."})
    if earlier.pk == later.pk:
        raise ValidationError({"later": "Choose two different images."})
    earlier, later = _in_timeline_order(earlier, later)
    unknown = sorted(set(criteria) - set(ChangeCriterion.values))
    if unknown:
        raise ValidationError({"criteria": f"Unknown criteria: {', '.join(unknown)}."})
    if verdict not in ChangeVerdict.values:
        raise ValidationError({"verdict": f"Choose one of: {', '.join(ChangeVerdict.values)}."})
    significant_seen = set(criteria) & SIGNIFICANT_CRITERIA
    if verdict != ChangeVerdict.SIGNIFICANT and significant_seen:
        raise ValidationError(
            {
                "verdict": "A significant criterion is ticked ("
                + ", ".join(ChangeCriterion(value).label.lower() for value in sorted(significant_seen))
                + "): the change is significant, or untick it."
            }
        )
    if verdict == ChangeVerdict.SIGNIFICANT and not significant_seen and not note.strip():
        raise ValidationError({"criteria": "Tick the significant criterion seen, or say in the note what changed."})
    if verdict == ChangeVerdict.NO_CHANGE and criteria:
        raise ValidationError({"criteria": "No change was recorded: untick the criteria."})
    assessment = ChangeAssessment(
        lesion=lesion,
        earlier=earlier,
        later=later,
        verdict=verdict,
        criteria=sorted(set(criteria)),
        note=note.strip(),
        assessed_by=actor,
    )
    assessment.full_clean()
    assessment.save()
    return assessment
