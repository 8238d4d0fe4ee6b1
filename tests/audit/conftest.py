from __future__ import annotations

from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AccessLog, Action
from inference import services as inference_services
from inference.models import PredictionStatus

from ..factories import LesionImageFactory


@pytest.fixture
def record(clinician, model_version, django_capture_on_commit_callbacks):
    """A patient of ``clinician`` with a lesion, an image and its succeeded prediction."""
    image = LesionImageFactory(lesion__patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        prediction = inference_services.prediction_request(image=image, requested_by=clinician)
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.SUCCEEDED
    return SimpleNamespace(patient=image.lesion.patient, lesion=image.lesion, image=image, prediction=prediction)


@pytest.fixture
def token_client(db):
    """``token_client(user)``: an API client sending a real personal token of ``user``."""

    def make(user) -> APIClient:
        _, token = ApiToken.objects.create(user=user, expiry=None, name="audit test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


def log_rows(**filters) -> list[AccessLog]:
    """The rows a test caused, oldest first, without the logins of the test clients' force_login."""
    return list(AccessLog.objects.exclude(action=Action.LOGIN).filter(**filters).order_by("pk"))
