"""Celery tasks of lesion tracking: take an id, call a service. State lives in the database."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import DatabaseError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
    max_retries=3,
    ignore_result=True,
)
def measure_image(self, image_id: int) -> str:
    """Measure the lesion on one image and compare it with its neighbouring visits. Safe to
    deliver twice: an image measured with the current algorithm is left as it is. A failure
    never touches the image's prediction: the case simply has no measurement to show."""
    try:
        measurement = services.measurement_run(image_id=image_id)
    except (DatabaseError, OSError, ConnectionError, TimeoutError) as error:
        if self.request.retries >= self.max_retries:
            logger.exception("Measuring image %s failed after %s attempts", image_id, self.request.retries + 1)
            return "failed"
        raise self.retry(exc=error, countdown=2 ** (self.request.retries + 1)) from error
    except Exception:
        logger.exception("Measuring image %s failed", image_id)
        return "failed"
    return measurement.status if measurement is not None else "deleted"
