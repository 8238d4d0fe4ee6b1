"""Send the tasks of stalled predictions again (what the Celery beat job does every minute)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand

from inference import services


class Command(BaseCommand):
    help = (
        "Re-send predictions queued or running for too long (their task was lost: the broker was down, "
        "or the worker died). Safe to run at any time: the tasks are idempotent."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--queued-for",
            type=int,
            default=settings.SKINPORTAL_RESEND_QUEUED_AFTER,
            help="Seconds a prediction may wait in the queue (default %(default)s).",
        )
        parser.add_argument(
            "--running-for",
            type=int,
            default=settings.SKINPORTAL_RESEND_RUNNING_AFTER,
            help="Seconds a prediction may be running (default %(default)s).",
        )

    def handle(self, *args, queued_for: int, running_for: int, **options) -> None:
        sent, found = services.predictions_resend(
            queued_for=datetime.timedelta(seconds=queued_for), running_for=datetime.timedelta(seconds=running_for)
        )
        self.stdout.write(f"{found} stalled prediction(s) found, {sent} sent again.")
        if sent < found:
            self.stderr.write("The broker could not be reached: run this again once it is back.")
