"""A real Celery worker against this machine's Redis and PostgreSQL.

The test process stores images (committed, as in production); a worker started with
``celery -A skinportal worker`` computes their predictions. Then the worker is killed with
SIGKILL in the middle of a task, and the prediction still ends succeeded, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from cases import services as case_services
from inference.models import Prediction, PredictionStatus
from skinportal.celery import app as celery_app

from .. import images
from ..conftest import model_version_from_dir
from ..factories import LesionFactory

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = settings.CELERY_BROKER_URL
WAIT_SECONDS = 90


def _redis_reachable() -> bool:
    try:
        import redis

        return redis.Redis.from_url(BROKER_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False


pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="the real-worker tests share the database with a worker process: run them on PostgreSQL "
        "(DATABASE_URL=postgres://..., as .ci/run does)",
    ),
    pytest.mark.skipif(
        not BROKER_URL.startswith("redis://") or not _redis_reachable(), reason=f"needs Redis at {BROKER_URL}"
    ),
]


class Worker:
    """``celery -A skinportal worker`` in its own process group, on a queue of its own."""

    def __init__(self, *, media_root: Path, models_dir: Path, log: Path) -> None:
        database = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "skinportal.settings.test",
            "DATABASE_URL": (
                f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
                f"/{database['NAME']}"
            ),
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_TASK_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "SKINPORTAL_MEDIA_ROOT": str(media_root),
            "SKINPORTAL_MODELS_DIR": str(models_dir),
        }
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "skinportal", "worker", "--loglevel=INFO"]
        command += ["--concurrency=2", "--without-mingle", "--without-gossip", "-n", f"test-{uuid.uuid4().hex[:8]}@%h"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"the worker did not start:\n{self.log.read_text()[-3000:]}")

    def children(self) -> list[int]:
        result = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False)
        return [int(pid) for pid in result.stdout.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker, parent and children: nothing gets to clean up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_setup(transactional_db, settings, models_dir, tmp_path):
    """A committed active model version, the test process sending tasks to the broker (not
    running them in-process), an empty queue, and a factory of workers."""
    model_version_from_dir(models_dir)
    media_root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    celery_app.close()  # drop connections another test may have opened to another broker
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    workers: list[Worker] = []

    def start_worker() -> Worker:
        worker = Worker(media_root=media_root, models_dir=models_dir, log=tmp_path / "worker.log")
        workers.append(worker)
        worker.start()
        return worker

    yield start_worker
    for worker in workers:
        worker.stop()
    celery_app.control.purge()
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    celery_app.close()


def upload(owner, *files: bytes):
    lesion = LesionFactory(patient__owner=owner)
    return case_services.image_upload(
        lesion=lesion,
        uploaded_by=owner,
        files=[SimpleUploadedFile(f"{n}.jpg", data) for n, data in enumerate(files)],
    ).stored


def wait_until(condition, *, seconds: float = WAIT_SECONDS, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def test_a_real_worker_computes_every_prediction(worker_setup, clinician):
    worker = worker_setup()
    stored = upload(clinician, *(images.jpeg(400, 300, seed=n) for n in range(8)))

    wait_until(
        lambda: Prediction.objects.filter(status=PredictionStatus.SUCCEEDED).count() == 8,
        what="8 succeeded predictions",
    )
    for image in stored:
        prediction = image.predictions.get()  # exactly one row per image
        assert prediction.status == PredictionStatus.SUCCEEDED and prediction.attempts == 1
        assert prediction.heatmap.storage.exists(prediction.heatmap.name)
    assert b"Traceback" not in worker.log.read_bytes()


def test_a_corrupt_file_that_slipped_past_validation_fails_without_harming_the_worker(worker_setup, clinician):
    worker = worker_setup()
    (bad, good) = upload(clinician, images.jpeg(seed=1), images.jpeg(seed=2))
    wait_until(lambda: not Prediction.objects.filter(status__in=["queued", "running"]).exists(), what="both done")
    # Damage the first stored file afterwards, and ask again: the worker must record a reason.
    with bad.file.storage.open(bad.file.name, "wb") as handle:
        handle.write(b"not an image any more")
    from inference import services

    failed = services.prediction_request(image=bad, requested_by=clinician)
    again = services.prediction_request(image=good, requested_by=clinician)
    wait_until(
        lambda: Prediction.objects.filter(pk__in=[failed.pk, again.pk], status__in=["succeeded", "failed"]).count() == 2
    )
    failed.refresh_from_db()
    again.refresh_from_db()
    assert failed.status == PredictionStatus.FAILED and failed.error.startswith("The stored image could not be decoded")
    assert again.status == PredictionStatus.SUCCEEDED  # the same worker went on working
    assert worker.process.poll() is None


@pytest.mark.parametrize("kill", ["child", "whole worker"])
def test_sigkill_in_the_middle_of_a_task_loses_nothing_and_duplicates_nothing(worker_setup, clinician, kill):
    # A large image makes the task last long enough (decoding, and the overlay at full size)
    # to be caught in the middle.
    worker = worker_setup()
    (image,) = upload(clinician, images.jpeg(6000, 4500, seed=11))
    prediction = image.predictions.get()

    wait_until(
        lambda: Prediction.objects.filter(pk=prediction.pk, status=PredictionStatus.RUNNING).exists(),
        what="the task to start",
    )
    if kill == "child":
        for pid in worker.children():
            os.kill(pid, signal.SIGKILL)  # the parent sees the loss and, with reject_on_worker_lost, requeues
    else:
        worker.kill()
        assert Prediction.objects.get(pk=prediction.pk).status == PredictionStatus.RUNNING
        worker_setup()  # a new worker: the unacknowledged task comes back after the visibility timeout

    wait_until(
        lambda: Prediction.objects.filter(pk=prediction.pk, status=PredictionStatus.SUCCEEDED).exists(),
        what="the prediction to succeed after the kill",
    )
    prediction.refresh_from_db()
    assert prediction.attempts >= 2  # it really was interrupted and run again
    assert Prediction.objects.filter(image=image).count() == 1
    assert Prediction.objects.filter(image=image, status=PredictionStatus.SUCCEEDED).count() == 1
