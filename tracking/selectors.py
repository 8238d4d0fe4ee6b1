"""Reads of lesion tracking: an image's measurement, the comparison of two visits as the page
and the API show it, the lesion's trend, and whether a lesion has changed. Callers fetch the
lesion or image through the cases access rule first; what a user may see of a result is
``inference.selectors.result_figures_shown``."""

from __future__ import annotations

from django.db.models import BooleanField, Case, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.urls import reverse

from accounts.models import User
from cases.models import Lesion, LesionImage
from inference.models import DiagnosisClass, Prediction, RiskLevel
from inference.selectors import result_figures_shown, timeline_risks
from skinml import change as skinml_change
from skinml import measurement as skinml_measurement

from .models import ChangeAssessment, ChangeVerdict, ImageComparison, ImageMeasurement


def colour_names(colours: list[str]) -> list[str]:
    return [skinml_measurement.COLOUR_NAMES.get(colour, colour) for colour in colours]


def image_measurement(*, image: LesionImage) -> ImageMeasurement | None:
    """The image's measurement by the current algorithm, else its latest by an older one."""
    measurements = list(image.measurements.all())
    current = [m for m in measurements if m.algorithm_version == skinml_measurement.ALGORITHM_VERSION]
    return (current or sorted(measurements, key=lambda m: m.measured_at, reverse=True) or [None])[0]


def _in_mm(values: dict | None, *, pixel_spacing_mm: float | None) -> dict | None:
    """Millimetres only where the pixel spacing is known: never a guessed figure."""
    if not values or pixel_spacing_mm is None or values.get("status") != "succeeded":
        return None
    return {
        "area_mm2": round(values["area_px"] * pixel_spacing_mm**2, 2),
        "max_diameter_mm": round(values["max_diameter_px"] * pixel_spacing_mm, 2),
        "perimeter_mm": round(values["perimeter_px"] * pixel_spacing_mm, 2) if values.get("perimeter_px") else None,
    }


def measurement_values(measurement: ImageMeasurement | None) -> dict | None:
    if measurement is None:
        return None
    return {
        "status": measurement.status,
        "reason": measurement.reason,
        "area_px": measurement.area_px,
        "max_diameter_px": measurement.max_diameter_px,
        "perimeter_px": measurement.perimeter_px,
        "asymmetry": [measurement.asymmetry_major, measurement.asymmetry_minor]
        if measurement.asymmetry_major is not None
        else None,
        "border_irregularity": measurement.border_irregularity,
        "colours": measurement.colours,
        "colour_names": colour_names(measurement.colours),
        "mean_lab": measurement.mean_lab,
    }


def measurement_report(*, image: LesionImage) -> dict:
    """An image's measurement as the API and the pages show it: pixels always, millimetres
    only with a known pixel spacing; ``status`` "pending" until a worker has measured it."""
    measurement = image_measurement(image=image)
    values = measurement_values(measurement) or {"status": "pending", "reason": "Not measured yet."}
    return {
        "image": image.pk,
        **values,
        "pixel_spacing_mm": image.pixel_spacing_mm,
        "mm": _in_mm(values, pixel_spacing_mm=image.pixel_spacing_mm),
        "algorithm_version": measurement.algorithm_version if measurement else None,
        "measured_at": measurement.measured_at if measurement else None,
        "outline": measurement.outline if measurement else [],
    }


def risk_driving_class(prediction: Prediction) -> str:
    """The class a clinician should look at: for a medium or high risk the malignant class
    with the higher probability (the risk is P(BCC) + P(MEL)); otherwise the most probable."""
    if prediction.risk_level in (RiskLevel.MEDIUM, RiskLevel.HIGH):
        return DiagnosisClass.MEL if (prediction.probability_mel or 0) >= (prediction.probability_bcc or 0) else "BCC"
    return prediction.predicted_class


def result_summary(*, prediction: Prediction | None, user: User) -> dict:
    """An image's shown result: figures only where the user may see them."""
    shown = result_figures_shown(prediction=prediction, user=user)
    summary = {
        "prediction": prediction.pk if prediction else None,
        "status": prediction.status if prediction else None,
        "figures_shown": shown,
        "withheld": bool(prediction and prediction.is_withheld),
        "withheld_reason": "",
        "risk_level": None,
        "predicted_class": None,
        "probabilities": {},
        "model_version": None,
        "heatmap_class": None,
    }
    if prediction is None:
        return summary
    summary["model_version"] = str(prediction.model_version) if prediction.model_version_id else None
    if prediction.is_withheld:
        reasons = (prediction.quality or {}).get("reasons", [])
        summary["withheld_reason"] = "; ".join(
            reason.get("message", "") for reason in reasons if isinstance(reason, dict)
        )
    if shown:
        summary.update(
            risk_level=prediction.risk_level,
            predicted_class=prediction.predicted_class,
            probabilities={label: value for label, value in prediction.probabilities.items()},
            heatmap_class=risk_driving_class(prediction),
        )
    return summary


def _probability_changes(earlier: dict, later: dict) -> list[dict]:
    if not (earlier["figures_shown"] and later["figures_shown"]):
        return []
    changes = []
    for label in DiagnosisClass.values:
        before, after = earlier["probabilities"].get(label), later["probabilities"].get(label)
        if before is None or after is None:
            continue
        changes.append(
            {
                "label": label,
                "name": DiagnosisClass(label).label,
                "from": before,
                "to": after,
                "delta": after - before,
            }
        )
    return changes


def _risk_change(earlier: dict, later: dict) -> str:
    before, after = earlier["risk_level"], later["risk_level"]
    if not (before and after):
        return ""
    if before == after:
        return f"{RiskLevel(before).label} (unchanged)"
    return f"{RiskLevel(before).label} → {RiskLevel(after).label}"


def comparison_summary(*, comparison: ImageComparison, probability_changes: list[dict], risk_change: str) -> str:
    """One line in words: the measured change, the model's change, or why nothing is measured."""
    if not comparison.aligned:
        reason = comparison.registration.get("reason") or "the two images could not be aligned"
        return f"Not aligned: {reason} The images are shown unaligned and no change is measured."
    parts = [(comparison.change or {}).get("summary") or "Aligned."]
    mel = next((change for change in probability_changes if change["label"] == DiagnosisClass.MEL), None)
    if mel is not None and abs(mel["delta"]) >= 0.05:
        parts.append(f"Melanoma probability {mel['from']:.0%} → {mel['to']:.0%}.")
    if risk_change and "unchanged" not in risk_change:
        parts.append(f"Risk {risk_change}.")
    return " ".join(part.rstrip() for part in parts)


def comparison_report(*, comparison: ImageComparison, user: User) -> dict:
    """A comparison as the API answers it and the compare page shows it."""
    earlier, later = comparison.earlier, comparison.later
    results = timeline_risks(images=[earlier, later])
    sides = {}
    for key, image in (("from", earlier), ("to", later)):
        sides[key] = {
            "image": image.pk,
            "captured_on": image.captured_on,
            "modality": image.modality,
            "measurements": measurement_report(image=image),
            "result": result_summary(prediction=results[image.pk], user=user),
        }
    probability_changes = _probability_changes(sides["from"]["result"], sides["to"]["result"])
    risk_change = _risk_change(sides["from"]["result"], sides["to"]["result"])
    change = None
    if comparison.change is not None:
        change = {
            **{
                key: comparison.change.get(key)
                for key in (
                    "area_percent",
                    "diameter_percent",
                    "asymmetry_change",
                    "colours_gained",
                    "colours_lost",
                    "delta_e",
                )
            },
            "colour_names_gained": colour_names(comparison.change.get("colours_gained") or []),
            "colour_names_lost": colour_names(comparison.change.get("colours_lost") or []),
            "probability_changes": probability_changes,
            "risk_change": risk_change,
            "summary": comparison.change.get("summary", ""),
        }
    registration = comparison.registration
    return {
        "lesion": comparison.lesion_id,
        "from": sides["from"],
        "to": sides["to"],
        "registration": {
            "status": comparison.status,
            "method": registration.get("method"),
            "rotation_degrees": registration.get("rotation_degrees"),
            "scale": registration.get("scale"),
            "translation_px": registration.get("translation_px"),
            "inliers": registration.get("inliers"),
            "confidence": comparison.confidence,
            "reason": registration.get("reason", ""),
        },
        "change": change,
        "flagged": comparison.flagged,
        "flag_reasons": comparison.flag_reasons,
        "summary": comparison_summary(
            comparison=comparison, probability_changes=probability_changes, risk_change=risk_change
        ),
        "algorithm_version": comparison.algorithm_version,
        "computed_at": comparison.computed_at,
        "later_measurement_in_earlier_frame": comparison.later_measurement,
    }


def stored_comparison(*, earlier: LesionImage, later: LesionImage) -> ImageComparison | None:
    """The comparison of two images by the current algorithm, if one was computed (never
    computes: for exports and lists)."""
    return ImageComparison.objects.filter(
        earlier=earlier, later=later, algorithm_version=skinml_change.ALGORITHM_VERSION
    ).first()


def pair_assessments(*, earlier: LesionImage, later: LesionImage) -> QuerySet[ChangeAssessment]:
    return (
        ChangeAssessment.objects.filter(Q(earlier=earlier, later=later) | Q(earlier=later, later=earlier))
        .select_related("assessed_by")
        .order_by("-assessed_at", "-pk")
    )


def lesion_assessments(*, lesion: Lesion) -> QuerySet[ChangeAssessment]:
    return lesion.change_assessments.select_related("assessed_by", "earlier", "later").order_by("-assessed_at", "-pk")


def default_pair(*, lesion: Lesion) -> tuple[LesionImage, LesionImage] | None:
    """The latest visit's image and the image of the visit before (the same modality where
    possible); None with fewer than two visits."""
    images = list(lesion.images.order_by("captured_on", "uploaded_at", "pk"))
    if len(images) < 2:
        return None
    latest = images[-1]
    earlier_visits = [image for image in images if image.captured_on < latest.captured_on]
    candidates = [image for image in earlier_visits if image.modality == latest.modality] or earlier_visits
    return (candidates[-1] if candidates else images[-2]), latest


def lesion_trend(*, lesion: Lesion, user: User) -> list[dict]:
    """Per image, oldest first: the visit, the shown result and the measured size."""
    images = list(lesion.images.order_by("captured_on", "uploaded_at", "pk").prefetch_related("measurements"))
    results = timeline_risks(images=images)
    points = []
    for image in images:
        result = result_summary(prediction=results[image.pk], user=user)
        measurement = measurement_report(image=image)
        points.append(
            {
                "image": image.pk,
                "captured_on": image.captured_on,
                "modality": image.modality,
                "risk_level": result["risk_level"],
                "probability_mel": result["probabilities"].get("MEL"),
                "probability_bcc": result["probabilities"].get("BCC"),
                "probability_nv": result["probabilities"].get("NV"),
                "withheld": result["withheld"],
                "area_px": measurement.get("area_px"),
                "max_diameter_px": measurement.get("max_diameter_px"),
                "area_mm2": (measurement["mm"] or {}).get("area_mm2"),
                "area_relative": None,
                "measurement_status": measurement["status"],
            }
        )
    _chain_relative_areas(images, points)
    return points


def _chain_relative_areas(images: list[LesionImage], points: list[dict]) -> None:
    """``area_relative``: each image's lesion area as a share of the first measured one, through
    the stored comparisons of consecutive visits (each measured in the earlier image's frame, so
    a dermatoscope held closer does not count as growth). The chain stops where two visits could
    not be aligned or were not compared: a raw pixel area across visits would mislead."""
    anchor: LesionImage | None = None
    relative = None
    for image, point in zip(images, points, strict=True):
        if anchor is None:
            if point["measurement_status"] == "succeeded":
                anchor, relative = image, 1.0
                point["area_relative"] = relative
            continue
        comparison = stored_comparison(earlier=anchor, later=image)
        area_percent = (comparison.change or {}).get("area_percent") if comparison and comparison.aligned else None
        if area_percent is None:
            if image.captured_on == anchor.captured_on:
                continue  # another image of the same visit: not compared, the chain goes on
            return
        relative = relative * (1 + area_percent / 100)
        point["area_relative"] = round(relative, 4)
        anchor = image


# Change flag -----------------------------------------------------------------------------


def with_change_flag(lesions: QuerySet[Lesion]) -> QuerySet[Lesion]:
    """Annotate ``changed``: the clinician's latest checklist on the lesion says significant
    change; or, unless a checklist newer than it says otherwise, the measured change between
    the lesion's two latest visits passes the configured thresholds."""
    latest_assessment = ChangeAssessment.objects.filter(lesion=OuterRef("pk")).order_by("-assessed_at", "-pk")
    latest_comparison = ImageComparison.objects.filter(
        lesion=OuterRef("pk"),
        later__captured_on=Subquery(
            LesionImage.objects.filter(lesion=OuterRef(OuterRef("pk")))
            .order_by("-captured_on")
            .values("captured_on")[:1]
        ),
    ).order_by("-later__captured_on", "-computed_at", "-pk")
    lesions = lesions.annotate(
        latest_assessment_verdict=Subquery(latest_assessment.values("verdict")[:1]),
        latest_assessment_at=Subquery(latest_assessment.values("assessed_at")[:1]),
        latest_comparison_flagged=Subquery(latest_comparison.values("flagged")[:1]),
        latest_comparison_at=Subquery(latest_comparison.values("computed_at")[:1]),
    )
    return lesions.annotate(
        changed=Case(
            When(latest_assessment_verdict=ChangeVerdict.SIGNIFICANT, then=Value(True)),
            When(
                Q(latest_assessment_verdict__isnull=False) & Q(latest_assessment_at__gte=F("latest_comparison_at")),
                then=Value(False),
            ),
            When(latest_comparison_flagged=True, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def lesion_change(*, lesion: Lesion) -> dict:
    """Whether the lesion is flagged changed, and why, in words."""
    annotated = with_change_flag(Lesion.objects.filter(pk=lesion.pk)).first()
    if annotated is None or not annotated.changed:
        return {"changed": False, "reasons": []}
    assessment = lesion.change_assessments.order_by("-assessed_at", "-pk").first()
    if assessment is not None and assessment.significant:
        who = assessment.assessed_by.display_name
        return {
            "changed": True,
            "reasons": [f"significant change recorded by {who} on {assessment.assessed_at:%d %b %Y}"],
        }
    comparison = (
        ImageComparison.objects.filter(lesion=lesion, flagged=True)
        .order_by("-later__captured_on", "-computed_at")
        .first()
    )
    return {"changed": True, "reasons": list(comparison.flag_reasons) if comparison else []}


def compare_url(*, lesion: Lesion, earlier: LesionImage, later: LesionImage) -> str:
    return f"{reverse('cases:lesion-compare', kwargs={'pk': lesion.pk})}?from={earlier.pk}&to={later.pk}"
