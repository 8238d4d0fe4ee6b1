"""Contract test: schemathesis generates requests for every operation of the live OpenAPI
schema (served by the app at /api/schema/) and checks each response: no 5xx, a documented
status, content type and body that match the schema. Bounded, so it runs in CI."""

from __future__ import annotations

import datetime

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import REVIEWER_GROUP, ApiToken
from inference import services
from reviews import services as review_services

from .factories import LesionImageFactory, PatientShareFactory, UserFactory

# Real objects have small ids (sequences are reset): most generated ids are mapped onto them,
# so the happy paths are exercised as well as the 404s.
KNOWN_IDS = (1, 2, 3)
MAX_EXAMPLES = 12

pytestmark = pytest.mark.slow  # 12 generated requests for each of ~50 operations


@pytest.fixture
def api_token(django_db_reset_sequences, models_dir, model_version, django_capture_on_commit_callbacks) -> str:
    owner = UserFactory(username="contract")
    owner.groups.add(Group.objects.get_or_create(name=REVIEWER_GROUP)[0])  # so the review endpoints answer too
    for number in range(len(KNOWN_IDS)):
        image = LesionImageFactory(lesion__patient__owner=owner, seed=number)
        with django_capture_on_commit_callbacks(execute=True):
            services.prediction_request(image=image, requested_by=owner)
        PatientShareFactory(patient=image.lesion.patient)
        if number:  # one case stays in the review queue
            prediction = image.predictions.get()
            review_services.review_create(
                prediction=prediction,
                reviewer=owner,
                agrees_with_model=True,
                diagnosis=prediction.predicted_class,
                action="discharge",
            )
            review_services.histopathology_add(
                lesion=image.lesion,
                entered_by=owner,
                diagnosis="NV",
                diagnosed_on=datetime.date(2026, 1, 1),
                report="r",
            )
    _, token = ApiToken.objects.create(user=owner, expiry=None, name="contract test")
    return token


@pytest.fixture
def api_schema(api_token):
    return schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", get_wsgi_application(), headers={"Authorization": f"Token {api_token}"}
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    for name, value in (path_parameters or {}).items():
        if isinstance(value, int):
            path_parameters[name] = KNOWN_IDS[value % len(KNOWN_IDS)] if value % 4 else value
    return path_parameters


@pytest.mark.contract
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, api_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {api_token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
