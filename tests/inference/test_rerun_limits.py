"""Re-runs are limited: never a second analysis of an image by the same model version while one
is queued or running (409), and at most SKINPORTAL_RERUNS_PER_WINDOW per user in a window (429),
in the web UI and the API alike; the service decides."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inference import services
from inference.models import Prediction, PredictionStatus

from ..factories import LesionImageFactory, ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(clinician):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    PredictionFactory(succeeded=True, image=image, model_version=ModelVersionFactory(is_active=True))
    return image


@pytest.mark.parametrize("status", [PredictionStatus.QUEUED, PredictionStatus.RUNNING])
def test_a_rerun_while_the_same_version_is_pending_is_refused_by_the_service(clinician, image, status):
    pending = PredictionFactory(image=image, model_version=image.predictions.get().model_version, status=status)
    with pytest.raises(services.RerunPending) as refused:
        services.prediction_rerun(image=image, requested_by=clinician)
    assert refused.value.prediction == pending
    assert image.predictions.count() == 2


def test_a_pending_rerun_is_409_in_the_ui_and_the_api(clinician, clinician_client, api_client_for, image):
    first = image.predictions.get()
    queued = PredictionFactory(image=image, model_version=first.model_version, status=PredictionStatus.QUEUED)
    page = clinician_client.post(reverse("inference:image-predict", args=[image.pk]))
    assert page.status_code == 409 and "already being analysed" in page.content.decode()
    api = api_client_for(clinician)
    for url in (f"/api/v1/predictions/{first.pk}/rerun/", f"/api/v1/images/{image.pk}/predict/"):
        response = api.post(url)
        assert response.status_code == 409 and f"prediction {queued.pk}" in response.json()["errors"][0]["detail"]
    assert image.predictions.count() == 2


def test_another_model_version_may_run_while_one_is_pending(clinician, image):
    PredictionFactory(image=image, model_version=image.predictions.get().model_version, status="queued")
    other = ModelVersionFactory(is_active=False)
    assert services.prediction_rerun(image=image, requested_by=clinician, model_version=other).model_version == other


def test_reruns_are_throttled_per_user(settings, clinician, clinician_client, api_client_for, image, admin_user):
    settings.SKINPORTAL_RERUNS_PER_WINDOW = 3
    settings.SKINPORTAL_RERUN_WINDOW_SECONDS = 600
    first = image.predictions.get()
    api = api_client_for(clinician)
    answers = []
    for _ in range(5):
        # Finish each one, so only the throttle (not the pending rule) can refuse.
        Prediction.objects.filter(status__in=["queued", "running"]).update(status=PredictionStatus.FAILED, error="x")
        answers.append(api.post(f"/api/v1/predictions/{first.pk}/rerun/").status_code)
    assert answers == [201, 201, 201, 429, 429]
    Prediction.objects.filter(status__in=["queued", "running"]).update(status=PredictionStatus.FAILED, error="x")
    page = clinician_client.post(reverse("inference:image-predict", args=[image.pk]))
    assert page.status_code == 429 and "Too many re-runs" in page.content.decode() and page["Retry-After"]
    # Another user has a count of their own.
    assert api_client_for(admin_user).post(f"/api/v1/predictions/{first.pk}/rerun/").status_code == 201
    assert image.predictions.count() == 1 + 3 + 1
