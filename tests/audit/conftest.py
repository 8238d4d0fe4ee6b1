from __future__ import annotations

from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AccessLog, Action

from ..factories import ModelVersionFactory, PredictionFactory


@pytest.fixture
def record(clinician):
    """A patient of ``clinician`` with a lesion, an image and its succeeded prediction (of the
    active model version; rows and files only, no model run)."""
    prediction = PredictionFactory(
        succeeded=True,
        image__lesion__patient__owner=clinician,
        model_version=ModelVersionFactory(is_active=True),
    )
    image = prediction.image
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
