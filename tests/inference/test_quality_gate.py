"""Issue 14, the app side: the quality gate's verdict is stored with each result, a rejected
result's figures are withheld from clinicians and reviewers in every channel (admins see them,
marked withheld), a warning is shown beside the result, and the version's out-of-scope
statistics are verified and cached like the model file."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils.html import escape

from inference import runtime, selectors, services
from inference.models import WITHHELD, ModelVersion, Prediction, PredictionStatus, QualityStatus
from notifications.models import Notification, NotificationKind
from skinml import quality
from skinml.preprocessing import load_rgb

from ..factories import (
    QUALITY_REJECTED,
    QUALITY_WARNING,
    RESULT_PROBABILITIES,
    LesionImageFactory,
    ModelVersionFactory,
    PredictionFactory,
)

pytestmark = pytest.mark.django_db

#: A high-risk melanoma: the figures that must not leak (70.0 % MEL).
HIGH_MEL = RESULT_PROBABILITIES["MEL", "high"]
FIGURES = ("70.0%", "risk-high", "High risk", "Risk: <strong>")


@pytest.fixture
def rejected(clinician):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    return PredictionFactory(
        rejected=True, image=image, model_version=ModelVersionFactory(is_active=True), probabilities=HIGH_MEL
    )


def client_of(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


# The rule -------------------------------------------------------------------------------------


def test_is_withheld_and_the_query_agree_for_every_state(db):
    version = ModelVersionFactory()
    rows = [
        PredictionFactory(model_version=version),
        PredictionFactory(model_version=version, running=True),
        PredictionFactory(model_version=version, failed=True),
        PredictionFactory(model_version=version, succeeded=True),
        PredictionFactory(model_version=version, warning=True),
        PredictionFactory(model_version=version, rejected=True),
        PredictionFactory(model_version=version, succeeded=True, quality_status="", quality={}),  # before the gate
    ]
    withheld = {p.pk for p in rows if p.is_withheld}
    assert withheld == set(Prediction.objects.filter(WITHHELD).values_list("pk", flat=True)) == {rows[5].pk}
    assert set(Prediction.objects.shown().values_list("pk", flat=True)) == {rows[3].pk, rows[4].pk, rows[6].pk}


def test_the_figures_are_shown_to_admins_only_when_withheld(rejected, clinician, reviewer, admin_user):
    assert not selectors.result_figures_shown(prediction=rejected, user=clinician)
    assert not selectors.result_figures_shown(prediction=rejected, user=reviewer)
    assert selectors.result_figures_shown(prediction=rejected, user=admin_user)
    warned = PredictionFactory(warning=True)
    assert selectors.result_figures_shown(prediction=warned, user=clinician)


# The web UI ----------------------------------------------------------------------------------


def test_the_image_page_shows_no_figures_of_a_rejected_result_but_its_reasons(rejected, clinician, reviewer):
    for user in (clinician, reviewer):
        page = client_of(user).get(rejected.image.get_absolute_url())
        assert page.status_code == 200
        html = page.content.decode()
        assert "No result: out of focus; unlike the lesions the model was trained on." in html
        assert QUALITY_REJECTED["reasons"][0]["advice"] in html
        assert "data-withheld" in html
        for figure in FIGURES:
            assert figure not in html, (user, figure)
        assert rejected.get_heatmap_url() not in html


def test_the_polled_analysis_panel_withholds_too(rejected, clinician):
    answer = client_of(clinician).get(f"/images/{rejected.image_id}/analysis/").json()
    assert "No result:" in answer["html"] and "70.0%" not in answer["html"]


def test_an_admin_sees_a_withheld_result_marked_withheld(rejected, admin_user):
    html = client_of(admin_user).get(rejected.image.get_absolute_url()).content.decode()
    assert "70.0%" in html and "data-withheld-audit" in html and rejected.get_heatmap_url() in html


def test_an_earlier_withheld_result_in_the_history_shows_no_figures(rejected, clinician):
    PredictionFactory(succeeded=True, image=rejected.image, model_version=rejected.model_version)  # now current
    html = client_of(clinician).get(rejected.image.get_absolute_url()).content.decode()
    assert "no result: out of focus" in html and "70.0%" not in html


def test_the_lesion_timeline_shows_no_risk_badge_for_a_rejected_result(rejected, clinician, reviewer):
    for user in (clinician, reviewer):
        html = client_of(user).get(rejected.image.lesion.get_absolute_url()).content.decode()
        assert "No result: out of focus" in html
        assert "risk-high" not in html and "High risk" not in html


def test_a_warning_is_shown_beside_the_figures(clinician):
    warned = PredictionFactory(
        warning=True,
        image=LesionImageFactory(lesion__patient__owner=clinician),
        model_version=ModelVersionFactory(is_active=True),
        probabilities=HIGH_MEL,
    )
    html = client_of(clinician).get(warned.image.get_absolute_url()).content.decode()
    assert (
        "Image quality: bright or reflective in places." in html
        and escape(QUALITY_WARNING["reasons"][0]["advice"]) in html
    )
    assert "70.0%" in html and "risk-high" in html
    timeline = client_of(clinician).get(warned.image.lesion.get_absolute_url()).content.decode()
    assert "image quality: bright or reflective in places" in timeline and "risk-high" in timeline


@pytest.mark.parametrize("role", ["clinician", "reviewer"])
@pytest.mark.parametrize("query", ["", "?class=NV&opacity=0.5"])
def test_the_heatmap_of_a_withheld_result_is_409_in_both_channels(rejected, role, query, request, api_client_for):
    user = request.getfixturevalue(role)
    ui = client_of(user).get(f"/predictions/{rejected.pk}/heatmap/{query}")
    api = api_client_for(user).get(f"/api/v1/predictions/{rejected.pk}/heatmap/{query}")
    assert ui.status_code == api.status_code == 409
    assert "withheld" in ui.content.decode() and "withheld" in api.json()["errors"][0]["detail"]


def test_an_admin_opens_a_withheld_heatmap(rejected, admin_user, api_client_for):
    assert client_of(admin_user).get(f"/predictions/{rejected.pk}/heatmap/").status_code == 200
    assert api_client_for(admin_user).get(f"/api/v1/predictions/{rejected.pk}/heatmap/").status_code == 200


# The API -------------------------------------------------------------------------------------

WITHHELD_FIELDS = ("probabilities", "predicted_class", "risk_level", "malignant", "heatmap_url", "heatmap_class")


@pytest.mark.parametrize("role", ["clinician", "reviewer"])
def test_the_api_withholds_a_rejected_results_figures(rejected, role, request, api_client_for):
    api = api_client_for(request.getfixturevalue(role))
    detail = api.get(f"/api/v1/predictions/{rejected.pk}/").json()
    listed = next(p for p in api.get("/api/v1/predictions/").json()["results"] if p["id"] == rejected.pk)
    current = api.get(f"/api/v1/images/{rejected.image_id}/").json()["current_prediction"]
    for body in (detail, listed, current):
        assert body["withheld"] is True
        assert all(body[field] is None for field in WITHHELD_FIELDS), body
        assert body["quality"] == {
            "status": "rejected",
            "reasons": QUALITY_REJECTED["reasons"],
            "scores": QUALITY_REJECTED["scores"],
        }
        assert body["status"] == "succeeded"


def test_an_admin_gets_a_withheld_results_figures_marked_withheld(rejected, admin_user, api_client_for):
    body = api_client_for(admin_user).get(f"/api/v1/predictions/{rejected.pk}/").json()
    assert body["withheld"] is True
    assert (body["predicted_class"], body["risk_level"], body["malignant"]) == ("MEL", "high", True)
    assert body["probabilities"]["MEL"] == pytest.approx(0.7) and body["heatmap_url"]


def test_a_warning_result_carries_its_figures_and_reasons(clinician, api_client_for):
    warned = PredictionFactory(warning=True, image=LesionImageFactory(lesion__patient__owner=clinician))
    body = api_client_for(clinician).get(f"/api/v1/predictions/{warned.pk}/").json()
    assert body["withheld"] is False and body["risk_level"] == "low" and body["heatmap_url"]
    assert body["quality"]["status"] == "warning" and body["quality"]["reasons"] == QUALITY_WARNING["reasons"]


def test_results_from_before_the_gate_have_no_quality(clinician, api_client_for):
    old = PredictionFactory(
        succeeded=True, quality_status="", quality={}, image=LesionImageFactory(lesion__patient__owner=clinician)
    )
    body = api_client_for(clinician).get(f"/api/v1/predictions/{old.pk}/").json()
    assert body["quality"] is None and body["withheld"] is False and body["risk_level"] == "low"


def test_the_quality_status_filter_and_figure_filters_never_reveal_a_withheld_result(
    rejected, clinician, api_client_for
):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    ok = PredictionFactory(succeeded=True, image=image, probabilities=HIGH_MEL)
    warned = PredictionFactory(warning=True, image=image)
    api = api_client_for(clinician)

    def ids(query: str) -> set[int]:
        response = api.get(f"/api/v1/predictions/?{query}")
        assert response.status_code == 200, response.json()
        return {p["id"] for p in response.json()["results"]}

    assert ids("quality_status=rejected") == {rejected.pk}
    assert ids("quality_status=warning") == {warned.pk}
    assert ids("quality_status=ok") == {ok.pk}
    assert ids("risk_level=high") == {ok.pk}  # the withheld high-risk melanoma is not found by its risk
    assert ids("predicted_class=MEL") == {ok.pk}
    assert api.get("/api/v1/predictions/?quality_status=blurry").status_code == 400


def test_the_lesion_api_gives_no_latest_risk_for_a_withheld_latest_result(rejected, clinician, api_client_for):
    body = api_client_for(clinician).get(f"/api/v1/lesions/{rejected.image.lesion_id}/").json()
    assert body["latest_risk"] is None


def test_the_openapi_schema_documents_the_new_fields(api_client_for, clinician):
    response = api_client_for(clinician).get("/api/schema/?format=json")
    assert response.status_code == 200
    components = response.json()["components"]["schemas"]
    prediction = components["Prediction"]["properties"]
    assert {"quality", "withheld"} <= set(prediction)
    assert set(components["Quality"]["properties"]) == {"status", "reasons", "scores"}
    assert set(components["QualityReason"]["properties"]) == {"code", "severity", "message", "advice"}
    parameters = response.json()["paths"]["/api/v1/predictions/"]["get"]["parameters"]
    assert "quality_status" in {parameter["name"] for parameter in parameters}


# Admin ---------------------------------------------------------------------------------------


def test_the_prediction_admin_is_closed_to_clinicians_and_reviewers(rejected, clinician, reviewer):
    for user in (clinician, reviewer):
        answer = client_of(user).get(f"/admin/inference/prediction/{rejected.pk}/change/")
        assert answer.status_code in (302, 403)
        assert "70.0" not in answer.content.decode()


def test_the_prediction_admin_shows_an_admin_the_withheld_figures(rejected, admin_user):
    html = client_of(admin_user).get(f"/admin/inference/prediction/{rejected.pk}/change/").content.decode()
    assert "0.7" in html and "out of focus" in html and "withheld" in html.lower()
    listing = client_of(admin_user).get("/admin/inference/prediction/?quality_status__exact=rejected").content.decode()
    assert f"/admin/inference/prediction/{rejected.pk}/change/" in listing


# The worker ----------------------------------------------------------------------------------


def rejecting_gate(monkeypatch, calls: list):
    """Replace skinml.gate.assess (the real one, or the tests' stand-in) with one rejecting every image."""
    from skinml import gate, quality

    def assess(**kwargs):
        calls.append(kwargs)
        findings = tuple(quality.Finding(**{k: v for k, v in r.items()}) for r in QUALITY_REJECTED["reasons"])
        return quality.QualityVerdict(status="rejected", findings=findings, scores=QUALITY_REJECTED["scores"])

    monkeypatch.setattr(gate, "assess", assess)


def test_the_worker_stores_the_gates_verdict_and_notifies_a_new_image_is_needed(
    clinician, model_version, monkeypatch, django_capture_on_commit_callbacks, settings
):
    settings.SKINPORTAL_EMAIL_NOTIFICATIONS = False
    calls: list = []
    rejecting_gate(monkeypatch, calls)
    image = LesionImageFactory(lesion__patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        prediction = services.prediction_request(image=image, requested_by=clinician)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction.error
    assert prediction.quality_status == QualityStatus.REJECTED and prediction.is_withheld
    assert prediction.quality == QUALITY_REJECTED
    assert prediction.quality_ms is not None and prediction.quality_ms >= 0
    (call,) = calls
    assert call["rgb"].shape == (image.height, image.width, 3)
    assert call["logits"].shape == (3,) and call["statistics"] is None
    assert call["temperature"] == model_version.temperature
    kinds = list(Notification.objects.values_list("kind", flat=True))
    assert kinds == [NotificationKind.NEW_IMAGE_NEEDED]  # never "high risk"
    note = Notification.objects.get()
    assert "out of focus" in note.body and "risk" not in note.body.lower()


def test_the_worker_stores_an_ok_verdict_with_the_gate_as_it_is(
    clinician, model_version, django_capture_on_commit_callbacks
):
    """The real skinml.gate: the stored verdict is the gate's own on the stored image."""
    image = LesionImageFactory(lesion__patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        prediction = services.prediction_request(image=image, requested_by=clinician)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction.error
    assert prediction.quality_status in QualityStatus.values
    assert prediction.quality["status"] == prediction.quality_status
    assert set(prediction.quality) == {"status", "reasons", "scores"}
    with image.file.open("rb") as handle:
        rgb = np.asarray(load_rgb(handle.read()))
    assert prediction.quality["scores"]["resolution_px"] == min(rgb.shape[:2])
    expected = quality.image_scores(rgb)
    for name in ("focus_laplacian", "skin_fraction", "mean_luminance"):
        assert prediction.quality["scores"][name] == pytest.approx(expected[name])
    severities = [reason["severity"] for reason in prediction.quality["reasons"]]
    worst = max(severities, key=quality.SEVERITY_ORDER.__getitem__, default="ok")
    assert prediction.quality_status == worst


def statistics_file(directory, content: bytes = b"ood statistics") -> tuple[str, str]:
    path = directory / "test.ood.npz"
    path.write_bytes(content)
    return path.name, hashlib.sha256(content).hexdigest()


def test_the_versions_statistics_are_verified_loaded_once_and_given_to_the_gate(
    clinician, model_version, models_dir, monkeypatch, django_capture_on_commit_callbacks
):
    from skinml import gate, ood

    name, digest = statistics_file(models_dir)
    ModelVersion.objects.filter(pk=model_version.pk).update(
        quality_statistics_file=name, quality_statistics_sha256=digest
    )
    loads, seen = [], []
    sentinel = object()
    monkeypatch.setattr(ood.OODStatistics, "load", classmethod(lambda cls, path: loads.append(path) or sentinel))
    real_assess = gate.assess
    monkeypatch.setattr(gate, "assess", lambda **kw: seen.append(kw["statistics"]) or real_assess(**kw))
    runtime.clear_engines()
    for seed in (1, 2):
        image = LesionImageFactory(lesion__patient__owner=clinician, seed=seed)
        with django_capture_on_commit_callbacks(execute=True):
            services.prediction_request(image=image, requested_by=clinician)
    assert seen == [sentinel, sentinel] and len(loads) == 1
    assert loads[0] == models_dir / name


def test_a_changed_statistics_file_fails_the_prediction_with_a_reason(
    clinician, model_version, models_dir, django_capture_on_commit_callbacks
):
    name, _ = statistics_file(models_dir, b"tampered")
    ModelVersion.objects.filter(pk=model_version.pk).update(
        quality_statistics_file=name, quality_statistics_sha256="0" * 64
    )
    runtime.clear_engines()
    image = LesionImageFactory(lesion__patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        prediction = services.prediction_request(image=image, requested_by=clinician)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.FAILED
    assert "quality gate's statistics" in prediction.error and "refusing to load it" in prediction.error


# Statistics of a registered version ---------------------------------------------------------


def test_attach_quality_statistics_records_the_file_and_its_sha256_with_history(
    models_dir, model_version, tmp_path, monkeypatch, capsys
):
    from skinml import ood

    monkeypatch.setattr(ood.OODStatistics, "load", classmethod(lambda cls, path: object()))
    source = tmp_path / "fitted.ood.npz"
    source.write_bytes(b"fitted statistics")
    call_command("attach_quality_statistics", f"{model_version.name}:{model_version.version}", str(source))
    model_version.refresh_from_db()
    assert model_version.quality_statistics_file == "fitted.ood.npz"
    assert model_version.quality_statistics_sha256 == hashlib.sha256(b"fitted statistics").hexdigest()
    assert (models_dir / "fitted.ood.npz").read_bytes() == b"fitted statistics"
    assert "recorded" in capsys.readouterr().out
    history = list(model_version.history.order_by("history_date"))
    assert history[-1].quality_statistics_sha256 == model_version.quality_statistics_sha256
    assert history[-2].quality_statistics_file == ""
    (models_dir / "fitted.ood.npz").unlink()


def test_attach_quality_statistics_refuses_a_file_that_does_not_load(model_version, tmp_path, monkeypatch):
    from skinml import ood

    def refuse(cls, path):
        raise ValueError("not an OOD statistics file")

    monkeypatch.setattr(ood.OODStatistics, "load", classmethod(refuse))
    source = tmp_path / "bad.npz"
    source.write_bytes(b"junk")
    with pytest.raises(CommandError, match="cannot be loaded as quality gate statistics"):
        call_command("attach_quality_statistics", f"{model_version.name}:{model_version.version}", str(source))
    model_version.refresh_from_db()
    assert model_version.quality_statistics_file == ""


def test_attach_quality_statistics_names_an_unknown_version_or_file(model_version, tmp_path):
    with pytest.raises(CommandError, match="No model version"):
        call_command("attach_quality_statistics", "nobody:9", str(tmp_path / "x.npz"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("attach_quality_statistics", f"{model_version.name}:{model_version.version}", "/nope.npz")
