from __future__ import annotations

import pytest
from django.utils import timezone

from inference.models import Prediction, PredictionStatus

from ..factories import LesionImageFactory


@pytest.fixture
def result(model_version):
    """``result(lesion=..., risk=..., predicted=..., finished=..., captured_on=...)``: a stored
    image of the lesion with a succeeded prediction (rows only; no model run)."""

    def make(*, lesion=None, risk="low", predicted="NV", finished=None, captured_on=None, version=None, **image):
        if lesion is not None:
            image["lesion"] = lesion
        if captured_on is not None:
            image["captured_on"] = captured_on
        picture = LesionImageFactory(**image)
        probabilities = {"BCC": 0.1, "MEL": 0.1, "NV": 0.8}
        return Prediction.objects.create(
            image=picture,
            model_version=version or model_version,
            status=PredictionStatus.SUCCEEDED,
            probability_bcc=probabilities["BCC"],
            probability_mel=probabilities["MEL"],
            probability_nv=probabilities["NV"],
            predicted_class=predicted,
            malignant=predicted in ("BCC", "MEL"),
            risk_level=risk,
            heatmap="heatmaps/x.jpg",
            raw_map="heatmaps/x.npy",
            heatmap_class=predicted,
            finished_at=finished or timezone.now(),
        )

    return make
