"""Sending Celery tasks from the web process: after the caller's transaction commits, never
failing the caller when the broker is down."""

from __future__ import annotations

import logging

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)


def send_task_on_commit(task: Task, *args, **kwargs) -> None:
    """Send ``task.delay(*args, **kwargs)`` once the current transaction commits (at once
    outside a transaction), so that the worker finds the rows it is sent for.

    A broker that cannot be reached is logged, never raised: the caller's work is committed and
    what the task would do stays to be done (a prediction stays queued, and is sent again by
    ``resend_stalled_predictions``; a notification stays without its e-mail). ``robust``: a
    failing send never stops the other callbacks of the same commit."""

    def send() -> None:
        try:
            task.delay(*args, **kwargs)
        except Exception:
            logger.exception("Could not enqueue %s (arguments %r %r); the broker seems down", task.name, args, kwargs)

    transaction.on_commit(send, robust=True)
