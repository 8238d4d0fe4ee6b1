"""The Celery task's handling of retries, time limits and unexpected errors (run eagerly)."""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from inference import services, tasks
from inference.models import PredictionStatus

from ..factories import PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediction(clinician, model_version):
    return PredictionFactory(image__lesion__patient__owner=clinician, model_version=model_version)


def test_task_options():
    task = tasks.run_prediction
    assert task.acks_late and task.reject_on_worker_lost
    assert (task.soft_time_limit, task.time_limit) == (60, 90)
    assert task.max_retries == 5


def test_the_task_computes_the_prediction(prediction):
    assert tasks.run_prediction.apply(args=[prediction.pk]).get() == PredictionStatus.SUCCEEDED
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.SUCCEEDED


def test_transient_errors_are_retried_then_recorded(prediction, monkeypatch):
    attempts = []
    real_run = services.prediction_run

    def flaky(*, prediction_id):
        attempts.append(prediction_id)
        if len(attempts) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return real_run(prediction_id=prediction_id)

    monkeypatch.setattr(services, "prediction_run", flaky)
    assert tasks.run_prediction.apply(args=[prediction.pk]).get() == PredictionStatus.SUCCEEDED
    assert len(attempts) == 3


def test_a_lasting_transient_error_ends_as_failed_after_the_last_retry(prediction, monkeypatch):
    def always_down(*, prediction_id):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(services, "prediction_run", always_down)
    assert tasks.run_prediction.apply(args=[prediction.pk]).get() == "failed"
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.FAILED
    assert prediction.error == "Gave up after 6 attempts: OperationalError: could not connect to server"


def test_the_soft_time_limit_ends_as_failed(prediction, monkeypatch):
    def too_slow(*, prediction_id):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "prediction_run", too_slow)
    tasks.run_prediction.apply(args=[prediction.pk])
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.FAILED
    assert "longer than 60 s" in prediction.error


def test_an_unexpected_error_is_recorded_and_does_not_escape(prediction, monkeypatch):
    def broken(*, prediction_id):
        raise ValueError("Model provided has model identifier 'xxxx', should be 'TFL3'")

    monkeypatch.setattr(services, "prediction_run", broken)
    assert tasks.run_prediction.apply(args=[prediction.pk]).get() == "failed"
    prediction.refresh_from_db()
    assert prediction.error.startswith("Unexpected error: ValueError: Model provided")


def test_a_finished_prediction_is_not_run_again(prediction, monkeypatch):
    services.prediction_fail(prediction_id=prediction.pk, reason="stopped by hand")
    assert tasks.run_prediction.apply(args=[prediction.pk]).get() == PredictionStatus.FAILED
    prediction.refresh_from_db()
    assert prediction.error == "stopped by hand" and prediction.attempts == 0


def test_a_prediction_whose_worker_keeps_dying_is_given_up():
    prediction = PredictionFactory(running=True, attempts=3)
    assert tasks.run_prediction.apply(args=[prediction.pk]).get() == PredictionStatus.FAILED
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.FAILED
    assert prediction.error.startswith("The analysis was interrupted 3 times")


def test_a_soft_time_limit_while_decoding_is_not_reported_as_a_bad_image(prediction, monkeypatch):
    def slow_decode(data, **limits):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "decode_within", slow_decode)
    tasks.run_prediction.apply(args=[prediction.pk])
    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.FAILED
    assert "longer than 60 s" in prediction.error and "decoded" not in prediction.error


def test_a_missing_image_file_fails_at_once(prediction):
    prediction.image.file.storage.delete(prediction.image.file.name)
    assert tasks.run_prediction.apply(args=[prediction.pk]).get() == PredictionStatus.FAILED
    prediction.refresh_from_db()
    assert prediction.error == "The stored image file is missing." and prediction.attempts == 1


def test_a_prediction_deleted_before_its_task_runs_is_skipped(prediction):
    prediction_id = prediction.pk
    prediction.delete()
    assert tasks.run_prediction.apply(args=[prediction_id]).get() == "deleted"


def test_analyses_can_go_to_a_queue_of_their_own():
    """docs/deployment.md: inference hosts consume SKINPORTAL_INFERENCE_QUEUE."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from skinportal.celery import app; "
            "print(app.amqp.router.route({}, 'inference.tasks.run_prediction')['queue'].name, "
            "app.amqp.router.route({}, 'inference.tasks.resend_stalled_predictions')['queue'].name)",
        ],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "skinportal.settings.test",
            "SKINPORTAL_INFERENCE_QUEUE": "skinportal-inference",
            "CELERY_TASK_DEFAULT_QUEUE": "skinportal",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split() == ["skinportal-inference", "skinportal"], result.stderr[-2000:]
