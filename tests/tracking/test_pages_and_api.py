"""The compare page, the checklist, the worklist, follow-ups and the body map, in the web UI
and the REST API (both call the same services and selectors)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessLog
from cases.models import Lesion, MonitoringPlan
from core.dates import add_months
from tracking.models import ChangeAssessment

from ..factories import (
    ImageComparisonFactory,
    ImageMeasurementFactory,
    LesionFactory,
    LesionImageFactory,
    PredictionFactory,
)
from .test_selectors import GROWN

pytestmark = pytest.mark.django_db

VISIT = datetime.date(2026, 3, 1)
LATER_VISIT = datetime.date(2026, 6, 1)


@pytest.fixture
def aligned_pair(clinician, same_lesion_pair):
    lesion = LesionFactory(patient__owner=clinician)
    earlier = LesionImageFactory(lesion=lesion, picture=same_lesion_pair[0], captured_on=VISIT)
    later = LesionImageFactory(lesion=lesion, picture=same_lesion_pair[1], captured_on=LATER_VISIT)
    return lesion, earlier, later


def test_the_compare_page_shows_the_latest_two_visits_aligned(aligned_pair, clinician_client):
    lesion, earlier, later = aligned_pair
    response = clinician_client.get(reverse("cases:lesion-compare", args=[lesion.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-registration-status="succeeded"' in page
    assert f"from={earlier.pk}&amp;to={later.pk}&amp;mode=aligned" in page
    assert AccessLog.objects.filter(action="view", object_type="lesion", object_id=lesion.pk).exists()


def test_two_different_lesions_are_shown_unaligned_with_the_reason(clinician, clinician_client, different_lesions_pair):
    lesion = LesionFactory(patient__owner=clinician)
    earlier = LesionImageFactory(lesion=lesion, picture=different_lesions_pair[0], captured_on=VISIT)
    later = LesionImageFactory(lesion=lesion, picture=different_lesions_pair[1], captured_on=LATER_VISIT)
    url = reverse("cases:lesion-compare", args=[lesion.pk])
    page = clinician_client.get(url, {"from": earlier.pk, "to": later.pk}).content.decode()
    assert 'data-registration-status="failed"' in page and "unaligned" in page.lower()
    assert "mode=difference" not in page
    overlay = clinician_client.get(
        reverse("cases:lesion-compare-overlay", args=[lesion.pk]), {"from": earlier.pk, "to": later.pk}
    )
    assert overlay.status_code == 409


def test_comparing_needs_two_images_of_this_lesion(clinician, clinician_client):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    url = reverse("cases:lesion-compare", args=[image.lesion.pk])
    assert clinician_client.get(url).status_code == 409
    other = LesionImageFactory(lesion__patient__owner=clinician)
    assert clinician_client.get(url, {"from": image.pk, "to": other.pk}).status_code == 404
    assert clinician_client.get(url, {"from": "x", "to": image.pk}).status_code == 400


def test_the_checklist_is_recorded_from_the_compare_page(aligned_pair, clinician, clinician_client):
    lesion, earlier, later = aligned_pair
    response = clinician_client.post(
        reverse("cases:lesion-assess-change", args=[lesion.pk]),
        {"earlier": earlier.pk, "later": later.pk, "verdict": "significant", "criteria": ["asymmetric_enlargement"]},
    )
    assert response.status_code == 302
    assessment = ChangeAssessment.objects.get()
    assert assessment.assessed_by == clinician and assessment.criteria == ["asymmetric_enlargement"]
    refused = clinician_client.post(
        reverse("cases:lesion-assess-change", args=[lesion.pk]),
        {"earlier": earlier.pk, "later": later.pk, "verdict": "no_change", "criteria": ["regression"]},
    )
    assert refused.status_code == 400 and "untick" in refused.content.decode()


def test_the_api_comparison_has_the_documented_shape(aligned_pair, clinician, api_client_for):
    lesion, earlier, later = aligned_pair
    response = api_client_for(clinician).get(
        f"/api/v1/lesions/{lesion.pk}/comparison/", {"from": later.pk, "to": earlier.pk}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["from"]["image"] == earlier.pk and body["to"]["image"] == later.pk
    assert set(body["registration"]) >= {
        "status",
        "rotation_degrees",
        "scale",
        "translation_px",
        "inliers",
        "confidence",
    }
    assert body["registration"]["status"] == "succeeded"
    assert set(body["change"]) >= {
        "area_percent",
        "diameter_percent",
        "asymmetry_change",
        "colours_gained",
        "colours_lost",
        "delta_e",
        "probability_changes",
        "summary",
    }
    overlay = api_client_for(clinician).get(
        f"/api/v1/lesions/{lesion.pk}/comparison/overlay/", {"from": earlier.pk, "to": later.pk, "mode": "difference"}
    )
    assert overlay.status_code == 200 and overlay["Content-Type"] == "image/png"


def test_the_api_refuses_a_bad_overlay_mode_and_other_clinicians(
    aligned_pair, other_clinician, clinician, api_client_for
):
    lesion = aligned_pair[0]
    url = f"/api/v1/lesions/{lesion.pk}/comparison/overlay/"
    assert api_client_for(clinician).get(url, {"mode": "sparkle"}).status_code == 400
    assert api_client_for(other_clinician).get(url).status_code == 404


def test_the_api_records_and_lists_checklists(clinician, reviewer, api_client_for):
    comparison = ImageComparisonFactory(earlier__lesion__patient__owner=clinician)
    url = f"/api/v1/lesions/{comparison.lesion.pk}/comparisons/"
    payload = {
        "earlier": comparison.earlier.pk,
        "later": comparison.later.pk,
        "verdict": "not_significant",
        "criteria": ["fewer_black_dots"],
        "note": "fewer dots at the rim",
    }
    created = api_client_for(reviewer).post(url, payload, format="json")
    assert created.status_code == 201 and created.json()["assessed_by"] == reviewer.username
    listed = api_client_for(clinician).get(url).json()
    assert [item["verdict"] for item in listed["results"]] == ["not_significant"]


def test_the_api_gives_measurements_and_the_trend(clinician, api_client_for):
    measurement = ImageMeasurementFactory(image__lesion__patient__owner=clinician, image__pixel_spacing_mm=0.02)
    image = measurement.image
    body = api_client_for(clinician).get(f"/api/v1/images/{image.pk}/measurements/").json()
    assert body["area_px"] == 4200.0 and body["mm"]["max_diameter_mm"] == pytest.approx(82 * 0.02)
    trend = api_client_for(clinician).get(f"/api/v1/lesions/{image.lesion.pk}/trend/").json()
    assert trend[0]["image"] == image.pk and trend[0]["area_px"] == 4200.0


def test_a_follow_up_plan_sets_the_next_visit_and_the_due_filter_finds_it(clinician, api_client_for):
    image = LesionImageFactory(lesion__patient__owner=clinician, captured_on=VISIT)
    client = api_client_for(clinician)
    response = client.patch(f"/api/v1/lesions/{image.lesion.pk}/", {"monitoring_plan": "short_term"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["next_visit_on"] == add_months(VISIT, 3).isoformat()
    due = client.get("/api/v1/lesions/", {"follow_up_due_before": add_months(VISIT, 3).isoformat()}).json()
    assert [lesion["id"] for lesion in due["results"]] == [image.lesion.pk]
    assert client.get("/api/v1/lesions/", {"follow_up_due_before": VISIT.isoformat()}).json()["count"] == 0
    custom = client.patch(f"/api/v1/lesions/{image.lesion.pk}/", {"monitoring_plan": "custom"}, format="json")
    assert custom.status_code == 400 and "next_visit_on" in str(custom.json())


def test_a_body_map_position_must_fit_the_site(clinician, api_client_for):
    lesion = LesionFactory(patient__owner=clinician, anatomic_site="posterior torso")
    client = api_client_for(clinician)
    url = f"/api/v1/lesions/{lesion.pk}/"
    wrong_view = client.patch(url, {"body_map_view": "front", "body_map_x": 0.5, "body_map_y": 0.3}, format="json")
    assert wrong_view.status_code == 400 and "back view" in str(wrong_view.json())
    placed = client.patch(url, {"body_map_view": "back", "body_map_x": 0.45, "body_map_y": 0.32}, format="json")
    assert placed.status_code == 200 and placed.json()["body_map_view"] == "back"
    removed = client.patch(url, {"body_map_view": ""}, format="json")
    assert removed.json()["body_map_x"] is None


def test_the_patient_page_shows_the_body_map_and_the_next_follow_up(clinician, clinician_client):
    lesion = LesionFactory(
        patient__owner=clinician,
        anatomic_site="posterior torso",
        body_map_view="back",
        body_map_x=0.4,
        body_map_y=0.3,
        monitoring_plan=MonitoringPlan.SHORT_TERM,
        next_visit_on=datetime.date(2026, 2, 1),
    )
    page = clinician_client.get(lesion.patient.get_absolute_url()).content.decode()
    assert f'data-marker-lesion="{lesion.pk}"' in page
    assert "data-next-follow-up" in page and "1 Feb 2026" in page and "overdue" in page


def test_a_review_recommending_a_follow_up_schedules_it(model_version, reviewer, reviewer_client):
    image = LesionImageFactory(captured_on=VISIT)
    prediction = PredictionFactory(image=image, model_version=model_version, succeeded=True)
    response = reviewer_client.post(
        reverse("reviews:review", args=[image.lesion.pk]),
        {
            "prediction": prediction.pk,
            "agrees_with_model": "yes",
            "diagnosis": "NV",
            "action": "short_term_follow_up",
            "follow_up_months": 3,
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    lesion = Lesion.objects.get(pk=image.lesion.pk)
    assert lesion.monitoring_plan == MonitoringPlan.SHORT_TERM and lesion.next_visit_on == add_months(VISIT, 3)


def test_the_worklist_shows_overdue_follow_ups_and_changed_lesions(clinician, clinician_client):
    overdue = LesionFactory(
        patient__owner=clinician, monitoring_plan=MonitoringPlan.SHORT_TERM, next_visit_on=datetime.date(2026, 1, 2)
    )
    changed = ImageComparisonFactory(earlier__lesion__patient__owner=clinician, change=GROWN).lesion
    LesionFactory(
        patient__owner=clinician,
        monitoring_plan=MonitoringPlan.LONG_TERM_12,
        next_visit_on=timezone.localdate() + datetime.timedelta(days=200),
    )
    page = clinician_client.get(reverse("cases:dashboard")).content.decode()
    overdue_group = page.split('data-worklist-group="overdue"')[1].split("data-worklist-group")[0]
    assert overdue.label in overdue_group and '<span class="badge" data-count>1</span>' in overdue_group
    changed_group = page.split('data-worklist-group="changed"')[1]
    assert changed.label in changed_group


def test_the_review_queue_ranks_a_changed_lesion_above_unchanged_ones_of_the_same_risk(model_version, reviewer_client):
    unchanged = LesionImageFactory(captured_on=LATER_VISIT)
    PredictionFactory(image=unchanged, model_version=model_version, succeeded=True)
    comparison = ImageComparisonFactory(change=GROWN)
    PredictionFactory(image=comparison.later, model_version=model_version, succeeded=True)
    page = reviewer_client.get(reverse("reviews:queue")).content.decode()
    assert page.index(comparison.lesion.label) < page.index(unchanged.lesion.label)


def test_the_dashboards_access_log_row_names_the_worklists_patients(clinician, clinician_client):
    overdue = LesionFactory(
        patient__owner=clinician, monitoring_plan=MonitoringPlan.SHORT_TERM, next_visit_on=datetime.date(2026, 1, 2)
    )
    clinician_client.get(reverse("cases:dashboard"))
    row = AccessLog.objects.get(user=clinician, action="view", object_type="patient")
    assert f",{overdue.patient_id}," in row.patient_ids  # stored as ",1,5," (audit.models.patient_ids_text)


def test_a_recorded_checklist_is_in_the_access_log_in_both_channels(
    aligned_pair, clinician, clinician_client, api_client_for
):
    lesion, earlier, later = aligned_pair
    clinician_client.post(
        reverse("cases:lesion-assess-change", args=[lesion.pk]),
        {"earlier": earlier.pk, "later": later.pk, "verdict": "no_change"},
    )
    api_client_for(clinician).post(
        f"/api/v1/lesions/{lesion.pk}/comparisons/",
        {"earlier": earlier.pk, "later": later.pk, "verdict": "no_change"},
        format="json",
    )
    rows = AccessLog.objects.filter(action="recorded", object_type="lesion", object_id=lesion.pk, user=clinician)
    assert sorted(rows.values_list("channel", flat=True)) == ["api", "web"]
    assert all(row.patient_id == lesion.patient_id for row in rows)
