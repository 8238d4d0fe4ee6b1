"""Lesion tracking's reads: the change flag (the clinician's checklist beats the measurement),
measurements in millimetres only with a known pixel spacing, the trend."""

from __future__ import annotations

import datetime

import pytest

from cases.models import Lesion
from tracking import selectors

from ..factories import (
    ChangeAssessmentFactory,
    ImageComparisonFactory,
    ImageMeasurementFactory,
    LesionImageFactory,
    PredictionFactory,
)

pytestmark = pytest.mark.django_db

GROWN_A_LITTLE = {
    "area_percent": 3.0,
    "diameter_percent": 1.0,
    "asymmetry_change": 0.0,
    "colours_gained": [],
    "colours_lost": [],
    "delta_e": 1.0,
    "summary": "No clear change in size.",
}
GROWN = {
    "area_percent": 31.0,
    "diameter_percent": 12.0,
    "asymmetry_change": 0.18,
    "colours_gained": ["blue_grey"],
    "colours_lost": [],
    "delta_e": 9.0,
    "summary": "Grew 31 % in area, asymmetrically; blue-grey appeared.",
}


def _changed(lesion) -> bool:
    return selectors.with_change_flag(Lesion.objects.filter(pk=lesion.pk)).get().changed


def test_a_lesion_whose_measured_change_passes_a_threshold_is_flagged_changed():
    comparison = ImageComparisonFactory(change=GROWN)
    assert comparison.flagged
    assert _changed(comparison.lesion)
    reasons = selectors.lesion_change(lesion=comparison.lesion)["reasons"]
    assert any("area grew 31 %" in reason for reason in reasons) and any("blue grey" in r for r in reasons)


def test_a_small_measured_change_is_not_flagged():
    comparison = ImageComparisonFactory()
    assert not _changed(comparison.lesion)
    assert selectors.lesion_change(lesion=comparison.lesion) == {"changed": False, "reasons": []}


def test_a_newer_checklist_saying_not_significant_overrides_the_measurement():
    comparison = ImageComparisonFactory(change=GROWN)
    ChangeAssessmentFactory(
        earlier=comparison.earlier, later=comparison.later, verdict="not_significant", criteria=["global_pigmentation"]
    )
    assert not _changed(comparison.lesion)


def test_a_checklist_saying_significant_flags_the_lesion_whatever_was_measured():
    comparison = ImageComparisonFactory()
    ChangeAssessmentFactory(
        earlier=comparison.earlier, later=comparison.later, verdict="significant", criteria=["regression"]
    )
    assert _changed(comparison.lesion)
    assert "significant change recorded by" in selectors.lesion_change(lesion=comparison.lesion)["reasons"][0]


def test_only_the_comparison_reaching_the_latest_visit_counts():
    comparison = ImageComparisonFactory(change=GROWN)
    # A newer visit, not compared yet: the old flag no longer describes the lesion.
    LesionImageFactory(lesion=comparison.lesion, captured_on=comparison.later.captured_on + datetime.timedelta(days=90))
    assert not _changed(comparison.lesion)


def test_measurements_are_in_millimetres_only_with_a_known_pixel_spacing():
    without = ImageMeasurementFactory()
    report = selectors.measurement_report(image=without.image)
    assert report["status"] == "succeeded" and report["area_px"] == 4200.0 and report["mm"] is None
    spaced = ImageMeasurementFactory(image=LesionImageFactory(pixel_spacing_mm=0.05))
    report = selectors.measurement_report(image=spaced.image)
    assert report["mm"]["area_mm2"] == pytest.approx(4200 * 0.05**2)
    assert report["mm"]["max_diameter_mm"] == pytest.approx(82 * 0.05)


def test_an_unmeasured_image_reports_pending():
    assert selectors.measurement_report(image=LesionImageFactory())["status"] == "pending"


def test_the_trend_gives_each_visits_probabilities_risk_and_area(model_version, clinician):
    first = LesionImageFactory(lesion__patient__owner=clinician, captured_on=datetime.date(2026, 1, 10))
    second = LesionImageFactory(lesion=first.lesion, captured_on=datetime.date(2026, 4, 10))
    PredictionFactory(image=first, model_version=model_version, succeeded=True, probabilities=(0.05, 0.05, 0.9))
    PredictionFactory(image=second, model_version=model_version, succeeded=True, probabilities=(0.1, 0.7, 0.2))
    ImageMeasurementFactory(image=second, area_px=5000.0)
    points = selectors.lesion_trend(lesion=first.lesion, user=clinician)
    assert [point["image"] for point in points] == [first.pk, second.pk]
    assert [point["risk_level"] for point in points] == ["low", "high"]
    assert points[1]["probability_mel"] > points[0]["probability_mel"]
    assert (points[0]["area_px"], points[1]["area_px"]) == (None, 5000.0)
    assert points[0]["measurement_status"] == "pending"


def test_the_default_pair_is_the_latest_visit_and_the_one_before():
    first = LesionImageFactory(captured_on=datetime.date(2026, 1, 10))
    second = LesionImageFactory(lesion=first.lesion, captured_on=datetime.date(2026, 4, 10))
    third = LesionImageFactory(lesion=first.lesion, captured_on=datetime.date(2026, 7, 10))
    assert selectors.default_pair(lesion=first.lesion) == (second, third)
    assert selectors.default_pair(lesion=LesionImageFactory().lesion) is None


def test_the_trend_area_is_scale_corrected_through_the_aligned_comparisons(clinician):
    """Raw pixel areas of two visits differ with the camera's distance; the trend's relative area
    follows the comparisons (measured in one frame) and stops where a pair was not aligned."""
    first = LesionImageFactory(lesion__patient__owner=clinician, captured_on=datetime.date(2026, 1, 10))
    second = LesionImageFactory(lesion=first.lesion, captured_on=datetime.date(2026, 4, 10))
    third = LesionImageFactory(lesion=first.lesion, captured_on=datetime.date(2026, 7, 10))
    fourth = LesionImageFactory(lesion=first.lesion, captured_on=datetime.date(2026, 10, 10))
    for image, area in ((first, 4000.0), (second, 2500.0), (third, 9000.0), (fourth, 9100.0)):
        ImageMeasurementFactory(image=image, area_px=area)  # second: taken from further away
    ImageComparisonFactory(earlier=first, later=second, change={**GROWN_A_LITTLE, "area_percent": 10.0})
    ImageComparisonFactory(earlier=second, later=third, change={**GROWN_A_LITTLE, "area_percent": 20.0})
    ImageComparisonFactory(
        earlier=third, later=fourth, status="failed", change=None, flagged=False, flag_reasons=[], confidence=0.1
    )
    points = selectors.lesion_trend(lesion=first.lesion, user=clinician)
    assert [point["area_relative"] for point in points] == [1.0, 1.1, pytest.approx(1.32), None]
