"""Writes for the model registry and predictions. The task, the views, the admin and the
management commands all call these."""

from __future__ import annotations

import datetime
import io
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.core.cache import cache, caches
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from PIL import Image

from accounts.models import User
from core import permissions
from core.limits import image_work_slot
from core.tasks import send_task_on_commit
from notifications.models import NotificationKind
from notifications.services import notification_send
from skinml import gate, heatmaps
from skinml.card import (
    CardError,
    RuntimeMismatchError,
    card_path_for,
    check_runtime_matches_keras,
    runtime_path_for,
    validated_card,
)
from skinml.classes import CLASSES, MALIGNANT_CLASSES
from skinml.decoding import decode_within
from skinml.engine import ModelFileError, normalised_cam, sha256_of_file, softmax
from skinml.ood import OODStatistics
from skinml.preprocessing import preprocess

from .models import ModelVersion, Prediction, PredictionStatus, QualityStatus, RiskLevel
from .runtime import get_engine, get_quality_statistics, models_dir

if TYPE_CHECKING:
    from cases.models import LesionImage

logger = logging.getLogger(__name__)


# Model registry -------------------------------------------------------------------------


def _verified_runtime_export(*, keras_path: Path, card: dict) -> Path:
    """The LiteRT export beside ``keras_path`` (made here if missing), after checking that it
    reproduces the Keras model; ValidationError otherwise."""
    runtime_path = runtime_path_for(keras_path)
    if not runtime_path.is_file():
        from skinml import keras_model

        keras_model.export_runtime(keras_model.load_classifier(keras_path), runtime_path)
    try:
        check_runtime_matches_keras(keras_path=keras_path, runtime_path=runtime_path, card=card)
    except RuntimeMismatchError as error:
        raise ValidationError(str(error)) from error
    return runtime_path


def model_version_register(*, keras_path: Path, activate: bool = False, skip_registered: bool = False) -> ModelVersion:
    """Register a Keras model file with its card (``<name>.card.json`` beside it).

    The file (and its LiteRT export, made here if missing) is copied into the models folder
    unless it is already there; the export is checked against the Keras model before anything
    is recorded. The first registered version becomes active. With ``skip_registered``, a
    name and version registered already is returned as it is (after checking it is the same file)."""
    keras_path = keras_path.resolve()
    if not keras_path.is_file():
        raise ValidationError(f"{keras_path} does not exist.")
    card_file = card_path_for(keras_path)
    if not card_file.is_file():
        raise ValidationError(f"{keras_path} has no model card {card_file.name} beside it.")
    try:
        card = validated_card(json.loads(card_file.read_text()), source=card_file)
    except CardError as error:
        raise ValidationError(str(error)) from error
    existing = ModelVersion.objects.filter(name=card["name"], version=card["version"]).first()
    if existing is not None:
        if not skip_registered:
            raise ValidationError(f"{card['name']} {card['version']} is already registered.")
        if existing.sha256 != sha256_of_file(keras_path):
            raise ValidationError(f"{existing} is registered with another file than {keras_path}.")
        if activate and not existing.is_active:
            existing = model_version_activate(model_version=existing)
        return existing

    runtime_path = _verified_runtime_export(keras_path=keras_path, card=card)

    statistics_path = _quality_statistics_of_card(keras_path=keras_path, card=card)

    sources = [keras_path, runtime_path, card_file]
    if statistics_path is not None:
        sources.append(statistics_path)
    stored = [_copy_into_models_dir(source) for source in sources]

    with transaction.atomic():
        version = model_version_create(
            card=card,
            keras_file=stored[0],
            runtime_file=stored[1],
            quality_statistics_file=stored[3] if statistics_path is not None else None,
        )
        if activate or not ModelVersion.objects.filter(is_active=True).exists():
            version = model_version_activate(model_version=version)
    return version


def _copy_into_models_dir(source: Path) -> Path:
    """``source`` copied into the models folder under its own name (unless it is there already);
    ValidationError if another file of that name is there."""
    target_dir = models_dir().resolve()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.name
    if source != target:
        if target.exists() and sha256_of_file(target) != sha256_of_file(source):
            raise ValidationError(f"{target} exists with other contents; give the file another name.")
        shutil.copyfile(source, target)
    return target


def _check_quality_statistics_load(path: Path) -> None:
    """ValidationError unless ``path`` is out-of-scope statistics that skinml can load."""
    try:
        OODStatistics.load(path)
    except Exception as error:  # any reason it cannot be read is a reason to refuse it
        raise ValidationError(f"{path} cannot be loaded as quality gate statistics: {error}") from error


def _quality_statistics_of_card(*, keras_path: Path, card: dict) -> Path | None:
    """The out-of-scope statistics file the card names (``card["quality"]["statistics_file"]``,
    relative to the card's folder), checked against ``statistics_sha256`` when the card gives
    it and loaded once; None when the card names none (only the image checks will apply)."""
    name = (card.get("quality") or {}).get("statistics_file")
    if not name:
        return None
    path = (keras_path.parent / name).resolve()
    if not path.is_file():
        raise ValidationError(f"The card names quality statistics {name}, but {path} does not exist.")
    expected = card["quality"].get("statistics_sha256")
    if expected and sha256_of_file(path) != expected:
        raise ValidationError(f"{path} does not have the SHA-256 its card gives ({expected}).")
    _check_quality_statistics_load(path)
    return path


@transaction.atomic
def model_version_attach_quality_statistics(*, model_version: ModelVersion, path: Path) -> ModelVersion:
    """Give a registered version out-of-scope statistics for the quality gate (or new ones):
    the file must load; it is copied into the models folder and recorded with its SHA-256 (the
    change history keeps the previous one). Predictions made from now on use it."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ValidationError(f"{path} does not exist.")
    _check_quality_statistics_load(path)
    stored = _copy_into_models_dir(path)
    model_version.quality_statistics_file = stored.relative_to(models_dir().resolve()).as_posix()
    model_version.quality_statistics_sha256 = sha256_of_file(stored)
    model_version.save(update_fields=["quality_statistics_file", "quality_statistics_sha256"])
    return model_version


def model_version_create(
    *, card: dict, keras_file: Path, runtime_file: Path, quality_statistics_file: Path | None = None
) -> ModelVersion:
    """The registry row of a validated card and its files, which are in the models folder:
    the card's fields become columns, the files' SHA-256 are taken. Nothing else: registration
    copies and checks the files first and activates the version after."""
    target_dir = models_dir().resolve()
    statistics = {}
    if quality_statistics_file is not None:
        statistics = {
            "quality_statistics_file": quality_statistics_file.resolve().relative_to(target_dir).as_posix(),
            "quality_statistics_sha256": sha256_of_file(quality_statistics_file),
        }
    return ModelVersion.objects.create(
        **statistics,
        name=card["name"],
        version=card["version"],
        file=keras_file.resolve().relative_to(target_dir).as_posix(),
        sha256=sha256_of_file(keras_file),
        runtime_file=runtime_file.resolve().relative_to(target_dir).as_posix(),
        runtime_sha256=sha256_of_file(runtime_file),
        architecture=card["architecture"],
        input_size=int(card["input_size"]),
        class_labels=list(card["classes"]),
        preprocessing=card["preprocessing"],
        gradcam_layer=card["gradcam_layer"],
        temperature=float(card.get("temperature", 1.0)),
        thresholds={"medium": float(card["thresholds"]["medium"]), "high": float(card["thresholds"]["high"])},
        metrics=card.get("metrics", {}),
        card=card,
    )


@transaction.atomic
def model_version_activate(*, model_version: ModelVersion) -> ModelVersion:
    """Make this the one active version. New uploads are predicted with it; earlier results stay."""
    # Saved one by one (not .update()) so that the change history records both.
    for previous in ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=model_version.pk):
        previous.is_active = False
        previous.save(update_fields=["is_active"])
    model_version.refresh_from_db()
    model_version.is_active = True
    model_version.save(update_fields=["is_active"])
    return model_version


@transaction.atomic
def model_version_set_metrics(*, model_version: ModelVersion, metrics: dict) -> ModelVersion:
    model_version.metrics = metrics
    model_version.save(update_fields=["metrics"])
    return model_version


# Predictions ----------------------------------------------------------------------------


def prediction_request(
    *, image: LesionImage, requested_by: User | None, model_version: ModelVersion | None = None
) -> Prediction | None:
    """Queue a prediction of ``image`` by ``model_version`` (default: the active one) and send
    it to a worker after commit. Returns None when no model version is active."""
    model_version = model_version or ModelVersion.objects.active()
    if model_version is None:
        logger.warning("No active model version: image %s gets no prediction", image.pk)
        return None
    from .tasks import run_prediction

    prediction = Prediction.objects.create(image=image, model_version=model_version, requested_by=requested_by)
    # A broker that cannot be reached does not fail the upload: the prediction stays queued.
    send_task_on_commit(run_prediction, prediction.pk)
    return prediction


def predictions_stalled(*, queued_for: datetime.timedelta, running_for: datetime.timedelta) -> list[int]:
    """Ids of predictions whose task was probably lost: queued longer than ``queued_for`` (the
    broker was down when it was sent) or running longer than ``running_for`` (the worker died,
    or the task was killed by its hard time limit and acknowledged)."""
    now = timezone.now()
    return list(
        Prediction.objects.filter(
            Q(status=PredictionStatus.QUEUED, created_at__lt=now - queued_for)
            | Q(status=PredictionStatus.RUNNING, started_at__lt=now - running_for)
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )


def predictions_resend(
    *, queued_for: datetime.timedelta, running_for: datetime.timedelta, limit: int | None = None
) -> tuple[int, int]:
    """Send the tasks of stalled predictions again; (sent, found). Safe with a task still in the
    broker: the tasks are idempotent (a finished prediction is left alone, and a prediction
    interrupted MAX_ATTEMPTS times is failed). Stops at the first send that fails (broker down)."""
    from .tasks import run_prediction

    stalled = predictions_stalled(queued_for=queued_for, running_for=running_for)[:limit]
    sent = 0
    for prediction_id in stalled:
        try:
            run_prediction.delay(prediction_id)
        except Exception:
            logger.exception("Could not re-send prediction %s; the broker seems down", prediction_id)
            break
        sent += 1
    if stalled:
        logger.info("Re-sent %s of %s stalled predictions", sent, len(stalled))
    return sent, len(stalled)


class NoActiveModel(Exception):
    """No model version is active (and none was named): there is nothing to analyse with."""

    def __init__(self, message: str = "No model is active, so the image cannot be analysed. Ask an admin.") -> None:
        super().__init__(message)


class RerunPending(Exception):
    """The same image is already being analysed by the same model version (409)."""

    def __init__(self, prediction: Prediction) -> None:
        self.prediction = prediction
        super().__init__(
            f"This image is already being analysed by {prediction.model_version} "
            f"(prediction {prediction.pk}, {prediction.get_status_display().lower()}); wait for that result."
        )


class RerunThrottled(Exception):
    """The user asked for too many re-runs in a short time (429)."""

    def __init__(self, *, wait: int) -> None:
        self.wait = wait
        super().__init__(
            f"Too many re-runs: at most {settings.SKINPORTAL_RERUNS_PER_WINDOW} every "
            f"{settings.SKINPORTAL_RERUN_WINDOW_SECONDS} s. Try again in {wait} s."
        )


def _count_rerun(user: User) -> None:
    """Count one re-run of ``user`` in the current window (the shared cache, so every web process
    counts together); RerunThrottled past ``SKINPORTAL_RERUNS_PER_WINDOW``."""
    window = settings.SKINPORTAL_RERUN_WINDOW_SECONDS
    now = int(time.time())
    key = f"skinportal:reruns:{user.pk}:{now // window}"
    cache.add(key, 0, timeout=window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 5)
        count = 1
    if count > settings.SKINPORTAL_RERUNS_PER_WINDOW:
        raise RerunThrottled(wait=window - now % window)


def prediction_rerun(
    *, image: LesionImage, requested_by: User, model_version: ModelVersion | None = None
) -> Prediction:
    """A new analysis of an image asked for by a person (the re-run button, the API, the admin
    action) by ``model_version`` or the active one; earlier results stay as history. Only the
    patient's owner and admins may ask (PermissionDenied); NoActiveModel if there is no model;
    RerunPending while the same version's analysis of the image is queued or running (the
    image's row is locked while this is checked, so two re-runs at once cannot both pass);
    RerunThrottled past the per-user rate."""
    if not permissions.can_rerun_prediction(user=requested_by, image=image):
        raise PermissionDenied("Only the patient's owner or an admin can re-run the analysis.")
    model_version = model_version or ModelVersion.objects.active()
    if model_version is None:
        raise NoActiveModel()
    with transaction.atomic():
        type(image).objects.select_for_update().filter(pk=image.pk).first()
        pending = (
            Prediction.objects.filter(
                image=image,
                model_version=model_version,
                status__in=[PredictionStatus.QUEUED, PredictionStatus.RUNNING],
            )
            .select_related("model_version")
            .defer(*_MODEL_VERSION_DOCUMENTS)
            .first()
        )
        if pending is not None:
            raise RerunPending(pending)
        _count_rerun(requested_by)
        prediction = prediction_request(image=image, requested_by=requested_by, model_version=model_version)
    if prediction is None:  # pragma: no cover - the version was checked above
        raise NoActiveModel()
    return prediction


@dataclass(frozen=True)
class _Result:
    probabilities: np.ndarray
    class_maps: np.ndarray
    heatmap_class: str
    heatmap_jpeg: bytes
    raw_map_npy: bytes
    preprocess_ms: float
    inference_ms: float
    quality_ms: float
    overlay_ms: float
    quality: dict  # skinml.quality.QualityVerdict.as_dict(): {"status", "reasons", "scores"}


class UnreadableImage(Exception):
    pass


def _read_image(image: LesionImage, *, max_pixels: int | None = None) -> Image.Image:
    """Read the stored file (storage errors propagate: they are transient) and decode it to RGB
    with at most ``max_pixels`` (default SKINPORTAL_MAX_STORED_PIXELS: a JPEG stored before that
    limit existed is decoded reduced, not whole) (a decoding error is permanent)."""
    with image.file.open("rb") as handle:
        data = handle.read()
    try:
        return decode_within(data, max_pixels=max_pixels or settings.SKINPORTAL_MAX_STORED_PIXELS)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise UnreadableImage(f"The stored image could not be decoded ({error}).") from error


def _compute(prediction: Prediction) -> _Result:
    model_version = prediction.model_version
    engine = get_engine(model_version)
    statistics = get_quality_statistics(model_version)
    started = time.perf_counter()
    rgb = _read_image(prediction.image)
    model_input = preprocess(rgb, size=model_version.input_size)
    after_preprocess = time.perf_counter()
    output = engine.run(model_input)
    probabilities = softmax(output.logits, temperature=model_version.temperature)
    class_index = int(np.argmax(probabilities))
    cam = normalised_cam(output.class_maps, class_index)
    after_inference = time.perf_counter()
    verdict = gate.assess(
        rgb=np.asarray(rgb),
        logits=output.logits,
        features=output.features,  # None for exports without the features output (1.0.0)
        statistics=statistics,
        temperature=model_version.temperature,
    )
    after_quality = time.perf_counter()
    picture = heatmaps.overlay(np.asarray(rgb), cam)
    heatmap_jpeg = heatmaps.encode_jpeg(picture)
    after_overlay = time.perf_counter()
    raw = io.BytesIO()
    np.save(raw, output.class_maps.astype(np.float32), allow_pickle=False)
    return _Result(
        probabilities=probabilities,
        class_maps=output.class_maps,
        heatmap_class=model_version.class_labels[class_index],
        heatmap_jpeg=heatmap_jpeg,
        raw_map_npy=raw.getvalue(),
        preprocess_ms=(after_preprocess - started) * 1000,
        inference_ms=(after_inference - after_preprocess) * 1000,
        quality_ms=(after_quality - after_inference) * 1000,
        overlay_ms=(after_overlay - after_quality) * 1000,
        quality=verdict.as_dict(),
    )


#: The model version's large JSON fields, which a prediction run does not need.
_MODEL_VERSION_DOCUMENTS = ("model_version__card", "model_version__metrics")

#: A prediction whose worker died this many times (out of memory, killed) is given up.
MAX_ATTEMPTS = 3


def _claim(prediction_id: int) -> Prediction | None:
    """Mark a queued (or abandoned running) prediction as running; None if it is finished,
    deleted, or has been started MAX_ATTEMPTS times already (it is then failed)."""
    with transaction.atomic():
        prediction = (
            Prediction.objects.select_for_update(of=("self",))
            .select_related("model_version", "image")
            .defer(*_MODEL_VERSION_DOCUMENTS)
            .filter(pk=prediction_id)
            .first()
        )
        if prediction is None or prediction.is_finished:
            return None
        if prediction.attempts >= MAX_ATTEMPTS:
            prediction.status = PredictionStatus.FAILED
            prediction.error = (
                f"The analysis was interrupted {prediction.attempts} times (the worker stopped each time); "
                "it was given up. Re-run it, and tell an admin if it happens again."
            )
            prediction.finished_at = timezone.now()
            prediction.save(update_fields=["status", "error", "finished_at"])
            return None
        prediction.status = PredictionStatus.RUNNING
        prediction.started_at = timezone.now()
        prediction.attempts += 1
        prediction.save(update_fields=["status", "started_at", "attempts"])
        return prediction


def prediction_fail(*, prediction_id: int, reason: str) -> Prediction | None:
    with transaction.atomic():
        prediction = Prediction.objects.select_for_update().filter(pk=prediction_id).first()
        if prediction is not None and not prediction.is_finished:
            prediction.status = PredictionStatus.FAILED
            prediction.error = reason
            prediction.finished_at = timezone.now()
            prediction.save(update_fields=["status", "error", "finished_at"])
        return prediction


def prediction_run(*, prediction_id: int) -> Prediction | None:
    """Compute a prediction. Idempotent: a finished prediction is returned unchanged, and of two
    deliveries racing on one prediction only the first to finish records its result.

    Permanent problems (an undecodable image, a missing or altered model file) end the
    prediction as failed with a readable reason; transient ones (database, storage) propagate
    so that the task retries."""
    prediction = _claim(prediction_id)
    if prediction is None:
        return Prediction.objects.filter(pk=prediction_id).first()
    begun = time.perf_counter()
    try:
        result = _compute(prediction)
    except (UnreadableImage, ModelFileError) as error:
        return prediction_fail(prediction_id=prediction_id, reason=str(error))
    except FileNotFoundError:
        return prediction_fail(prediction_id=prediction_id, reason="The stored image file is missing.")

    heatmap_name = raw_map_name = None
    try:
        with transaction.atomic():
            locked = (
                Prediction.objects.select_for_update(of=("self",))
                .select_related("model_version")
                .defer(*_MODEL_VERSION_DOCUMENTS)
                .filter(pk=prediction_id)
                .first()
            )
            if locked is None or locked.is_finished:
                return locked
            locked.heatmap.save("heatmap.jpg", ContentFile(result.heatmap_jpeg), save=False)
            heatmap_name = locked.heatmap.name
            locked.raw_map.save("map.npy", ContentFile(result.raw_map_npy), save=False)
            raw_map_name = locked.raw_map.name
            bcc, mel, nv = (float(result.probabilities[locked.model_version.class_labels.index(c)]) for c in CLASSES)
            locked.probability_bcc, locked.probability_mel, locked.probability_nv = bcc, mel, nv
            predicted = max(CLASSES, key=lambda c: locked.probabilities[c])
            locked.predicted_class = predicted
            locked.malignant = predicted in MALIGNANT_CLASSES
            locked.risk_level = locked.model_version.risk_level(malignant_probability=bcc + mel)
            locked.heatmap_class = result.heatmap_class
            locked.preprocess_ms = result.preprocess_ms
            locked.inference_ms = result.inference_ms
            locked.quality_ms = result.quality_ms
            locked.overlay_ms = result.overlay_ms
            locked.quality_status = QualityStatus(result.quality["status"])
            locked.quality = result.quality
            locked.total_ms = (time.perf_counter() - begun) * 1000
            locked.status = PredictionStatus.SUCCEEDED
            locked.error = ""
            locked.finished_at = timezone.now()
            locked.save()
            if locked.is_withheld:
                _notify_new_image_needed(locked)
            elif locked.risk_level == RiskLevel.HIGH and not _image_was_high_risk(locked):
                _notify_high_risk(locked)
            return locked
    except BaseException:
        for name in (heatmap_name, raw_map_name):
            if name:
                Prediction._meta.get_field("heatmap").storage.delete(name)
        raise


def _image_was_high_risk(prediction: Prediction) -> bool:
    """A re-run or another model version that says "high" again is not news to the owner."""
    return (
        Prediction.objects.shown()
        .filter(image_id=prediction.image_id, risk_level=RiskLevel.HIGH)
        .exclude(pk=prediction.pk)
        .exists()
    )


def _notify_high_risk(prediction: Prediction) -> None:
    """Tell the patient's owner about a new high-risk result (in the app, and by e-mail)."""
    image = Prediction.objects.select_related("image__lesion__patient__owner").get(pk=prediction.pk).image
    lesion = image.lesion
    notification_send(
        recipient=lesion.patient.owner,
        kind=NotificationKind.HIGH_RISK,
        title=f"High-risk result: {lesion.label}",
        body=(
            f"A new image of this lesion was analysed as high risk "
            f"({prediction.get_predicted_class_display()} most likely). Please review it."
        ),
        url=image.get_absolute_url(),
        lesion=lesion,
        event_key=f"prediction:{prediction.pk}",
    )


def _notify_new_image_needed(prediction: Prediction) -> None:
    """Tell the patient's owner that the model could not judge an image (the quality gate
    withheld the result), with the reasons in plain words; never a risk or a class."""
    image = Prediction.objects.select_related("image__lesion__patient__owner").get(pk=prediction.pk).image
    lesion = image.lesion
    reasons = "; ".join(reason["message"] for reason in prediction.quality_reasons) or "the image could not be judged"
    notification_send(
        recipient=lesion.patient.owner,
        kind=NotificationKind.NEW_IMAGE_NEEDED,
        title=f"New image needed: {lesion.label}",
        body=f"The model could not judge a new image of this lesion ({reasons}). Please take a new one.",
        url=image.get_absolute_url(),
        lesion=lesion,
        event_key=f"prediction:{prediction.pk}",
    )


class HeatmapUnavailable(Exception):
    """The prediction has no heatmap: it has not succeeded (yet, or ever), or its result is
    withheld from the user (``ResultWithheld``)."""


class ResultWithheld(HeatmapUnavailable):
    """The quality gate withheld this result's figures and the user may not see them (409)."""

    def __init__(self, message: str = "withheld: the model could not judge this image, so its result is not shown."):
        super().__init__(message)


class HeatmapThrottled(Exception):
    """The user rendered too many heatmaps in the last minute (429)."""

    def __init__(self, *, wait: int) -> None:
        self.wait = wait
        super().__init__(
            f"Too many heatmaps rendered: at most {settings.SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE} a minute. "
            f"Try again in {wait} s."
        )


def _count_heatmap_render(user: User | None) -> None:
    """Count one render of ``user`` in the current minute (the shared cache); HeatmapThrottled
    past SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE."""
    if user is None:
        return
    now = int(time.time())
    key = f"skinportal:heatmap-renders:{user.pk}:{now // 60}"
    cache.add(key, 0, timeout=65)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=65)
        count = 1
    if count > settings.SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE:
        raise HeatmapThrottled(wait=60 - now % 60)


def _heatmap_cache_key(prediction: Prediction, class_label: str, opacity: float) -> str:
    finished = prediction.finished_at.timestamp() if prediction.finished_at else 0
    return (
        f"heatmap:{prediction.pk}:{finished:.6f}:{class_label}:{opacity:.4f}:{settings.SKINPORTAL_MAX_HEATMAP_PIXELS}"
    )


#: Rendered heatmaps larger than this are not cached (they would crowd the cache out).
HEATMAP_CACHE_MAX_BYTES = 8 * 1024 * 1024


def heatmap_render(
    *,
    prediction: Prediction,
    class_label: str | None = None,
    opacity: float | None = None,
    user: User | None = None,
) -> bytes:
    """The Grad-CAM overlay of a succeeded prediction for any class and opacity, from its stored
    raw maps (no model run). Opacity 1 gives the coloured map alone.

    Memory and time are bounded: the overlay is at most SKINPORTAL_MAX_HEATMAP_PIXELS large (a
    large stored JPEG is decoded at reduced scale), rendered ones are cached (``caches["heatmaps"]``),
    a render (not a cache hit) counts against ``user``'s SKINPORTAL_HEATMAP_RENDERS_PER_MINUTE
    (HeatmapThrottled) and waits for one of the process's image work slots (ImageWorkBusy)."""
    if prediction.status != PredictionStatus.SUCCEEDED:
        raise HeatmapUnavailable(
            f"This prediction has no heatmap: it has not succeeded (status: {prediction.get_status_display()})."
        )
    labels = prediction.model_version.class_labels
    class_label = class_label or prediction.heatmap_class
    if class_label not in labels:
        raise ValidationError(f"Unknown class {class_label!r}; choose one of {', '.join(labels)}.")
    opacity = heatmaps.DEFAULT_OPACITY if opacity is None else opacity
    if not 0.0 <= opacity <= 1.0:
        raise ValidationError("Opacity must be between 0 and 1.")
    key = _heatmap_cache_key(prediction, class_label, opacity)
    cached = caches["heatmaps"].get(key)
    if cached is not None:
        return cached
    _count_heatmap_render(user)
    with image_work_slot():
        with prediction.raw_map.open("rb") as handle:
            class_maps = np.load(io.BytesIO(handle.read()), allow_pickle=False)
        picture = _read_image(prediction.image, max_pixels=settings.SKINPORTAL_MAX_HEATMAP_PIXELS)
        rgb = np.asarray(picture)
        picture.close()
        cam = normalised_cam(class_maps, labels.index(class_label))
        rendered = heatmaps.encode_jpeg(heatmaps.overlay(rgb, cam, opacity=opacity))
    if len(rendered) <= HEATMAP_CACHE_MAX_BYTES:
        caches["heatmaps"].set(key, rendered)
    return rendered


def prediction_heatmap(
    *, prediction: Prediction, user: User, class_label: str | None = None, opacity: float | None = None
) -> FieldFile | bytes:
    """The heatmap the web page and the API both serve: the stored overlay (a file, to stream or
    sign) when the prediction's own class at the default opacity is asked for, otherwise a JPEG
    rendered by ``heatmap_render``. Raises HeatmapUnavailable (not succeeded), ResultWithheld
    (withheld by the quality gate and ``user`` may not see it), ValidationError (class or
    opacity) and UnreadableImage (the stored image cannot be decoded)."""
    if prediction.is_withheld and not permissions.can_see_withheld_result(user=user):
        raise ResultWithheld()
    is_stored = (class_label or prediction.heatmap_class) == prediction.heatmap_class and opacity is None
    if prediction.status == PredictionStatus.SUCCEEDED and is_stored:
        return prediction.heatmap
    return heatmap_render(prediction=prediction, class_label=class_label, opacity=opacity, user=user)
