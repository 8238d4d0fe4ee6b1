from __future__ import annotations

import itertools

import pytest

from notifications.models import NotificationKind
from notifications.services import notification_send

_events = itertools.count(1)


@pytest.fixture
def notify(db, settings):
    """``notify(user, **changes)``: a notification for ``user`` (no e-mail), as a caller would send it."""
    settings.SKINPORTAL_EMAIL_NOTIFICATIONS = False

    def make(recipient, **changes):
        values = {
            "kind": NotificationKind.HIGH_RISK,
            "title": "High-risk result: mole left shoulder",
            "body": "The latest visit's analysis has a high risk level.",
            "url": "/lesions/1/",
            "event_key": f"prediction:{next(_events)}",
            **changes,
        }
        return notification_send(recipient=recipient, **values)

    return make
