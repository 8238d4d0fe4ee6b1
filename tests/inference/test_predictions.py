"""The prediction pipeline in-process: upload → queued → (after commit) computed by the task."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cases import services as case_services
from inference import services
from inference.models import ModelVersion, Prediction, PredictionStatus, RiskLevel

from .. import images
from ..conftest import model_version_from_dir
from ..factories import LesionFactory, LesionImageFactory, ModelVersionFactory, PatientShareFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def upload(lesion, user, *files):
    return case_services.image_upload(
        lesion=lesion,
        uploaded_by=user,
        files=[SimpleUploadedFile(f"visit-{n}.jpg", data) for n, data in enumerate(files)],
    )


def test_upload_queues_a_prediction_that_succeeds_after_commit(
    clinician, model_version, django_capture_on_commit_callbacks
):
    lesion = LesionFactory(patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = upload(lesion, clinician, images.jpeg(320, 240, seed=1))
        prediction = Prediction.objects.get()
        assert prediction.status == PredictionStatus.QUEUED  # nothing runs before the commit
        assert (prediction.image, prediction.model_version, prediction.requested_by) == (
            result.stored[0],
            model_version,
            clinician,
        )
    assert len(callbacks) == 2  # the prediction, then the measurement (tracking), once committed
    callbacks[0]()

    prediction.refresh_from_db()
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction.error
    probabilities = prediction.probabilities
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert prediction.predicted_class == max(probabilities, key=probabilities.get)
    assert prediction.malignant == (prediction.predicted_class in ("BCC", "MEL"))
    assert prediction.risk_level == model_version.risk_level(malignant_probability=prediction.malignant_probability)
    assert prediction.heatmap_class == prediction.predicted_class
    assert prediction.preprocess_ms > 0 and prediction.inference_ms > 0 and prediction.overlay_ms > 0
    assert prediction.total_ms >= prediction.inference_ms
    assert prediction.started_at <= prediction.finished_at and prediction.attempts == 1

    overlay = Image.open(prediction.heatmap.open("rb"))
    assert overlay.size == (320, 240)  # upsampled to the stored image
    raw = np.load(io.BytesIO(prediction.raw_map.open("rb").read()))
    assert raw.shape == (7, 7, 3) and raw.dtype == np.float32


def test_running_a_finished_prediction_again_changes_nothing(
    clinician, model_version, django_capture_on_commit_callbacks
):
    lesion = LesionFactory(patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        upload(lesion, clinician, images.jpeg(seed=2))
    prediction = Prediction.objects.get()
    before = (prediction.finished_at, prediction.probability_mel, prediction.heatmap.name, prediction.attempts)

    again = services.prediction_run(prediction_id=prediction.pk)

    assert (again.finished_at, again.probability_mel, again.heatmap.name, again.attempts) == before
    assert Prediction.objects.count() == 1


def test_a_running_prediction_abandoned_by_a_dead_worker_is_completed(clinician, model_version):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    prediction = PredictionFactory(running=True, image=image, model_version=model_version)
    done = services.prediction_run(prediction_id=prediction.pk)
    assert done.status == PredictionStatus.SUCCEEDED and done.attempts == 1


def test_rerun_and_a_new_model_version_add_rows(
    clinician, model_version, models_dir, django_capture_on_commit_callbacks
):
    lesion = LesionFactory(patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        upload(lesion, clinician, images.jpeg(seed=3))
    first = Prediction.objects.get()
    first_values = (first.probability_mel, first.finished_at)

    with django_capture_on_commit_callbacks(execute=True):
        second = services.prediction_rerun(image=first.image, requested_by=clinician)
    newer = model_version_from_dir(models_dir, active=False, version="0.2.0")
    services.model_version_activate(model_version=newer)
    with django_capture_on_commit_callbacks(execute=True):
        third = services.prediction_rerun(image=first.image, requested_by=clinician)

    first.refresh_from_db()
    assert (first.probability_mel, first.finished_at) == first_values
    assert Prediction.objects.filter(image=first.image, status=PredictionStatus.SUCCEEDED).count() == 3
    assert second.model_version == model_version and third.model_version == newer
    assert ModelVersion.objects.filter(is_active=True).get() == newer


def test_an_image_that_cannot_be_decoded_ends_as_failed_with_a_reason(clinician, model_version):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    with image.file.storage.open(image.file.name, "wb") as handle:
        handle.write(b"these bytes slipped past validation")
    prediction = PredictionFactory(image=image, model_version=model_version)

    result = services.prediction_run(prediction_id=prediction.pk)

    assert result.status == PredictionStatus.FAILED
    assert result.error.startswith("The stored image could not be decoded")
    assert result.finished_at is not None and not result.heatmap


def test_without_an_active_model_uploads_still_work(clinician, models_dir):
    lesion = LesionFactory(patient__owner=clinician)
    result = upload(lesion, clinician, images.jpeg(seed=4))
    assert len(result.stored) == 1
    assert not Prediction.objects.exists()


def test_with_the_broker_down_the_upload_succeeds_and_the_prediction_stays_queued(
    clinician, model_version, django_capture_on_commit_callbacks, caplog, monkeypatch
):
    from kombu.exceptions import OperationalError

    from inference import tasks

    sends = []

    def broker_down(*args, **kwargs):
        sends.append(args)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_prediction, "delay", broker_down)
    lesion = LesionFactory(patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        result = upload(lesion, clinician, images.jpeg(seed=5))

    assert len(result.stored) == 1
    prediction = Prediction.objects.get()
    assert prediction.status == PredictionStatus.QUEUED
    assert sends == [(prediction.pk,)]  # a send was tried after the commit, and failed
    assert "Could not enqueue inference.tasks.run_prediction" in caplog.text


def test_risk_levels_follow_the_thresholds_of_the_model_card(model_version):
    assert model_version.thresholds == {"medium": 0.3, "high": 0.6}
    assert model_version.risk_level(malignant_probability=0.29) == RiskLevel.LOW
    assert model_version.risk_level(malignant_probability=0.3) == RiskLevel.MEDIUM
    assert model_version.risk_level(malignant_probability=0.6) == RiskLevel.HIGH


def test_heatmap_for_another_class_and_opacity(clinician, model_version, django_capture_on_commit_callbacks):
    lesion = LesionFactory(patient__owner=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        upload(lesion, clinician, images.jpeg(200, 150, seed=6))
    prediction = Prediction.objects.get()

    def render(**kwargs) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(services.heatmap_render(prediction=prediction, **kwargs))), dtype=float)

    original = np.asarray(Image.open(prediction.image.file.open("rb")), dtype=float)
    transparent = render(class_label="MEL", opacity=0.0)
    assert transparent.shape == (150, 200, 3)
    assert np.abs(transparent - original).mean() < 3  # only JPEG noise
    mel, nv = render(class_label="MEL", opacity=1.0), render(class_label="NV", opacity=1.0)
    assert np.abs(mel - nv).mean() > 10  # each class has its own map
    with pytest.raises(ValidationError):
        services.heatmap_render(prediction=prediction, class_label="SCC")
    with pytest.raises(ValidationError):
        services.heatmap_render(prediction=prediction, opacity=1.5)


def test_exactly_one_model_version_is_active():
    from django.db import IntegrityError, transaction

    ModelVersionFactory(is_active=True)
    other = ModelVersionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=other.pk).update(is_active=True)
    services.model_version_activate(model_version=other)
    assert list(ModelVersion.objects.filter(is_active=True)) == [other]


def test_a_high_risk_result_notifies_the_owner_once(clinician, model_version, django_capture_on_commit_callbacks):
    from notifications.models import Notification

    model_version.thresholds = {"medium": 0.01, "high": 0.02}  # any result of the test model is high risk
    model_version.save()
    image = LesionImageFactory(lesion__patient__owner=clinician)
    prediction = PredictionFactory(image=image, model_version=model_version)
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_run(prediction_id=prediction.pk)
        services.prediction_run(prediction_id=prediction.pk)  # delivered twice
    prediction.refresh_from_db()
    assert prediction.risk_level == RiskLevel.HIGH
    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind) == (clinician, "high_risk")
    assert notification.url == image.get_absolute_url()

    # Thresholds just above this image's malignant probability: the same image is now low risk.
    above = prediction.malignant_probability + 1e-6
    model_version.thresholds = {"medium": above, "high": above + 1e-6}
    model_version.save()
    low = PredictionFactory(image=image, model_version=model_version)
    services.prediction_run(prediction_id=low.pk)
    low.refresh_from_db()
    assert low.risk_level == RiskLevel.LOW and Notification.objects.count() == 1


def test_only_the_owner_or_an_admin_asks_for_a_new_analysis(clinician, other_clinician, admin_user, model_version):
    """The rule lives in the service, so the button, the API and the admin action share it."""
    image = LesionImageFactory(lesion__patient__owner=clinician)
    PatientShareFactory(patient=image.lesion.patient, clinician=other_clinician)  # care team, not owner
    with pytest.raises(PermissionDenied, match="owner or an admin"):
        services.prediction_rerun(image=image, requested_by=other_clinician)
    assert not Prediction.objects.exists()
    first = services.prediction_rerun(image=image, requested_by=clinician)
    assert first.requested_by == clinician
    services.prediction_fail(prediction_id=first.pk, reason="done")  # not pending any more
    assert services.prediction_rerun(image=image, requested_by=admin_user).model_version == model_version
    assert image.predictions.count() == 2


def test_without_an_active_model_a_new_analysis_is_refused(clinician):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    ModelVersionFactory(is_active=False)  # registered, not active
    with pytest.raises(services.NoActiveModel, match="No model is active"):
        services.prediction_rerun(image=image, requested_by=clinician)
    assert not Prediction.objects.exists()
