"""Bounds on heavy work in one web process: at most SKINPORTAL_IMAGE_WORK_SLOTS image decodes
(uploads, heatmap renders) at a time, so that memory per process is bounded by the slots times
what one decode may take (bench/memory.py measures that), however many requests arrive at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


class ImageWorkBusy(Exception):
    """Every slot stayed taken for SKINPORTAL_IMAGE_WORK_WAIT seconds (503, try again)."""

    retry_after = 5

    def __init__(self) -> None:
        super().__init__("The server is busy reading other images; try again in a few seconds.")


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    size = settings.SKINPORTAL_IMAGE_WORK_SLOTS
    with _lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


@contextmanager
def image_work_slot() -> Iterator[None]:
    """Hold one of the process's image work slots for the block; ImageWorkBusy if none frees up
    within SKINPORTAL_IMAGE_WORK_WAIT seconds."""
    semaphore = _semaphore()
    if not semaphore.acquire(timeout=settings.SKINPORTAL_IMAGE_WORK_WAIT):
        raise ImageWorkBusy()
    try:
        yield
    finally:
        semaphore.release()
