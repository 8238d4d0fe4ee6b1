"""A real Celery worker against this machine's Redis and PostgreSQL.

The test process stores images (committed, as in production); a worker started with
``celery -A skinportal worker`` computes their predictions. Then the worker is killed with
SIGKILL in the middle of a task, and the prediction still ends succeeded, once."""

from __future__ import annotations

import os
import signal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services as case_services
from inference.models import Prediction, PredictionStatus

from .. import images
from ..factories import LesionFactory
from ..workers import REAL_WORKER, wait_until

pytestmark = REAL_WORKER


def upload(owner, *files: bytes):
    lesion = LesionFactory(patient__owner=owner)
    return case_services.image_upload(
        lesion=lesion,
        uploaded_by=owner,
        files=[SimpleUploadedFile(f"{n}.jpg", data) for n, data in enumerate(files)],
    ).stored


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


def test_after_a_broker_outage_every_upload_is_predicted_once(worker_setup, clinician, monkeypatch):
    """Uploads while the broker is down (the sends fail), then the broker is back: the sweeper
    re-sends the queued predictions and a real worker completes each exactly once."""
    import datetime

    from kombu.exceptions import OperationalError

    from inference import services, tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    with monkeypatch.context() as outage:
        outage.setattr(tasks.run_prediction, "delay", broker_down)
        stored = upload(clinician, *(images.jpeg(300, 200, seed=40 + n) for n in range(4)))
    assert set(Prediction.objects.values_list("status", flat=True)) == {PredictionStatus.QUEUED}

    worker = worker_setup()
    sent, found = services.predictions_resend(
        queued_for=datetime.timedelta(0), running_for=datetime.timedelta(minutes=10)
    )
    assert (sent, found) == (4, 4)
    wait_until(
        lambda: Prediction.objects.filter(status=PredictionStatus.SUCCEEDED).count() == 4,
        what="4 succeeded predictions after the outage",
    )
    for image in stored:
        prediction = image.predictions.get()  # exactly one row per image
        assert prediction.status == PredictionStatus.SUCCEEDED and prediction.attempts == 1
    assert b"Traceback" not in worker.log.read_bytes()


def test_a_database_connection_dropped_during_a_task_is_recovered(worker_setup, clinician):
    """PostgreSQL drops the worker's connections while it computes: the save fails, the task
    retries on a new connection, and the prediction succeeds once."""
    from django.db import connection

    worker_setup()
    (image,) = upload(clinician, images.jpeg(6000, 4500, seed=12))
    prediction = image.predictions.get()
    wait_until(
        lambda: Prediction.objects.filter(pk=prediction.pk, status=PredictionStatus.RUNNING).exists(),
        what="the task to start",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (terminated,) = cursor.fetchone()
    assert terminated >= 1  # the worker's connection(s)

    wait_until(
        lambda: Prediction.objects.filter(pk=prediction.pk, status=PredictionStatus.SUCCEEDED).exists(),
        what="the prediction to succeed after the connection loss",
    )
    assert Prediction.objects.filter(image=image).count() == 1
    assert Prediction.objects.filter(image=image, status=PredictionStatus.SUCCEEDED).count() == 1


@pytest.mark.s3_workers
def test_two_workers_sharing_only_broker_database_and_bucket_lose_nothing(worker_setup, clinician, client):
    """Scale-out: two worker processes with models folders of their own and no shared disk (the
    files are in a bucket on an S3 server reached over HTTP) compute every prediction once, and
    every file is then served through a short-lived signed URL of that bucket."""
    import requests
    from django.conf import settings

    first, second = worker_setup(), worker_setup()
    assert first.env["SKINPORTAL_MODELS_DIR"] != second.env["SKINPORTAL_MODELS_DIR"]
    assert first.env["SKINPORTAL_STORAGE"] == second.env["SKINPORTAL_STORAGE"] == "s3"
    stored = upload(clinician, *(images.jpeg(400, 300, seed=n) for n in range(12)))

    wait_until(
        lambda: Prediction.objects.filter(status=PredictionStatus.SUCCEEDED).count() == 12,
        what="12 succeeded predictions",
    )
    assert Prediction.objects.count() == 12  # one each: nothing lost, nothing duplicated
    for worker in (first, second):
        log = worker.log.read_bytes()
        assert b"Traceback" not in log
    # Both took part (a task may be delivered twice after the tests' short visibility timeout; the
    # prediction is computed and recorded once all the same, as the row count above shows).
    done_by = [worker.log.read_bytes().count(b"succeeded in") for worker in (first, second)]
    assert all(done_by), done_by

    endpoint = settings.STORAGES["default"]["OPTIONS"]["endpoint_url"]
    client.force_login(clinician)
    for image in stored:
        prediction = image.predictions.get()
        for url in (f"/api/v1/images/{image.pk}/file/", f"/api/v1/predictions/{prediction.pk}/heatmap/"):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith(endpoint), url
            assert "Signature=" in response["Location"] or "X-Amz-Signature=" in response["Location"]
            fetched = requests.get(response["Location"], timeout=10)
            assert fetched.status_code == 200 and fetched.content[:2] == b"\xff\xd8"  # a JPEG, from the bucket
