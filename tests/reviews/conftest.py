from __future__ import annotations

import pytest

from ..factories import RESULT_PROBABILITIES, LesionImageFactory, ModelVersionFactory, PredictionFactory

#: The risk level of a result of each class when a test does not name one.
USUAL_RISK = {"NV": "low", "MEL": "high", "BCC": "high"}


@pytest.fixture
def model_version(db):
    """The active model version, as a row only: review tests never run the model."""
    return ModelVersionFactory(is_active=True)


@pytest.fixture
def result(model_version):
    """``result(lesion=..., risk=..., predicted=..., finished=..., captured_on=...)``: a stored
    image of the lesion with a succeeded prediction of that class and risk level (rows and
    files only; no model run). The risk defaults to the class's usual one (``USUAL_RISK``)."""

    def make(*, lesion=None, risk=None, predicted="NV", finished=None, captured_on=None, version=None, **image):
        if lesion is not None:
            image["lesion"] = lesion
        if captured_on is not None:
            image["captured_on"] = captured_on
        prediction = {"finished_at": finished} if finished is not None else {}
        return PredictionFactory(
            succeeded=True,
            image=LesionImageFactory(**image),
            model_version=version or model_version,
            probabilities=RESULT_PROBABILITIES[predicted, risk or USUAL_RISK[predicted]],
            **prediction,
        )

    return make
