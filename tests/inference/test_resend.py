"""Predictions whose task was lost (broker down when it was sent, worker killed) are sent
again by the beat job / ``manage.py resend_predictions``, and then complete once."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from kombu.exceptions import OperationalError

from inference import services, tasks
from inference.models import Prediction, PredictionStatus

from ..factories import PredictionFactory

pytestmark = pytest.mark.django_db

MINUTES_5 = datetime.timedelta(minutes=5)
MINUTES_10 = datetime.timedelta(minutes=10)


def stalled_prediction(model_version, *, status=PredictionStatus.QUEUED, age=datetime.timedelta(minutes=30), **fields):
    """A prediction left ``status`` (queued, running or failed) ``age`` ago."""
    then = timezone.now() - age
    if status == PredictionStatus.QUEUED:
        return PredictionFactory(model_version=model_version, created_at=then, **fields)
    if status == PredictionStatus.RUNNING:
        return PredictionFactory(running=True, model_version=model_version, started_at=then, **fields)
    return PredictionFactory(failed=True, model_version=model_version, error="interrupted", finished_at=then, **fields)


def test_only_predictions_stalled_longer_than_the_limits_are_found(model_version):
    old_queued = stalled_prediction(model_version)
    dead_running = stalled_prediction(model_version, status=PredictionStatus.RUNNING)
    stalled_prediction(model_version, age=datetime.timedelta(minutes=1))  # just queued: leave it
    stalled_prediction(model_version, status=PredictionStatus.RUNNING, age=datetime.timedelta(minutes=2))
    stalled_prediction(model_version, status=PredictionStatus.FAILED)
    found = services.predictions_stalled(queued_for=MINUTES_5, running_for=MINUTES_10)
    assert found == [old_queued.pk, dead_running.pk]


def test_after_a_broker_outage_the_sweeper_completes_every_queued_prediction(model_version, monkeypatch):
    """The broker was down when these were uploaded; it is back: one run completes them."""
    stalled = [stalled_prediction(model_version) for _ in range(3)]
    assert tasks.resend_stalled_predictions() == 3  # beat's task; tasks run in-process here
    for prediction in stalled:
        prediction.refresh_from_db()
        assert prediction.status == PredictionStatus.SUCCEEDED and prediction.attempts == 1
    assert Prediction.objects.count() == 3  # nothing duplicated
    assert services.predictions_resend(queued_for=MINUTES_5, running_for=MINUTES_10) == (0, 0)


def test_with_the_broker_still_down_nothing_is_lost(model_version, monkeypatch, capsys):
    stalled = [stalled_prediction(model_version) for _ in range(2)]

    def broker_down(*args, **kwargs):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(tasks.run_prediction, "delay", broker_down)
    call_command("resend_predictions", "--queued-for", "60")
    captured = capsys.readouterr()
    assert "2 stalled prediction(s) found, 0 sent again." in captured.out
    assert "broker could not be reached" in captured.err
    assert {p.status for p in Prediction.objects.filter(pk__in=[p.pk for p in stalled])} == {"queued"}


def test_a_prediction_abandoned_by_a_killed_task_is_completed_once(model_version):
    dead = stalled_prediction(model_version, status=PredictionStatus.RUNNING, attempts=1)
    call_command("resend_predictions")
    dead.refresh_from_db()
    assert dead.status == PredictionStatus.SUCCEEDED and dead.attempts == 2


def test_beat_runs_the_sweeper_every_minute(settings):
    from skinportal.celery import app

    schedule = app.conf.beat_schedule["resend-stalled-predictions"]
    assert schedule["task"] == "inference.tasks.resend_stalled_predictions" and schedule["schedule"] == 60.0
