"""The embedded default has no beat process: a thread of the web process sweeps stalled
predictions (tasks in-process), a bounded batch at a time."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.utils import timezone

from inference import sweep
from inference.models import PredictionStatus

from ..factories import PredictionFactory

pytestmark = pytest.mark.django_db


def test_sweep_once_completes_stalled_predictions_a_bounded_batch_at_a_time(settings, model_version):
    settings.SKINPORTAL_SWEEP_BATCH = 2
    old = timezone.now() - datetime.timedelta(hours=1)
    stuck = [PredictionFactory(model_version=model_version, created_at=old) for _ in range(3)]
    stuck.append(PredictionFactory(running=True, model_version=model_version, started_at=old))
    assert sweep.sweep_once() == (2, 2)
    assert sweep.sweep_once() == (2, 2)
    for prediction in stuck:
        prediction.refresh_from_db()
        assert prediction.status == PredictionStatus.SUCCEEDED, prediction
    assert sweep.sweep_once() == (0, 0)


def test_the_embedded_default_starts_one_sweep_thread(settings, monkeypatch):
    monkeypatch.setattr(sweep, "_started", threading.Event())
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SKINPORTAL_IN_PROCESS_SWEEP_SECONDS = 3600
    stop = threading.Event()
    try:
        thread = sweep.start_in_process_sweep(stop=stop)
        assert thread is not None and thread.is_alive() and thread.daemon
        assert sweep.start_in_process_sweep(stop=stop) is None  # once per process
    finally:
        stop.set()
    thread.join(timeout=5)


@pytest.mark.parametrize(("eager", "seconds"), [(False, 60), (True, 0)])
def test_no_sweep_thread_with_a_worker_or_when_switched_off(settings, monkeypatch, eager, seconds):
    monkeypatch.setattr(sweep, "_started", threading.Event())
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    settings.SKINPORTAL_IN_PROCESS_SWEEP_SECONDS = seconds
    assert sweep.start_in_process_sweep() is None
