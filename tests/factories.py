"""A factory for every model. Rows are complete and consistent, as the application would
have written them; a test names only what it is about.

Predictions: ``PredictionFactory()`` is queued; the traits ``running=True``, ``succeeded=True``
and ``failed=True`` give the other states. A succeeded prediction takes ``probabilities=(bcc,
mel, nv)`` (default ``(0.1, 0.1, 0.8)``) and derives the rest from them and its model version:
predicted class (the argmax), malignant, risk level (``ModelVersion.risk_level``), and real
stored files: the raw class maps (``.npy``, shaped like the model's output) and the heatmap
(a JPEG overlay of the predicted class's map on the image), so heatmap pages and re-rendering
work. ``RESULT_PROBABILITIES`` has probabilities for each (class, risk level) that the
default thresholds allow."""

from __future__ import annotations

import copy
import datetime
import hashlib
import io
import itertools
import math

import factory
import numpy as np
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from accounts.models import REVIEWER_GROUP, User
from cases.imaging import normalise_upload
from cases.models import AnatomicSite, Lesion, LesionImage, Patient, PatientShare
from inference.models import ModelVersion, Prediction, PredictionStatus, QualityStatus
from notifications.models import Notification, NotificationKind
from reviews.models import Histopathology, HistopathologyDiagnosis, RecommendedAction, Review, ReviewDiagnosis
from skinml import change as skinml_change
from skinml import measurement as skinml_measurement
from skinml.classes import CLASSES, MALIGNANT_CLASSES
from skinml.preprocessing import PREPROCESSING_ID
from skinml.quality import QualityVerdict, finding
from tracking.models import AnalysisStatus, ChangeAssessment, ChangeVerdict, ImageComparison, ImageMeasurement
from tracking.services import change_flag_reasons

from . import images


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"clinician{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@clinic.example")
    password = factory.django.Password("correct-horse-battery")


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class ReviewerFactory(UserFactory):
    """A clinician in the reviewers' group."""

    class Meta:
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"reviewer{n}")

    @factory.post_generation
    def reviewer_group(user, create, extracted, **kwargs):
        if create:
            user.groups.add(Group.objects.get_or_create(name=REVIEWER_GROUP)[0])


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    identifier = factory.Sequence(lambda n: f"MRN{n:06d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=90)
    sex = "female"
    owner = factory.SubFactory(UserFactory)


class PatientShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientShare

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(UserFactory)
    granted_by = factory.LazyAttribute(lambda share: share.patient.owner)


class LesionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesion

    patient = factory.SubFactory(PatientFactory)
    label = factory.Sequence(lambda n: f"mole {n} left shoulder")
    anatomic_site = AnatomicSite.UPPER_EXTREMITY
    created_by = factory.LazyAttribute(lambda lesion: lesion.patient.owner)


class LesionImageFactory(factory.django.DjangoModelFactory):
    """An image row with real stored files, normalised exactly as an upload would be: a
    lesion-like picture of 200×150 px (the smallest real ISIC size), which the quality gate's
    image checks pass, so that the test model's results are shown."""

    class Meta:
        model = LesionImage

    lesion = factory.SubFactory(LesionFactory)
    captured_on = factory.LazyFunction(lambda: datetime.date(2026, 1, 15))
    uploaded_by = factory.LazyAttribute(lambda image: image.lesion.patient.owner)
    original_filename = "IMG_0001.jpg"
    seed = factory.Sequence(lambda n: n)  # varies the pixels, so images of one lesion differ

    @classmethod
    def _create(
        cls,
        model_class,
        *args,
        seed: int = 0,
        size: tuple[int, int] | None = None,
        picture: bytes | None = None,
        **kwargs,
    ):
        """``picture``: the file's bytes (any upload format), instead of a lesion-like picture of ``size``."""
        picture = picture if picture is not None else images.jpeg(*(size or images.GATE_PASSING_SIZE), seed=seed)
        normalised = normalise_upload(picture, filename="factory.jpg", max_bytes=10**8, max_pixels=10**8)
        image = model_class(
            width=normalised.width,
            height=normalised.height,
            sha256=normalised.sha256,
            source_format=normalised.source_format,
            **kwargs,
        )
        image.file.save("image.jpg", ContentFile(normalised.jpeg), save=False)
        image.thumbnail.save("thumbnail.jpg", ContentFile(normalised.thumbnail_jpeg), save=False)
        image.save()
        return image


# Model versions and predictions ---------------------------------------------------------

#: The thresholds of ModelVersionFactory, the same as the bundled test model's card.
THRESHOLDS = {"medium": 0.3, "high": 0.6}

#: Probabilities (BCC, MEL, NV) giving each predicted class and risk level under THRESHOLDS
#: (a melanoma or BCC prediction cannot be low risk: its class alone is above 1/3).
RESULT_PROBABILITIES = {
    ("NV", "low"): (0.1, 0.1, 0.8),
    ("NV", "medium"): (0.15, 0.2, 0.65),
    ("NV", "high"): (0.3, 0.3, 0.4),
    ("MEL", "medium"): (0.05, 0.5, 0.45),
    ("MEL", "high"): (0.05, 0.7, 0.25),
    ("BCC", "medium"): (0.5, 0.05, 0.45),
    ("BCC", "high"): (0.7, 0.1, 0.2),
}


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A registered version as registration records it from a card (classes BCC, MEL, NV,
    MobileNetV2 at 224 px, THRESHOLDS), without model files: for rows that are never run.
    Tests that run the model use the ``model_version`` fixture (the bundled test model).

    Inactive unless ``is_active=True``: at most one version may be active (a constraint)."""

    class Meta:
        model = ModelVersion

    name = "factory-mobilenetv2"
    version = factory.Sequence(lambda n: f"0.{n}.0")
    is_active = False
    file = factory.LazyAttribute(lambda v: f"{v.name}-{v.version}.keras")
    sha256 = factory.LazyAttribute(lambda v: hashlib.sha256(v.file.encode()).hexdigest())
    runtime_file = factory.LazyAttribute(lambda v: f"{v.name}-{v.version}.tflite")
    runtime_sha256 = factory.LazyAttribute(lambda v: hashlib.sha256(v.runtime_file.encode()).hexdigest())
    architecture = "MobileNetV2 alpha=0.35 + GAP + Dropout + Dense(3)"
    input_size = 224
    class_labels = factory.LazyFunction(lambda: list(CLASSES))
    preprocessing = PREPROCESSING_ID
    gradcam_layer = "out_relu"
    temperature = 1.0
    thresholds = factory.LazyFunction(lambda: dict(THRESHOLDS))
    metrics = factory.LazyFunction(dict)
    card = factory.LazyAttribute(
        lambda v: {
            "name": v.name,
            "version": v.version,
            "architecture": v.architecture,
            "input_size": v.input_size,
            "classes": list(v.class_labels),
            "preprocessing": v.preprocessing,
            "gradcam_layer": v.gradcam_layer,
            "temperature": v.temperature,
            "thresholds": dict(v.thresholds),
            "metrics": dict(v.metrics),
        }
    )


def _checked(probabilities) -> tuple[float, float, float]:
    bcc, mel, nv = (float(p) for p in probabilities)
    if not math.isclose(bcc + mel + nv, 1.0, abs_tol=1e-6) or min(bcc, mel, nv) < 0:
        raise ValueError(f"probabilities (BCC, MEL, NV) must be >= 0 and sum to 1, not {probabilities}")
    if sorted((bcc, mel, nv))[1] == max(bcc, mel, nv):
        raise ValueError(f"probabilities {probabilities} have no single most likely class")
    return bcc, mel, nv


def class_maps(model_version: ModelVersion) -> np.ndarray:
    """Grad-CAM class maps as the model outputs them, before ReLU: (size, size, classes)
    float32 with size = input_size / 32 (MobileNetV2's last feature map), one blob per class,
    each in another place (so each class's heatmap differs), negative away from it."""
    size = max(1, model_version.input_size // 32)
    yy, xx = np.mgrid[0:size, 0:size] / max(1, size - 1)
    places = itertools.islice(itertools.cycle([(0.3, 0.3), (0.5, 0.7), (0.75, 0.4)]), len(model_version.class_labels))
    maps = [np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.2**2)) - 0.2 for cy, cx in places]
    return np.stack(maps, axis=-1).astype(np.float32)


def _raw_map_file(prediction) -> ContentFile:
    buffer = io.BytesIO()
    np.save(buffer, class_maps(prediction.model_version), allow_pickle=False)
    return ContentFile(buffer.getvalue(), name="map.npy")


def _heatmap_file(prediction) -> ContentFile:
    """The heatmap class's map (ReLU, normalised) upsampled, coloured and blended over the image."""
    maps = class_maps(prediction.model_version)
    cam = np.maximum(maps[..., prediction.model_version.class_labels.index(prediction.heatmap_class)], 0.0)
    cam = cam / (cam.max() + 1e-8)
    with prediction.image.file.open("rb") as handle:
        picture = Image.open(io.BytesIO(handle.read())).convert("RGB")
    level = np.asarray(Image.fromarray(np.uint8(cam * 255)).resize(picture.size, Image.BILINEAR), dtype=np.uint8)
    colour = Image.merge("RGB", [Image.fromarray(level), Image.new("L", picture.size, 0), Image.fromarray(255 - level)])
    buffer = io.BytesIO()
    Image.blend(picture, colour, 0.45).save(buffer, format="JPEG", quality=90)
    return ContentFile(buffer.getvalue(), name="heatmap.jpg")


def _finished_run():
    """finished_at (now, unless given), and the start and creation of the run before it."""
    return {
        "finished_at": factory.LazyFunction(timezone.now),
        "started_at": factory.LazyAttribute(
            lambda p: p.finished_at - datetime.timedelta(milliseconds=p.total_ms or 50)
        ),
        "created_at": factory.SelfAttribute("started_at"),
    }


#: The quality gate's verdicts (``QualityVerdict.as_dict()``, with skinml's own wording) of the
#: traits below; the scores are those of real images (a good one, a bright one, a blurred one).
_SCORES = {"resolution_px": 450.0, "skin_fraction": 1.0, "mean_luminance": 128.0, "energy": -3.9, "mahalanobis": 21.0}
QUALITY_OK = QualityVerdict(status="ok", findings=(), scores={**_SCORES, "focus_laplacian": 60.0}).as_dict()
QUALITY_WARNING = QualityVerdict(
    status="warning",
    findings=(finding("over_exposed", "warning"),),
    scores={**_SCORES, "focus_laplacian": 60.0, "clipped_highlights": 0.2, "mean_luminance": 195.0},
).as_dict()
QUALITY_REJECTED = QualityVerdict(
    status="rejected",
    findings=(finding("out_of_focus", "rejected"), finding("out_of_distribution", "rejected")),
    scores={**_SCORES, "focus_laplacian": 4.5, "mahalanobis": 52.0},
).as_dict()


class PredictionFactory(factory.django.DjangoModelFactory):
    """A prediction of an image (requested by its uploader) by a model version: queued, or
    with ``running=True`` / ``succeeded=True`` / ``failed=True``. See the module's docstring.
    A succeeded one passed the quality gate ("ok"); ``warning=True`` and ``rejected=True`` give
    a succeeded one with the gate's warning, or rejected (its figures withheld)."""

    class Meta:
        model = Prediction

    class Params:
        probabilities = (0.1, 0.1, 0.8)  # BCC, MEL, NV; used when succeeded
        running = factory.Trait(
            status=PredictionStatus.RUNNING,
            started_at=factory.LazyFunction(timezone.now),
            created_at=factory.SelfAttribute("started_at"),
        )
        succeeded = factory.Trait(
            status=PredictionStatus.SUCCEEDED,
            probability_bcc=factory.LazyAttribute(lambda p: _checked(p.probabilities)[0]),
            probability_mel=factory.LazyAttribute(lambda p: _checked(p.probabilities)[1]),
            probability_nv=factory.LazyAttribute(lambda p: _checked(p.probabilities)[2]),
            predicted_class=factory.LazyAttribute(
                lambda p: max(CLASSES, key=dict(zip(CLASSES, _checked(p.probabilities), strict=True)).get)
            ),
            malignant=factory.LazyAttribute(lambda p: p.predicted_class in MALIGNANT_CLASSES),
            risk_level=factory.LazyAttribute(
                lambda p: p.model_version.risk_level(malignant_probability=p.probability_bcc + p.probability_mel)
            ),
            heatmap_class=factory.SelfAttribute("predicted_class"),
            raw_map=factory.LazyAttribute(_raw_map_file),
            heatmap=factory.LazyAttribute(_heatmap_file),
            preprocess_ms=4.0,
            inference_ms=38.0,
            overlay_ms=6.0,
            total_ms=50.0,
            attempts=1,
            quality_status=QualityStatus.OK,
            quality=factory.LazyFunction(lambda: copy.deepcopy(QUALITY_OK)),
            quality_ms=3.0,
            **_finished_run(),
        )
        warning = factory.Trait(
            succeeded=True,
            quality_status=QualityStatus.WARNING,
            quality=factory.LazyFunction(lambda: copy.deepcopy(QUALITY_WARNING)),
        )
        rejected = factory.Trait(
            succeeded=True,
            quality_status=QualityStatus.REJECTED,
            quality=factory.LazyFunction(lambda: copy.deepcopy(QUALITY_REJECTED)),
        )
        failed = factory.Trait(
            status=PredictionStatus.FAILED,
            error="The stored image could not be decoded (cannot identify image file).",
            attempts=1,
            **_finished_run(),
        )

    image = factory.SubFactory(LesionImageFactory)
    model_version = factory.SubFactory(ModelVersionFactory)
    requested_by = factory.LazyAttribute(lambda p: p.image.uploaded_by)
    status = PredictionStatus.QUEUED


# Reviews, histopathology, notifications ---------------------------------------------------


class ReviewFactory(factory.django.DjangoModelFactory):
    """A reviewer's decision on a succeeded prediction of the lesion. Agreeing (the default)
    means the model's class; a disagreeing review says "unsure" unless told a diagnosis."""

    class Meta:
        model = Review

    class Params:
        follow_up = factory.Trait(action=RecommendedAction.SHORT_TERM_FOLLOW_UP, follow_up_months=3)

    prediction = factory.SubFactory(PredictionFactory, succeeded=True)
    lesion = factory.LazyAttribute(lambda r: r.prediction.image.lesion)
    reviewer = factory.SubFactory(ReviewerFactory)
    agrees_with_model = True
    diagnosis = factory.LazyAttribute(
        lambda r: r.prediction.predicted_class if r.agrees_with_model else ReviewDiagnosis.UNSURE
    )
    action = RecommendedAction.ROUTINE_MONITORING
    follow_up_months = None


class HistopathologyFactory(factory.django.DjangoModelFactory):
    """A histopathology report of a lesion, entered by the patient's owner."""

    class Meta:
        model = Histopathology

    lesion = factory.SubFactory(LesionFactory)
    diagnosis = HistopathologyDiagnosis.NV
    diagnosed_on = factory.LazyFunction(lambda: datetime.date(2026, 2, 1))
    report = "Compound naevus, completely excised."
    entered_by = factory.LazyAttribute(lambda h: h.lesion.patient.owner)


class NotificationFactory(factory.django.DjangoModelFactory):
    """An unread high-risk notification about a lesion of the recipient's (``lesion=None`` for
    one about no lesion: then it links to the notifications page)."""

    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    kind = NotificationKind.HIGH_RISK
    event_key = factory.Sequence(lambda n: f"prediction:{n}")
    lesion = factory.SubFactory(LesionFactory, patient__owner=factory.SelfAttribute("...recipient"))
    title = factory.LazyAttribute(lambda n: f"High-risk result: {n.lesion.label}" if n.lesion else "High-risk result")
    body = "A new image of this lesion was analysed as high risk (Melanoma most likely). Please review it."
    url = factory.LazyAttribute(lambda n: n.lesion.get_absolute_url() if n.lesion else "/notifications/")


def lesion_with_visits(
    *,
    visits: int = 5,
    model_version: ModelVersion | None = None,
    first_visit: datetime.date = datetime.date(2025, 6, 2),
    image_size: tuple[int, int] | None = None,
    **lesion_fields,
) -> Lesion:
    """A lesion followed over ``visits`` monthly visits, each with one dermoscopic image and its
    succeeded result (risk rising from low to high), a review of the last result asking for a
    short-term follow-up, and a histopathology result: what a report of a followed lesion holds.
    ``image_size`` (width, height) gives the images another size than the factory's."""
    lesion = LesionFactory(**lesion_fields)
    model_version = model_version or ModelVersionFactory()
    results = [("NV", "low"), ("NV", "medium"), ("MEL", "medium"), ("NV", "high"), ("MEL", "high")]
    prediction = None
    for number in range(visits):
        day = first_visit + datetime.timedelta(days=30 * number)
        fields = {"lesion": lesion, "captured_on": day}
        if image_size is not None:
            fields["size"] = image_size
        image = LesionImageFactory(**fields)
        probabilities = RESULT_PROBABILITIES[results[min(number, len(results) - 1)]]
        prediction = PredictionFactory(
            image=image, model_version=model_version, succeeded=True, probabilities=probabilities
        )
    if prediction is not None:
        ReviewFactory(prediction=prediction, follow_up=True, notes="Re-image in three months.")
    HistopathologyFactory(lesion=lesion, diagnosed_on=first_visit + datetime.timedelta(days=30 * visits))
    return lesion


# Lesion tracking ------------------------------------------------------------------------


class ImageMeasurementFactory(factory.django.DjangoModelFactory):
    """A succeeded measurement (figures of a typical 200×150 image's lesion)."""

    class Meta:
        model = ImageMeasurement

    image = factory.SubFactory(LesionImageFactory)
    algorithm_version = factory.LazyFunction(lambda: skinml_measurement.ALGORITHM_VERSION)
    status = AnalysisStatus.SUCCEEDED
    area_px = 4200.0
    max_diameter_px = 82.0
    perimeter_px = 240.0
    asymmetry_major = 0.12
    asymmetry_minor = 0.08
    border_irregularity = 1.09
    colours = factory.LazyFunction(lambda: ["light_brown", "dark_brown"])
    mean_lab = factory.LazyFunction(lambda: [48.0, 14.0, 19.0])
    outline = factory.LazyFunction(lambda: [[[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.6]]])


class ImageComparisonFactory(factory.django.DjangoModelFactory):
    """A comparison of two images of one lesion, aligned, with a given measured change
    (``change``); ``flagged`` follows the settings' thresholds as the service would set it."""

    class Meta:
        model = ImageComparison

    earlier = factory.SubFactory(LesionImageFactory)
    later = factory.LazyAttribute(
        lambda comparison: LesionImageFactory(
            lesion=comparison.earlier.lesion, captured_on=comparison.earlier.captured_on + datetime.timedelta(days=90)
        )
    )
    lesion = factory.LazyAttribute(lambda comparison: comparison.earlier.lesion)
    algorithm_version = factory.LazyFunction(lambda: skinml_change.ALGORITHM_VERSION)
    status = AnalysisStatus.SUCCEEDED
    confidence = 0.9
    registration = factory.LazyFunction(
        lambda: {
            "status": "succeeded",
            "method": "features",
            "matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            "rotation_degrees": 0.0,
            "scale": 1.0,
            "translation_px": [0.0, 0.0],
            "inliers": 120,
            "confidence": 0.9,
            "reason": "",
        }
    )
    change = factory.LazyFunction(
        lambda: {
            "area_percent": 2.0,
            "diameter_percent": 1.0,
            "asymmetry_change": 0.01,
            "colours_gained": [],
            "colours_lost": [],
            "delta_e": 1.5,
            "summary": "No measurable change.",
        }
    )
    flagged = factory.LazyAttribute(lambda comparison: bool(change_flag_reasons(comparison.change)))
    flag_reasons = factory.LazyAttribute(lambda comparison: change_flag_reasons(comparison.change))


class ChangeAssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChangeAssessment

    earlier = factory.SubFactory(LesionImageFactory)
    later = factory.LazyAttribute(
        lambda assessment: LesionImageFactory(
            lesion=assessment.earlier.lesion, captured_on=assessment.earlier.captured_on + datetime.timedelta(days=90)
        )
    )
    lesion = factory.LazyAttribute(lambda assessment: assessment.earlier.lesion)
    verdict = ChangeVerdict.NO_CHANGE
    criteria = factory.LazyFunction(list)
    assessed_by = factory.LazyAttribute(lambda assessment: assessment.lesion.patient.owner)
