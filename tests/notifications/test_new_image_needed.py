"""A result the quality gate rejected notifies its owner that a new image is needed, never of a
high risk (the worker's side is in tests/inference/test_quality_gate.py)."""

from __future__ import annotations

import pytest
from django.core import mail

from inference import services as inference_services
from notifications.models import NotificationKind
from notifications.services import EMAIL_TEXT, notification_email_send, notification_send

from ..factories import RESULT_PROBABILITIES, LesionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def test_every_kind_has_an_email_text():
    assert set(EMAIL_TEXT) == set(NotificationKind.values)


def test_the_new_image_email_names_no_patient_and_no_figure(settings):
    settings.SKINPORTAL_EMAIL_NOTIFICATIONS = False
    lesion = LesionFactory(label="Left scapula")
    note = notification_send(
        recipient=lesion.patient.owner,
        kind=NotificationKind.NEW_IMAGE_NEEDED,
        title=f"New image needed: {lesion.label}",
        body="The model could not judge a new image of this lesion (out of focus).",
        url=lesion.get_absolute_url(),
        lesion=lesion,
        event_key="prediction:1",
    )
    notification_email_send(notification_pk=note.pk)
    (email,) = mail.outbox
    assert "new image is needed" in email.subject
    assert lesion.label not in email.body and lesion.patient.identifier not in email.body
    assert "risk" not in email.body.lower()


def test_a_withheld_high_risk_result_does_not_make_a_later_one_old_news():
    earlier = PredictionFactory(rejected=True, probabilities=RESULT_PROBABILITIES["MEL", "high"])
    later = PredictionFactory(
        succeeded=True,
        image=earlier.image,
        model_version=earlier.model_version,
        probabilities=RESULT_PROBABILITIES["MEL", "high"],
    )
    assert not inference_services._image_was_high_risk(later)
