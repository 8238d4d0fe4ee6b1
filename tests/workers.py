"""A real Celery worker for tests: ``celery -A skinportal worker`` against this machine's Redis
and the test PostgreSQL database, with the fixture that starts it (``worker_setup``)."""

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
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
BROKER_URL = settings.CELERY_BROKER_URL
WAIT_SECONDS = 90


def _redis_reachable() -> bool:
    try:
        import redis

        return redis.Redis.from_url(BROKER_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False


class Worker:
    """``celery -A skinportal worker`` in its own process group, on a queue of its own."""

    def __init__(self, *, media_root: Path, models_dir: Path, log: Path, extra_env: dict | None = None) -> None:
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
            **(extra_env or {}),  # e.g. the S3 bucket the test process uses (tests/s3.py)
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


REAL_WORKER = [
    pytest.mark.worker,
    pytest.mark.slow,  # a worker process (TensorFlow-free, but Django and LiteRT) starts per test
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="the real-worker tests share the database with a worker process: run them on PostgreSQL "
        "(DATABASE_URL=postgres://..., as .ci/run does)",
    ),
    pytest.mark.skipif(
        not BROKER_URL.startswith("redis://") or not _redis_reachable(), reason=f"needs Redis at {BROKER_URL}"
    ),
]


def wait_until(condition, *, seconds: float = WAIT_SECONDS, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")
