"""The embedded default (SQLite, tasks in-process) under concurrency, as a developer or a demo
runs it: `manage.py runserver` (threaded) on a SQLite file, hit by 20 clients at once.

20 parallel uploads of the same image: no 500 ("database is locked"), one stored, the others 409.
20 parallel re-runs: no 500, and afterwards no prediction is left queued or running."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from . import images

pytestmark = [pytest.mark.slow, pytest.mark.django_db]  # (the suite's database is not used)

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 20

SETUP = """
import json
from django.conf import settings
from accounts.models import User
from accounts.services import api_token_create
from cases import services
from inference import services as inference
from skinml.card import card_path_for, runtime_path_for
models = settings.SKINPORTAL_MODELS_DIR
keras = next(models.glob('*.keras'))
card = json.loads(card_path_for(keras).read_text())
version = inference.model_version_create(card=card, keras_file=keras, runtime_file=runtime_path_for(keras))
inference.model_version_activate(model_version=version)
user = User.objects.create_user('dana', password='concurrency-test-password')
_, token = api_token_create(user=user, name='t', lifetime_days=1)
patient = services.patient_create(
    owner=user, identifier='C-1', given_name='C', family_name='C', date_of_birth='1970-01-01'
)
lesion = services.lesion_create(patient=patient, actor=user, label='back')
print(json.dumps({'token': token, 'lesion': lesion.pk}))
"""

STATUSES = """
from inference.models import Prediction
print(sorted(Prediction.objects.values_list('status', flat=True)))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def embedded_server(tmp_path, test_model_dir):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_TASK_ALWAYS_EAGER")},
        "DJANGO_SETTINGS_MODULE": "skinportal.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SKINPORTAL_MEDIA_ROOT": str(tmp_path / "media"),
        "SKINPORTAL_MODELS_DIR": str(test_model_dir),
        "SKINPORTAL_EMAIL_NOTIFICATIONS": "false",
        "SKINPORTAL_RERUNS_PER_WINDOW": "1000",
        "DJANGO_LOG_LEVEL": "WARNING",
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput", "-v", "0")
    import json

    setup = json.loads(manage("shell", "-v", "0", "-c", SETUP).splitlines()[-1])
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/accounts/login/", timeout=5)
            break
        except requests.RequestException:
            assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
    try:
        yield {"base": base, "manage": manage, "log": tmp_path / "server.log", **setup}
    finally:
        server.terminate()
        server.wait(timeout=20)


def _in_parallel(call) -> list[requests.Response]:
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda _: call(), range(CLIENTS)))


def test_parallel_uploads_and_reruns_on_the_embedded_default(embedded_server):
    base, token = embedded_server["base"], embedded_server["token"]
    headers = {"Authorization": f"Token {token}"}
    buffer = io.BytesIO()
    images.lesion_like(640, 480).save(buffer, "JPEG", quality=92)
    data = buffer.getvalue()

    uploads = _in_parallel(
        lambda: requests.post(
            f"{base}/api/v1/images/",
            headers=headers,
            data={"lesion": embedded_server["lesion"], "captured_on": "2026-01-02"},
            files={"file": ("same.jpg", data, "image/jpeg")},
            timeout=120,
        )
    )
    codes = sorted(response.status_code for response in uploads)
    assert codes == [201] + [409] * (CLIENTS - 1), [r.text[:200] for r in uploads if r.status_code >= 500]
    image = next(r for r in uploads if r.status_code == 201).json()["id"]

    reruns = _in_parallel(
        lambda: requests.post(f"{base}/api/v1/images/{image}/predict/", headers=headers, json={}, timeout=120)
    )
    codes = [response.status_code for response in reruns]
    assert all(code in (201, 409) for code in codes), [r.text[:200] for r in reruns if r.status_code not in (201, 409)]
    assert 201 in codes
    statuses = eval(embedded_server["manage"]("shell", "-v", "0", "-c", STATUSES).splitlines()[-1])  # noqa: S307
    assert "queued" not in statuses and "running" not in statuses, statuses
    assert statuses.count("succeeded") == 1 + codes.count(201)
    assert b"database is locked" not in embedded_server["log"].read_bytes()
