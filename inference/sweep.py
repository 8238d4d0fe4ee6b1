"""The stalled-prediction sweep in the embedded default. Deployments run ``celery beat``, which
sends ``resend_stalled_predictions`` every minute; the embedded default (tasks in-process, no
beat) runs the same service on a daemon thread of the web process instead, a bounded batch at a
time. The thread starts when the web process loads its middleware (never in a management
command, a worker or the test suite)."""

from __future__ import annotations

import datetime
import logging
import threading

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import close_old_connections

from . import services

logger = logging.getLogger(__name__)

_started = threading.Event()


def sweep_once() -> tuple[int, int]:
    """Send (in-process: run) at most SKINPORTAL_SWEEP_BATCH stalled predictions; (sent, found)."""
    return services.predictions_resend(
        queued_for=datetime.timedelta(seconds=settings.SKINPORTAL_RESEND_QUEUED_AFTER),
        running_for=datetime.timedelta(seconds=settings.SKINPORTAL_RESEND_RUNNING_AFTER),
        limit=settings.SKINPORTAL_SWEEP_BATCH,
    )


def _loop(interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            sweep_once()
        except Exception:  # the sweep must outlive a bad moment (database busy, a bug): log, go on
            logger.exception("The in-process sweep of stalled predictions failed; it runs again in %s s", interval)
        finally:
            close_old_connections()  # the thread's own connection, as a request's end would


def start_in_process_sweep(*, stop: threading.Event | None = None) -> threading.Thread | None:
    """Start the sweep thread once per process, if tasks run in-process and the interval is set."""
    interval = settings.SKINPORTAL_IN_PROCESS_SWEEP_SECONDS
    if not settings.CELERY_TASK_ALWAYS_EAGER or interval <= 0 or _started.is_set():
        return None
    _started.set()
    thread = threading.Thread(
        target=_loop, args=(interval, stop or threading.Event()), name="stalled-prediction-sweep", daemon=True
    )
    thread.start()
    logger.info("Sweeping stalled predictions in-process every %s s (no celery beat here)", interval)
    return thread


class InProcessSweepMiddleware:
    """Not a middleware at all: loading it starts the sweep thread (``start_in_process_sweep``)
    in the process that serves requests; it then takes itself out of the chain."""

    def __init__(self, get_response):
        start_in_process_sweep()
        raise MiddlewareNotUsed()
