"""The image page's analysis panel, its polling endpoint, heatmaps, re-runs; access rule on each."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from inference.models import ModelVersion, Prediction, PredictionStatus

from ..factories import LesionImageFactory, ModelVersionFactory, PatientShareFactory, PredictionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysed_image(clinician, model_version, django_capture_on_commit_callbacks):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    from inference import services

    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_request(image=image, requested_by=clinician)
    return image


def test_image_page_shows_the_result(analysed_image, clinician_client):
    prediction = analysed_image.predictions.get()
    page = clinician_client.get(analysed_image.get_absolute_url()).content.decode()
    assert f"Risk: <strong>{prediction.get_risk_level_display()}</strong>" in page
    for label in ("Basal cell carcinoma (BCC)", "Melanoma (MEL)", "Nevus (NV)"):
        assert label in page
    assert f"{prediction.probability_mel * 100:.1f}%" in page
    assert str(prediction.model_version) in page
    assert f"{prediction.get_heatmap_url()}?class={prediction.heatmap_class}&amp;opacity=1" in page
    assert 'type="range"' in page and "Re-run with the active model" in page
    assert "decision support for clinicians only" in page


def test_a_pending_prediction_is_polled_until_it_finishes(clinician, clinician_client, model_version):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    prediction = PredictionFactory(image=image, model_version=model_version)
    page = clinician_client.get(image.get_absolute_url()).content.decode()
    poll_url = reverse("inference:image-analysis", args=[image.pk])
    assert f'data-poll-url="{poll_url}"' in page and "Queued with" in page

    state = clinician_client.get(poll_url).json()
    assert (state["status"], state["finished"]) == ("queued", False)

    from inference import services

    services.prediction_run(prediction_id=prediction.pk)
    state = clinician_client.get(poll_url).json()
    assert (state["status"], state["finished"]) == ("succeeded", True)
    assert "Risk:" in state["html"] and "data-poll-url" not in state["html"]


def test_a_failed_prediction_shows_its_reason(clinician, clinician_client):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    PredictionFactory(
        failed=True,
        image=image,
        model_version=ModelVersionFactory(is_active=True),
        error="The stored image could not be decoded.",
    )
    page = clinician_client.get(image.get_absolute_url()).content.decode()
    assert "The analysis failed." in page and "could not be decoded" in page


def test_rerun_adds_a_prediction_and_keeps_the_history(analysed_image, clinician_client):
    first = analysed_image.predictions.get()
    response = clinician_client.post(reverse("inference:image-predict", args=[analysed_image.pk]))
    assert response.status_code == 302
    assert analysed_image.predictions.count() == 2
    page = clinician_client.get(analysed_image.get_absolute_url()).content.decode()
    assert "Earlier and other results" in page
    first.refresh_from_db()
    assert first.status == PredictionStatus.SUCCEEDED


def test_only_the_owner_or_an_admin_reruns(analysed_image, clinician):
    colleague = UserFactory()
    PatientShareFactory(patient=analysed_image.lesion.patient, clinician=colleague)
    client = Client()
    client.force_login(colleague)
    assert client.get(analysed_image.get_absolute_url()).status_code == 200
    assert client.post(reverse("inference:image-predict", args=[analysed_image.pk])).status_code == 403
    assert analysed_image.predictions.count() == 1


def test_heatmaps_for_each_class_and_opacity(analysed_image, clinician_client):
    prediction = analysed_image.predictions.get()
    url = prediction.get_heatmap_url()
    stored = clinician_client.get(url)
    assert stored.status_code == 200 and stored["Content-Type"] == "image/jpeg"
    assert b"".join(stored.streaming_content) == prediction.heatmap.open("rb").read()

    for label in ("BCC", "MEL", "NV"):
        response = clinician_client.get(url, {"class": label, "opacity": "0.7"})
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.content)).size == (analysed_image.width, analysed_image.height)
    assert clinician_client.get(url, {"class": "SCC"}).status_code == 400
    assert clinician_client.get(url, {"opacity": "lots"}).status_code == 400


def test_lesion_timeline_shows_each_visits_risk(analysed_image, clinician_client):
    prediction = analysed_image.predictions.get()
    page = clinician_client.get(analysed_image.lesion.get_absolute_url()).content.decode()
    assert f"{prediction.get_risk_level_display()} risk" in page


def test_prediction_urls_follow_the_access_rule(analysed_image, other_client):
    prediction = analysed_image.predictions.get()
    anonymous = Client()
    for method, url in (
        ("get", reverse("inference:image-analysis", args=[analysed_image.pk])),
        ("post", reverse("inference:image-predict", args=[analysed_image.pk])),
        ("get", prediction.get_heatmap_url()),
        ("get", prediction.get_heatmap_url() + "?class=NV&opacity=1"),
    ):
        assert getattr(other_client, method)(url).status_code == 404, url
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url, url
    assert analysed_image.predictions.count() == 1


def test_admin_lists_predictions_with_previews_and_reruns(analysed_image, admin_client_):
    prediction = analysed_image.predictions.get()
    page = admin_client_.get(reverse("admin:inference_prediction_changelist"), {"status__exact": "succeeded"})
    html = page.content.decode()
    assert prediction.get_heatmap_url() in html
    assert reverse("cases:image-thumbnail", args=[analysed_image.pk]) in html
    admin_client_.post(
        reverse("admin:inference_prediction_changelist"), {"action": "rerun", "_selected_action": [prediction.pk]}
    )
    assert analysed_image.predictions.count() == 2

    ModelVersion.objects.update(is_active=False)
    response = admin_client_.post(
        reverse("admin:inference_prediction_changelist"),
        {"action": "rerun", "_selected_action": [prediction.pk]},
        follow=True,
    )
    assert "No model is active" in response.content.decode()
    assert analysed_image.predictions.count() == 2


def test_admin_activates_a_model_version(admin_client_):
    model_version = ModelVersionFactory(is_active=True)
    newer = ModelVersionFactory()
    admin_client_.post(
        reverse("admin:inference_modelversion_changelist"), {"action": "activate", "_selected_action": [newer.pk]}
    )
    newer.refresh_from_db()
    model_version.refresh_from_db()
    assert newer.is_active and not model_version.is_active


def test_rerun_predictions_command(analysed_image, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("rerun_predictions", "--lesion", str(analysed_image.lesion_id))
    assert analysed_image.predictions.filter(status=PredictionStatus.SUCCEEDED).count() == 2
    call_command("rerun_predictions", "--all", "--model-version", "test-mobilenetv2:0.1.0")
    assert analysed_image.predictions.count() == 3
    assert "1 prediction queued with test-mobilenetv2 0.1.0" in capsys.readouterr().out


def test_after_a_rerun_the_page_polls_until_the_new_result_is_in(analysed_image, clinician_client, model_version):
    PredictionFactory(image=analysed_image, model_version=model_version)  # queued, not yet run
    page = clinician_client.get(analysed_image.get_absolute_url()).content.decode()
    poll_url = reverse("inference:image-analysis", args=[analysed_image.pk])
    assert f'data-poll-url="{poll_url}"' in page
    assert "A new analysis is queued or running" in page and "Risk:" in page
    assert clinician_client.get(poll_url).json()["finished"] is False


def test_admin_deletes_a_patient_with_predictions_and_all_their_files(
    analysed_image, admin_client_, django_capture_on_commit_callbacks
):
    prediction = analysed_image.predictions.get()
    names = [analysed_image.file.name, analysed_image.thumbnail.name, prediction.heatmap.name, prediction.raw_map.name]
    storage = analysed_image.file.storage
    assert all(storage.exists(name) for name in names)
    patient = analysed_image.lesion.patient
    url = reverse("admin:cases_patient_delete", args=[patient.pk])
    assert admin_client_.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Prediction.objects.exists()
    assert not any(storage.exists(name) for name in names)
