"""Celery tasks: take an id, call a service. State lives in the database (Prediction.status)."""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, close_old_connections

from . import services
from .models import ModelVersion
from .runtime import get_engine

logger = logging.getLogger(__name__)

SOFT_TIME_LIMIT = 60
HARD_TIME_LIMIT = 90
MAX_RETRIES = 5
#: Errors worth another attempt: the database or the file storage was briefly unreachable.
TRANSIENT_ERRORS = (DatabaseError, OSError, ConnectionError, TimeoutError)
#: Errors that another attempt cannot fix, although they are kinds of the ones above.
PERMANENT_ERRORS = (IntegrityError, DataError, FileNotFoundError, PermissionError)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def run_prediction(self, prediction_id: int) -> str:
    """Compute one prediction. Safe to deliver twice: a finished prediction is left as it is."""
    try:
        prediction = services.prediction_run(prediction_id=prediction_id)
    except PERMANENT_ERRORS as error:
        logger.exception("Prediction %s failed", prediction_id)
        services.prediction_fail(prediction_id=prediction_id, reason=f"{type(error).__name__}: {error}")
        return "failed"
    except SoftTimeLimitExceeded:
        services.prediction_fail(
            prediction_id=prediction_id, reason=f"The analysis took longer than {SOFT_TIME_LIMIT} s and was stopped."
        )
        return "failed"
    except TRANSIENT_ERRORS as error:
        # Celery's Django fix-up closes broken database connections after the task, so the
        # retry starts with a fresh one.
        if self.request.retries >= self.max_retries:
            logger.exception("Prediction %s failed after %s attempts", prediction_id, self.request.retries + 1)
            services.prediction_fail(
                prediction_id=prediction_id,
                reason=f"Gave up after {self.request.retries + 1} attempts: {type(error).__name__}: {error}",
            )
            return "failed"
        raise self.retry(exc=error, countdown=min(2 ** (self.request.retries + 1), 60)) from error
    except Exception as error:
        # Anything else is a bug or a broken model file: record it, keep the worker alive.
        logger.exception("Prediction %s failed", prediction_id)
        services.prediction_fail(
            prediction_id=prediction_id, reason=f"Unexpected error: {type(error).__name__}: {error}"
        )
        return "failed"
    return prediction.status if prediction is not None else "deleted"


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def resend_stalled_predictions() -> int:
    """Celery beat runs this every minute: predictions whose task was lost (broker down when it
    was sent, worker killed) are sent again. Also ``manage.py resend_predictions``."""
    sent, _ = services.predictions_resend(
        queued_for=datetime.timedelta(seconds=settings.SKINPORTAL_RESEND_QUEUED_AFTER),
        running_for=datetime.timedelta(seconds=settings.SKINPORTAL_RESEND_RUNNING_AFTER),
    )
    return sent


@worker_process_init.connect
def load_active_model(**kwargs) -> None:
    """Load the active model in each worker child right after the fork (never in the parent,
    which must not hold TensorFlow Lite state across fork), so the first task is not slow."""
    try:
        close_old_connections()
        model_version = ModelVersion.objects.active()
        if model_version is not None:
            get_engine(model_version)
    except Exception:
        logger.exception("Could not preload the active model; it will load on the first task")
    finally:
        close_old_connections()
