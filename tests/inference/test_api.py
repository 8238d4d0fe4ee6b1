"""Predictions and model versions over the API."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from inference import services
from inference.models import PredictionStatus

from ..conftest import model_version_from_dir
from ..factories import LesionImageFactory, ModelVersionFactory, PatientShareFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed_image(clinician, model_version, django_capture_on_commit_callbacks):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_request(image=image, requested_by=clinician)
    return image


def test_a_succeeded_prediction_has_probabilities_class_risk_and_heatmap(analysed_image, clinician, api_client_for):
    prediction = analysed_image.predictions.get()
    assert prediction.status == PredictionStatus.SUCCEEDED
    api = api_client_for(clinician)
    body = api.get(f"/api/v1/predictions/{prediction.pk}/").json()
    assert body["status"] == "succeeded" and body["image"] == analysed_image.pk
    assert body["probabilities"] == pytest.approx(
        {"BCC": prediction.probability_bcc, "MEL": prediction.probability_mel, "NV": prediction.probability_nv}
    )
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert body["predicted_class"] == prediction.predicted_class
    assert body["malignant"] == (prediction.predicted_class in ("BCC", "MEL"))
    assert body["risk_level"] == prediction.risk_level and body["heatmap_class"] == prediction.heatmap_class
    assert body["model_version"] == prediction.model_version_id and body["finished_at"]

    heatmap = api.get(body["heatmap_url"])
    assert heatmap.status_code == 200 and heatmap["Content-Type"] == "image/jpeg"
    stored = Image.open(io.BytesIO(b"".join(heatmap.streaming_content)))
    assert stored.size == (analysed_image.width, analysed_image.height)
    for label in ("BCC", "MEL", "NV"):
        other = api.get(f"/api/v1/predictions/{prediction.pk}/heatmap/?class={label}&opacity=0.7")
        assert other.status_code == 200 and other["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(other.content)).size == stored.size
    bad = api.get(f"/api/v1/predictions/{prediction.pk}/heatmap/?class=SCC")
    assert bad.status_code == 400 and bad.json()["errors"][0]["attr"] == "class"
    assert api.get(f"/api/v1/predictions/{prediction.pk}/heatmap/?opacity=3").status_code == 400

    image = api.get(f"/api/v1/images/{analysed_image.pk}/").json()
    assert image["current_prediction"] == body


def test_a_queued_prediction_has_no_results_yet(clinician, api_client_for):
    prediction = PredictionFactory(image__lesion__patient__owner=clinician)
    api = api_client_for(clinician)
    body = api.get(f"/api/v1/predictions/{prediction.pk}/").json()
    assert body["status"] == "queued"
    assert [body[key] for key in ("probabilities", "predicted_class", "risk_level", "heatmap_url")] == [None] * 4
    response = api.get(f"/api/v1/predictions/{prediction.pk}/heatmap/")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "conflict"


def test_rerun_and_predict_add_predictions_and_keep_history(
    analysed_image, clinician, api_client_for, models_dir, django_capture_on_commit_callbacks
):
    first = analysed_image.predictions.get()
    api = api_client_for(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        rerun = api.post(f"/api/v1/predictions/{first.pk}/rerun/")
    assert rerun.status_code == 201
    assert rerun.json()["id"] != first.pk and rerun.json()["image"] == analysed_image.pk

    other_version = model_version_from_dir(models_dir, active=False, version="0.9.0")
    with django_capture_on_commit_callbacks(execute=True):
        predicted = api.post(
            f"/api/v1/images/{analysed_image.pk}/predict/", {"model_version": other_version.pk}, format="json"
        )
    assert predicted.status_code == 201 and predicted.json()["model_version"] == other_version.pk
    predictions = analysed_image.predictions.order_by("pk")
    assert [p.status for p in predictions] == [PredictionStatus.SUCCEEDED] * 3
    assert list(predictions.values_list("model_version", flat=True)) == [first.model_version_id] * 2 + [
        other_version.pk
    ]
    first.refresh_from_db()
    assert first.status == PredictionStatus.SUCCEEDED  # never overwritten

    history = api.get(f"/api/v1/predictions/?image={analysed_image.pk}&ordering=created_at").json()
    assert [p["id"] for p in history["results"]] == list(predictions.values_list("pk", flat=True))
    unknown = api.post(f"/api/v1/images/{analysed_image.pk}/predict/", {"model_version": 999999}, format="json")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["attr"] == "model_version"


def test_only_the_owner_or_an_admin_reruns(analysed_image, other_clinician, admin_user, api_client_for):
    prediction = analysed_image.predictions.get()
    PatientShareFactory(patient=analysed_image.lesion.patient, clinician=other_clinician)
    care_team = api_client_for(other_clinician)
    assert care_team.get(f"/api/v1/predictions/{prediction.pk}/").status_code == 200
    assert care_team.post(f"/api/v1/predictions/{prediction.pk}/rerun/").status_code == 403
    assert care_team.post(f"/api/v1/images/{analysed_image.pk}/predict/").status_code == 403
    assert api_client_for(admin_user).post(f"/api/v1/predictions/{prediction.pk}/rerun/").status_code == 201
    assert analysed_image.predictions.count() == 2


def test_without_an_active_model_a_rerun_is_409(analysed_image, clinician, api_client_for):
    prediction = analysed_image.predictions.get()
    prediction.model_version.is_active = False
    prediction.model_version.save()
    response = api_client_for(clinician).post(f"/api/v1/predictions/{prediction.pk}/rerun/")
    assert response.status_code == 409 and "No model is active" in response.json()["errors"][0]["detail"]
    response = api_client_for(clinician).post(f"/api/v1/images/{analysed_image.pk}/predict/")
    assert response.status_code == 409 and "No model is active" in response.json()["errors"][0]["detail"]


def test_another_clinicians_predictions_are_404(analysed_image, other_clinician, api_client_for):
    prediction = analysed_image.predictions.get()
    api = api_client_for(other_clinician)
    assert api.get("/api/v1/predictions/").json()["count"] == 0
    for url in ("", "heatmap/", "heatmap/?class=MEL"):
        assert api.get(f"/api/v1/predictions/{prediction.pk}/{url}").status_code == 404
    assert api.post(f"/api/v1/predictions/{prediction.pk}/rerun/").status_code == 404
    assert api.get(f"/api/v1/predictions/?image={analysed_image.pk}").json()["count"] == 0


def test_prediction_filters(clinician, api_client_for):
    model_version = ModelVersionFactory(is_active=True)
    old_version = ModelVersionFactory(thresholds={"medium": 0.8, "high": 0.9})  # there, the same result is low risk
    first = LesionImageFactory(lesion__patient__owner=clinician)
    second = LesionImageFactory(lesion__patient__owner=clinician)
    mel = (0.05, 0.7, 0.25)
    high = PredictionFactory(succeeded=True, image=first, model_version=model_version, probabilities=mel)
    queued = PredictionFactory(image=second, model_version=model_version)
    old = PredictionFactory(succeeded=True, image=second, model_version=old_version, probabilities=mel)
    api = api_client_for(clinician)

    def ids(query: str) -> set[int]:
        return {p["id"] for p in api.get(f"/api/v1/predictions/?{query}").json()["results"]}

    assert ids("status=queued") == {queued.pk}
    assert ids("predicted_class=MEL") == {high.pk, old.pk}
    assert ids("risk_level=high") == {high.pk}
    assert ids(f"model_version={old_version.pk}") == {old.pk}
    assert ids(f"lesion={second.lesion_id}") == {queued.pk, old.pk}
    assert ids(f"patient={first.lesion.patient_id}") == {high.pk}
    response = api.get("/api/v1/predictions/?status=exploded")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "status"


def test_model_versions_are_read_only_with_metrics(clinician, api_client_for, model_version):
    api = api_client_for(clinician)
    listed = api.get("/api/v1/model-versions/").json()["results"]
    assert [m["id"] for m in listed] == [model_version.pk]
    body = api.get(f"/api/v1/model-versions/{model_version.pk}/").json()
    assert body["is_active"] is True and body["class_labels"] == ["BCC", "MEL", "NV"]
    assert body["metrics"] == model_version.metrics and body["thresholds"] == model_version.thresholds
    assert api.post("/api/v1/model-versions/", {}).status_code == 405
    assert api.delete(f"/api/v1/model-versions/{model_version.pk}/").status_code == 405


def test_a_model_version_says_what_its_quality_gate_was_fitted_with(clinician, api_client_for):
    quality = {
        "ood_thresholds": {
            "energy": {"warning": -1.1, "rejected": -1.1},
            "mahalanobis": {"warning": 46, "rejected": 46},
        },
        "ood_flag_rates": {"test": {"images": 429, "rejected": 0.007, "gate_rejected": 0.035}},
    }
    fitted = ModelVersionFactory(
        card={"quality": quality}, quality_statistics_file="m.ood.npz", quality_statistics_sha256="a" * 64
    )
    older = ModelVersionFactory(version="0.9.0-older")  # never a Sequence value (0.N.0)
    api = api_client_for(clinician)
    body = api.get(f"/api/v1/model-versions/{fitted.pk}/").json()
    assert body["quality_gate"] == {
        "statistics_sha256": "a" * 64,
        "out_of_scope_thresholds": quality["ood_thresholds"],
        "false_reject_rate_test": 0.035,
    }
    assert api.get(f"/api/v1/model-versions/{older.pk}/").json()["quality_gate"] == {
        "statistics_sha256": "",
        "out_of_scope_thresholds": {},
        "false_reject_rate_test": None,
    }
