"""Lesion tracking's writes: measure once per algorithm version, compare two visits once per
pair, overlays only of aligned pairs, the change checklist's rules."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from PIL import Image

from core.history import history_of
from tracking import services
from tracking.models import ChangeVerdict, ImageComparison, ImageMeasurement

from ..factories import LesionFactory, LesionImageFactory, UserFactory

pytestmark = pytest.mark.django_db

VISIT = datetime.date(2026, 3, 1)
LATER_VISIT = datetime.date(2026, 6, 1)


def _pair(pictures: tuple[bytes, bytes]):
    earlier = LesionImageFactory(picture=pictures[0], captured_on=VISIT)
    later = LesionImageFactory(lesion=earlier.lesion, picture=pictures[1], captured_on=LATER_VISIT)
    return earlier, later


def test_an_image_is_measured_once_per_algorithm_version(same_lesion_pair):
    earlier, _ = _pair(same_lesion_pair)
    measurement = services.measurement_run(image_id=earlier.pk)
    assert measurement.status == "succeeded", measurement.reason
    # The lesion of ISIC_0000029 covers a good part of its 600×450 frame.
    assert 0.05 * 600 * 450 < measurement.area_px < 0.9 * 600 * 450
    assert measurement.max_diameter_px > 100 and measurement.outline
    assert services.measurement_run(image_id=earlier.pk).pk == measurement.pk
    assert ImageMeasurement.objects.filter(image=earlier).count() == 1


def test_measuring_a_visit_compares_it_with_the_visit_before(same_lesion_pair):
    earlier, later = _pair(same_lesion_pair)
    services.measurement_run(image_id=later.pk)
    comparison = ImageComparison.objects.get()
    assert (comparison.earlier, comparison.later) == (earlier, later)


def test_measuring_a_deleted_image_does_nothing():
    assert services.measurement_run(image_id=987654) is None


def test_a_later_visit_of_the_same_lesion_is_aligned_and_cached(same_lesion_pair):
    earlier, later = _pair(same_lesion_pair)
    comparison = services.comparison_get_or_compute(earlier=earlier, later=later)
    assert comparison.aligned, comparison.registration
    # The later picture is the earlier one rotated by 12° and scaled by 1.1: the transform
    # mapping it back is a rotation of 12° (either sign convention) and a scale of 1 / 1.1.
    assert abs(abs(comparison.registration["rotation_degrees"]) - 12) < 2
    assert comparison.registration["scale"] == pytest.approx(1 / 1.1, rel=0.03)
    # The same lesion seen again: no growth measured once the scale is taken out.
    assert abs(comparison.change["area_percent"]) < 10
    assert not comparison.flagged
    # Cached: asked again (in either order), the same row, not a new computation.
    assert services.comparison_get_or_compute(earlier=later, later=earlier).pk == comparison.pk
    assert ImageComparison.objects.count() == 1


def test_two_different_lesions_are_not_reported_as_aligned(different_lesions_pair):
    earlier, later = _pair(different_lesions_pair)
    comparison = services.comparison_get_or_compute(earlier=earlier, later=later)
    assert not comparison.aligned
    assert comparison.change is None and not comparison.flagged
    assert comparison.registration["reason"]
    with pytest.raises(services.ComparisonNotAligned):
        services.comparison_overlay(comparison=comparison, mode="aligned")


@pytest.mark.parametrize(
    ("mode", "media_type"), [("aligned", "image/jpeg"), ("swipe", "image/jpeg"), ("difference", "image/png")]
)
def test_the_overlays_are_in_the_earlier_images_frame(same_lesion_pair, mode, media_type):
    earlier, later = _pair(same_lesion_pair)
    comparison = services.comparison_get_or_compute(earlier=earlier, later=later)
    content, content_type = services.comparison_overlay(comparison=comparison, mode=mode)
    assert content_type == media_type
    assert Image.open(io.BytesIO(content)).size == (earlier.width, earlier.height)


def test_an_unknown_overlay_mode_is_refused(same_lesion_pair):
    earlier, later = _pair(same_lesion_pair)
    comparison = services.comparison_get_or_compute(earlier=earlier, later=later)
    with pytest.raises(ValueError, match="Unknown overlay mode"):
        services.comparison_overlay(comparison=comparison, mode="sparkle")


def test_an_image_is_not_compared_with_itself_or_another_lesions_image():
    image = LesionImageFactory()
    with pytest.raises(services.NotComparable, match="two different images"):
        services.comparison_get_or_compute(earlier=image, later=image)
    with pytest.raises(services.NotComparable, match="same lesion"):
        services.comparison_get_or_compute(earlier=image, later=LesionImageFactory())


@pytest.mark.parametrize(
    ("change", "flagged_by"),
    [
        (
            {"area_percent": 25.0, "diameter_percent": 5.0, "asymmetry_change": 0.0, "colours_gained": []},
            "area grew 25 %",
        ),
        (
            {"area_percent": 5.0, "diameter_percent": 16.0, "asymmetry_change": 0.0, "colours_gained": []},
            "diameter grew",
        ),
        ({"area_percent": 5.0, "diameter_percent": 5.0, "asymmetry_change": 0.2, "colours_gained": []}, "asymmetry"),
        (
            {"area_percent": 0.0, "diameter_percent": 0.0, "asymmetry_change": 0.0, "colours_gained": ["blue_grey"]},
            "blue grey",
        ),
    ],
)
def test_a_change_passing_a_threshold_says_which(change, flagged_by):
    reasons = services.change_flag_reasons(change)
    assert len(reasons) == 1 and flagged_by in reasons[0]


def test_a_small_change_is_not_flagged_and_thresholds_come_from_settings(settings):
    change = {"area_percent": 12.0, "diameter_percent": 4.0, "asymmetry_change": 0.02, "colours_gained": []}
    assert services.change_flag_reasons(change) == []
    settings.SKINPORTAL_CHANGE_AREA_PERCENT = 10.0
    assert services.change_flag_reasons(change) == ["area grew 12 % (threshold 10 %)"]


def test_a_change_checklist_is_recorded_with_who_and_in_the_history():
    lesion = LesionFactory()
    earlier = LesionImageFactory(lesion=lesion, captured_on=VISIT)
    later = LesionImageFactory(lesion=lesion, captured_on=LATER_VISIT)
    assessment = services.change_assessment_record(
        lesion=lesion,
        actor=lesion.patient.owner,
        earlier=later,  # given in either order: stored oldest first
        later=earlier,
        verdict=ChangeVerdict.SIGNIFICANT,
        criteria=["asymmetric_enlargement", "global_pigmentation"],
        note=" grew towards the left ",
    )
    assert (assessment.earlier, assessment.later) == (earlier, later)
    assert assessment.assessed_by == lesion.patient.owner and assessment.note == "grew towards the left"
    assert any(entry.object_type == "change_assessment" for entry in history_of(instance=lesion))


@pytest.mark.parametrize(
    ("verdict", "criteria", "note", "message"),
    [
        ("not_significant", ["new_colours"], "", "significant criterion is ticked"),
        ("significant", ["fewer_black_dots"], "", "Tick the significant criterion"),
        ("no_change", ["fewer_black_dots"], "", "untick the criteria"),
        ("significant", ["sparkles"], "", "Unknown criteria"),
    ],
)
def test_a_contradictory_checklist_is_refused(verdict, criteria, note, message):
    lesion = LesionFactory()
    earlier = LesionImageFactory(lesion=lesion, captured_on=VISIT)
    later = LesionImageFactory(lesion=lesion, captured_on=LATER_VISIT)
    with pytest.raises(ValidationError, match=message):
        services.change_assessment_record(
            lesion=lesion,
            actor=lesion.patient.owner,
            earlier=earlier,
            later=later,
            verdict=verdict,
            criteria=criteria,
            note=note,
        )


def test_only_the_care_team_reviewers_and_admins_record_a_checklist(reviewer):
    lesion = LesionFactory()
    earlier = LesionImageFactory(lesion=lesion, captured_on=VISIT)
    later = LesionImageFactory(lesion=lesion, captured_on=LATER_VISIT)
    arguments = {"lesion": lesion, "earlier": earlier, "later": later, "verdict": "no_change", "criteria": []}
    with pytest.raises(PermissionDenied):
        services.change_assessment_record(actor=UserFactory(), **arguments)
    assert services.change_assessment_record(actor=reviewer, **arguments).assessed_by == reviewer


def test_the_measure_images_command_backfills_a_lesion(same_lesion_pair, capsys):
    from django.core.management import call_command

    earlier, later = _pair(same_lesion_pair)
    call_command("measure_images", lesion=earlier.lesion_id)
    assert ImageMeasurement.objects.filter(image__in=[earlier, later], status="succeeded").count() == 2
    assert ImageComparison.objects.filter(earlier=earlier, later=later).exists()
    assert "2 images measured; 0 could not be" in capsys.readouterr().out
