"""The factories make the rows the application would have made: valid, consistent with their
model version, with real files behind them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from inference import services
from inference.models import PredictionStatus
from skinml.classes import CLASSES

from .factories import (
    RESULT_PROBABILITIES,
    HistopathologyFactory,
    ModelVersionFactory,
    NotificationFactory,
    PredictionFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


def test_every_factory_makes_a_valid_row():
    rows = [
        ModelVersionFactory(is_active=True),
        ModelVersionFactory(),
        PredictionFactory(),
        PredictionFactory(running=True),
        PredictionFactory(succeeded=True),
        PredictionFactory(failed=True),
        ReviewFactory(),
        ReviewFactory(follow_up=True, agrees_with_model=False),
        HistopathologyFactory(),
        NotificationFactory(),
        NotificationFactory(lesion=None),
    ]
    for row in rows:
        row.full_clean()  # fields, validators and every constraint
    statuses = [row.status for row in rows[2:6]]
    assert statuses == [PredictionStatus.QUEUED, PredictionStatus.RUNNING, PredictionStatus.SUCCEEDED, "failed"]


@pytest.mark.parametrize(("expected", "probabilities"), RESULT_PROBABILITIES.items())
def test_a_succeeded_prediction_follows_from_its_probabilities_and_thresholds(expected, probabilities):
    prediction = PredictionFactory(succeeded=True, probabilities=probabilities)
    assert (prediction.predicted_class, prediction.risk_level) == expected
    assert prediction.probabilities == dict(zip(CLASSES, probabilities, strict=True))
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    assert prediction.malignant == (prediction.predicted_class in ("BCC", "MEL"))
    assert prediction.heatmap_class == prediction.predicted_class
    assert prediction.created_at <= prediction.started_at < prediction.finished_at


def test_the_risk_level_is_the_model_versions():
    strict = ModelVersionFactory(thresholds={"medium": 0.05, "high": 0.1})
    assert PredictionFactory(succeeded=True, model_version=strict).risk_level == "high"


@pytest.mark.parametrize("probabilities", [(0.5, 0.5, 0.5), (0.4, 0.4, 0.2), (-0.1, 0.3, 0.8)])
def test_impossible_probabilities_are_refused(probabilities):
    with pytest.raises(ValueError, match="probabilities"):
        PredictionFactory(succeeded=True, probabilities=probabilities)


def test_a_succeeded_predictions_files_are_real_and_render(api_client_for):
    prediction = PredictionFactory(succeeded=True, probabilities=RESULT_PROBABILITIES["MEL", "high"])
    image = prediction.image
    assert Image.open(prediction.heatmap.open("rb")).size == (image.width, image.height)
    raw = np.load(io.BytesIO(prediction.raw_map.open("rb").read()), allow_pickle=False)
    assert raw.shape == (7, 7, 3) and raw.dtype == np.float32  # as the model's output

    rendered = {
        label: np.asarray(Image.open(io.BytesIO(services.heatmap_render(prediction=prediction, class_label=label))))
        for label in CLASSES
    }
    assert all(picture.shape == (image.height, image.width, 3) for picture in rendered.values())
    assert np.abs(rendered["MEL"].astype(float) - rendered["NV"]).mean() > 5  # each class has its own map

    api = api_client_for(image.lesion.patient.owner)
    stored = api.get(f"/api/v1/predictions/{prediction.pk}/heatmap/")
    assert stored.status_code == 200 and b"".join(stored.streaming_content) == prediction.heatmap.open("rb").read()
    assert api.get(f"/api/v1/predictions/{prediction.pk}/heatmap/?class=BCC&opacity=0.3").status_code == 200


def test_reviews_histopathology_and_notifications_belong_together():
    review = ReviewFactory()
    assert review.lesion == review.prediction.image.lesion and review.reviewer.is_reviewer
    assert review.diagnosis == review.prediction.predicted_class
    assert ReviewFactory(agrees_with_model=False).diagnosis == "unsure"
    histopathology = HistopathologyFactory()
    assert histopathology.entered_by == histopathology.lesion.patient.owner
    notification = NotificationFactory()
    assert notification.recipient == notification.lesion.patient.owner
    assert notification.url == notification.lesion.get_absolute_url() and not notification.is_read
