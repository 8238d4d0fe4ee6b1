from __future__ import annotations

import json
import shutil
from pathlib import Path

import factory.random
import pytest
from django.test import Client

from inference import services
from inference.models import ModelVersion
from inference.runtime import clear_engines
from skinml.card import card_path_for, runtime_path_for

from .factories import AdminFactory, ReviewerFactory, UserFactory
from .skinml.model_fixture import build_test_model


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path):
    """Each test stores files in its own folder, so leftover files can be asserted on."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


@pytest.fixture(autouse=True)
def _same_fake_data_every_run():
    """Factories' random names and dates are the same on every run of a test, so that a test
    passing once cannot fail later on an unlucky draw (a searched word inside a random name)."""
    factory.random.reseed_random("skinportal")


@pytest.fixture(autouse=True)
def _empty_cache():
    """The API's throttles count in the cache: every test starts from zero."""
    from django.core.cache import caches

    for alias in ("default", "heatmaps"):
        caches[alias].clear()
    yield
    for alias in ("default", "heatmaps"):
        caches[alias].clear()


@pytest.fixture
def clinician(db):
    return UserFactory(username="dana")


@pytest.fixture
def other_clinician(db):
    return UserFactory(username="olga")


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="root")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clinician_client(clinician) -> Client:
    return _client_for(clinician)


@pytest.fixture
def other_client(other_clinician) -> Client:
    return _client_for(other_clinician)


@pytest.fixture
def admin_client_(admin_user) -> Client:
    return _client_for(admin_user)


def pytest_report_header(config) -> str:
    from django.conf import settings

    database = settings.DATABASES["default"]
    return f"database: {database['ENGINE']} {database.get('HOST') or ''} {database['NAME']}"


# The test model (a small random MobileNetV2 with its LiteRT export), for every test app.


@pytest.fixture(scope="session")
def test_model_dir(tmp_path_factory) -> Path:
    """A folder with the random test model (.keras, .tflite, card), built once per session."""
    directory = tmp_path_factory.mktemp("models")
    build_test_model(directory)
    return directory


@pytest.fixture
def models_dir(settings, test_model_dir) -> Path:
    settings.SKINPORTAL_MODELS_DIR = test_model_dir
    yield test_model_dir
    clear_engines()


def model_version_from_dir(directory: Path, *, active: bool = True, version: str | None = None) -> ModelVersion:
    """The row registration records for the model in ``directory`` (the models folder), made by
    the same service, without registration's slow parity check (its own tests run that)."""
    keras_path = next(directory.glob("*.keras"))
    card = json.loads(card_path_for(keras_path).read_text())
    row = services.model_version_create(
        card={**card, "version": version or card["version"]},
        keras_file=keras_path,
        runtime_file=runtime_path_for(keras_path),
    )
    return services.model_version_activate(model_version=row) if active else row


@pytest.fixture
def model_version(db, models_dir) -> ModelVersion:
    return model_version_from_dir(models_dir)


@pytest.fixture
def api_client_for():
    """``api_client_for(user)``: a DRF test client authenticated as ``user`` (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on a free port of this machine, for the whole session (tests/s3.py)."""
    from .s3 import start_s3_server

    server = start_s3_server()
    yield server
    server.server.stop()


@pytest.fixture
def worker_setup(request, transactional_db, settings, models_dir, tmp_path):
    """A committed active model version, the test process sending tasks to the broker (not
    running them in-process), an empty queue, and a factory of workers.

    Each worker gets a models folder of its own (a copy), as a worker on another host would.
    Files: a media folder shared with the workers, or, when CI asks for it
    (SKINPORTAL_TEST_WORKER_STORAGE=s3) or the test is marked ``s3_workers``, a fresh bucket on
    the S3 server (tests/s3.py) that the test process and the workers reach over HTTP: then they
    share nothing but the broker, the database and the bucket."""
    from .s3 import workers_use_s3

    model_version_from_dir(models_dir)
    media_root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    storage_env: dict[str, str] = {}
    if workers_use_s3() or request.node.get_closest_marker("s3_workers"):
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.new_bucket()
        settings.STORAGES = {**settings.STORAGES, "default": s3.storages_default(bucket)}
        storage_env = s3.environment(bucket)
    from skinportal.celery import app as celery_app

    from .workers import Worker

    celery_app.close()  # drop connections another test may have opened to another broker
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    workers: list[Worker] = []

    def start_worker() -> Worker:
        number = len(workers)
        own_models = tmp_path / f"worker-{number}-models"
        shutil.copytree(models_dir, own_models)
        worker = Worker(
            media_root=media_root if not storage_env else tmp_path / f"worker-{number}-unused-media",
            models_dir=own_models,
            log=tmp_path / f"worker-{number}.log",
            extra_env=storage_env,
        )
        workers.append(worker)
        worker.start()
        return worker

    yield start_worker
    for worker in workers:
        worker.stop()
    celery_app.control.purge()
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER
    celery_app.close()


@pytest.fixture
def reviewer(db):
    return ReviewerFactory(username="rita", first_name="Rita", last_name="Reviewer")


@pytest.fixture
def reviewer_client(reviewer):
    from django.test import Client

    client = Client()
    client.force_login(reviewer)
    return client
