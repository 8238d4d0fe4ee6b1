"""The API over real HTTP: a live server (pytest-django's ``live_server``, a threaded WSGI
server on a socket) driven by ``requests`` as an integrator would, from a password to a
heatmap. Once with tasks run in-process, and once (PostgreSQL and Redis) with a real Celery
worker computing the prediction."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from . import images
from .factories import UserFactory
from .workers import REAL_WORKER

SHARED_MELANOMA = Path(__file__).resolve().parents[2] / "shared" / "data" / "isic" / "images"
POLL_SECONDS = 90


def a_dermoscopic_image() -> tuple[str, bytes]:
    """A real ISIC image when ../shared is there, else a synthetic lesion (either exercises
    the same path; the model's answer is not what is tested here)."""
    real = sorted(SHARED_MELANOMA.glob("*.jpg"))[:1] if SHARED_MELANOMA.is_dir() else []
    if real:
        return real[0].name, real[0].read_bytes()
    buffer = io.BytesIO()
    images.lesion_like(600, 450).save(buffer, "JPEG", quality=92)
    return "synthetic.jpg", buffer.getvalue()


def drive_upload_poll_result(base_url: str) -> dict:
    api = f"{base_url}/api/v1"
    UserFactory(username="integrator")
    UserFactory(username="stranger")
    session = requests.Session()

    token = session.post(
        f"{api}/auth/token/",
        json={"username": "integrator", "password": "correct-horse-battery", "name": "live test"},
        timeout=10,
    )
    assert token.status_code == 201, token.text
    session.headers["Authorization"] = f"Token {token.json()['token']}"
    assert session.get(f"{api}/me/", timeout=10).json()["username"] == "integrator"

    patient = session.post(
        f"{api}/patients/",
        json={"identifier": "LIVE-1", "given_name": "Ana", "family_name": "Live", "date_of_birth": "1970-01-02"},
        timeout=10,
    ).json()
    lesion = session.post(f"{api}/lesions/", json={"patient": patient["id"], "label": "back"}, timeout=10).json()
    name, data = a_dermoscopic_image()
    uploaded = session.post(
        f"{api}/images/",
        data={"lesion": lesion["id"], "captured_on": "2026-11-02", "modality": "dermoscopic"},
        files={"file": (name, data, "image/jpeg")},
        timeout=30,
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.headers["Location"].endswith(f"/api/v1/images/{uploaded.json()['id']}/")
    prediction_url = f"{api}/predictions/{uploaded.json()['current_prediction']['id']}/"

    deadline = time.monotonic() + POLL_SECONDS
    while True:
        prediction = session.get(prediction_url, timeout=10).json()
        if prediction["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert prediction["status"] == "succeeded", prediction
    assert set(prediction["probabilities"]) == {"BCC", "MEL", "NV"}
    assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-4
    assert prediction["predicted_class"] == max(prediction["probabilities"], key=prediction["probabilities"].get)

    heatmap = session.get(prediction["heatmap_url"], timeout=10)
    assert heatmap.status_code == 200 and heatmap.headers["Content-Type"] == "image/jpeg"
    stored = session.get(uploaded.json()["file_url"], timeout=10)
    assert Image.open(io.BytesIO(heatmap.content)).size == Image.open(io.BytesIO(stored.content)).size
    other_class = session.get(prediction["heatmap_url"], params={"class": "MEL", "opacity": 0.6}, timeout=10)
    assert other_class.status_code == 200 and other_class.content != heatmap.content

    # Another clinician, over the same wire: nothing of it exists for them.
    stranger = requests.post(
        f"{api}/auth/token/", json={"username": "stranger", "password": "correct-horse-battery"}, timeout=10
    ).json()["token"]
    for url in (
        prediction_url,
        prediction["heatmap_url"],
        uploaded.json()["file_url"],
        f"{api}/patients/{patient['id']}/",
    ):
        assert requests.get(url, headers={"Authorization": f"Token {stranger}"}, timeout=10).status_code == 404
    assert requests.get(prediction_url, timeout=10).status_code == 401
    return prediction


def test_upload_poll_result_over_http_with_in_process_tasks(live_server, models_dir, model_version):
    drive_upload_poll_result(live_server.url)


@pytest.mark.parametrize("_", [pytest.param(None, marks=REAL_WORKER, id="real worker")])
def test_upload_poll_result_over_http_with_a_real_worker(live_server, worker_setup, _):
    worker = worker_setup()
    prediction = drive_upload_poll_result(live_server.url)
    assert b"Traceback" not in worker.log.read_bytes()
    assert prediction["finished_at"]
