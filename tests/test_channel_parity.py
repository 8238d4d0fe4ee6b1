"""The web UI and the REST API are two doors to the same services: for every action they must
answer alike (done, or refused: the same HTTP status class) and leave the same effect.

Each case is run twice on fresh data, once through each channel. A UI refusal must be a 4xx
page, never a redirect with an error message, so that a browser, a proxy log and the access log
read it the same way as the API's answer."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from cases import services as case_services
from cases.models import Lesion, LesionImage, Patient, PatientShare
from inference import services as inference_services
from inference.models import ModelVersion, Prediction
from reviews.models import Histopathology, Review

from .factories import (
    LesionFactory,
    LesionImageFactory,
    PatientFactory,
    PatientShareFactory,
    PredictionFactory,
    ReviewFactory,
    UserFactory,
)
from .images import jpeg

TODAY = datetime.date.today().isoformat()
FUTURE = "2999-01-01"

Call = tuple[str, str, dict]  # method, path, data


@dataclass
class World:
    """One run's people and data; ``setup`` functions add to ``data``."""

    owner: Any
    care_team: Any
    reviewer: Any
    other: Any
    admin: Any
    model_version: ModelVersion
    capture: Callable
    data: dict

    def role_of(self, user_id: int) -> str:
        """Effects name people by role: the two runs' users are different rows."""
        roles = ("owner", "care_team", "reviewer", "other", "admin")
        return next(role for role in roles if getattr(self, role).pk == user_id)


@dataclass(frozen=True)
class Case:
    name: str
    actor: str  # owner, care_team, reviewer, other, admin
    setup: Callable[[World], None]
    ui: Callable[[World], Call]
    api: Callable[[World], Call]
    effect: Callable[[World], Any]
    expected: str  # "done" or "refused": what both channels must answer
    #: Why a refusal's exact status may differ between the channels (the class never may).
    status_differs_because: str = ""


# Setups ---------------------------------------------------------------------------------


def a_patient(world: World) -> None:
    patient = PatientFactory(owner=world.owner, given_name="Ana")
    PatientShareFactory(patient=patient, clinician=world.care_team, granted_by=world.owner)
    world.data["patient"] = patient


def a_lesion(world: World) -> None:
    a_patient(world)
    world.data["lesion"] = LesionFactory(patient=world.data["patient"], label="Left shoulder")


def an_analysed_image(world: World) -> None:
    """A lesion with an image analysed by the test model (a real run, in-process). The same
    pixels in both runs, so that both channels see the same result (effects name its class)."""
    a_lesion(world)
    image = LesionImageFactory(lesion=world.data["lesion"], seed=11)
    with world.capture(execute=True):
        prediction = inference_services.prediction_request(image=image, requested_by=world.owner)
    world.data["image"] = image
    world.data["prediction"] = Prediction.objects.get(pk=prediction.pk)


def an_uploaded_image(world: World) -> None:
    """A lesion with an image uploaded from ``jpeg(seed=3)`` (its analysis left queued)."""
    a_lesion(world)
    case_services.image_upload(
        lesion=world.data["lesion"],
        uploaded_by=world.owner,
        files=[SimpleUploadedFile("a.jpg", jpeg(seed=3))],
        captured_on=datetime.date.today(),
        modality="dermoscopic",
    )


def a_queued_prediction(world: World) -> None:
    a_lesion(world)
    image = LesionImageFactory(lesion=world.data["lesion"])
    world.data["prediction"] = inference_services.prediction_request(image=image, requested_by=world.owner)


def a_withheld_result(world: World) -> None:
    """A lesion with an image whose result the quality gate rejected (its figures withheld)."""
    a_lesion(world)
    image = LesionImageFactory(lesion=world.data["lesion"])
    world.data["image"] = image
    world.data["prediction"] = PredictionFactory(rejected=True, image=image, model_version=world.model_version)


def no_active_model(world: World) -> None:
    an_analysed_image(world)
    ModelVersion.objects.update(is_active=False)


def no_model_at_all(world: World) -> None:
    Prediction.objects.all().delete()
    ModelVersion.objects.all().delete()


def a_reviewed_result(world: World) -> None:
    an_analysed_image(world)
    ReviewFactory(prediction=world.data["prediction"], reviewer=world.admin)


def nothing(world: World) -> None:
    pass


# Requests -------------------------------------------------------------------------------


def patient_form(**changes) -> dict:
    return {
        "identifier": "PARITY-1",
        "given_name": "Ana",
        "family_name": "Silva",
        "date_of_birth": "1975-04-02",
        "sex": "female",
        "notes": "",
        **changes,
    }


def upload(world: World, content: bytes) -> tuple[Call, Call]:
    lesion = world.data["lesion"]
    fields = {"captured_on": TODAY, "modality": "dermoscopic"}
    ui = ("post", f"/lesions/{lesion.pk}/images/new/", {**fields, "files": SimpleUploadedFile("a.jpg", content)})
    api = (
        "post",
        "/api/v1/images/",
        {**fields, "lesion": lesion.pk, "file": SimpleUploadedFile("a.jpg", content)},
    )
    return ui, api


def review_decision(world: World, prediction: Prediction) -> dict:
    # Disagreeing with "other" is a valid decision whatever class the random test model gives.
    return {"prediction": prediction.pk, "diagnosis": "other", "action": "biopsy_excision", "notes": ""}


def ui_review(world: World) -> Call:
    data = {**review_decision(world, world.data["prediction"]), "agrees_with_model": "no"}
    return "post", f"/lesions/{world.data['lesion'].pk}/review/", data


def api_review(world: World) -> Call:
    return "post", "/api/v1/reviews/", {**review_decision(world, world.data["prediction"]), "agrees_with_model": False}


def histopathology_report(diagnosed_on: str) -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    report = {"diagnosis": "MEL", "diagnosed_on": diagnosed_on, "report": "Melanoma in situ."}
    return (
        lambda w: ("post", f"/lesions/{w.data['lesion'].pk}/histopathology/", report),
        lambda w: ("post", "/api/v1/histopathology/", {**report, "lesion": w.data["lesion"].pk}),
    )


LESION = {"label": "Back", "anatomic_site": "posterior torso", "status": "monitoring", "opened_on": TODAY}


def open_lesion() -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return (
        lambda w: ("post", patient_path(w, "lesions/new/"), LESION),
        lambda w: ("post", "/api/v1/lesions/", {**LESION, "patient": w.data["patient"].pk}),
    )


def edit_patient() -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    def ui(w: World) -> Call:
        return "post", patient_path(w, "edit/"), patient_form(identifier=w.data["patient"].identifier, given_name="Bea")

    return ui, lambda w: ("patch", api_patient_path(w), {"given_name": "Bea"})


def review_queue() -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return lambda w: ("get", "/reviews/", {}), lambda w: ("get", "/api/v1/review-queue/", {})


# Effects --------------------------------------------------------------------------------


def patients_named_parity(world: World) -> int:
    return Patient.objects.filter(identifier="PARITY-1").count()


def given_name(world: World) -> str:
    return Patient.objects.get(pk=world.data["patient"].pk).given_name


def care_team(world: World) -> list[str]:
    shares = PatientShare.objects.filter(patient=world.data["patient"]).values_list("clinician_id", flat=True)
    return sorted(world.role_of(user_id) for user_id in shares)


def lesion_labels(world: World) -> list[str]:
    return sorted(Lesion.objects.filter(patient=world.data["patient"]).values_list("label", flat=True))


def images_and_predictions(world: World) -> tuple[int, int]:
    images = LesionImage.objects.filter(lesion=world.data["lesion"])
    return images.count(), Prediction.objects.filter(image__in=images).count()


def reviews(world: World) -> list[tuple[str, str]]:
    decisions = Review.objects.filter(lesion=world.data["lesion"]).values_list("diagnosis", "reviewer_id")
    return [(diagnosis, world.role_of(reviewer_id)) for diagnosis, reviewer_id in decisions]


def histopathology(world: World) -> int:
    return Histopathology.objects.filter(lesion=world.data["lesion"]).count()


def no_effect(world: World) -> None:
    return None


def patient_path(world: World, suffix: str = "") -> str:
    return f"/patients/{world.data['patient'].pk}/{suffix}"


def api_patient_path(world: World, suffix: str = "") -> str:
    return f"/api/v1/patients/{world.data['patient'].pk}/{suffix}"


def heatmap(query: str) -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return (
        lambda w: ("get", f"/predictions/{w.data['prediction'].pk}/heatmap/{query}", {}),
        lambda w: ("get", f"/api/v1/predictions/{w.data['prediction'].pk}/heatmap/{query}", {}),
    )


def outcomes(query: str = "") -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return lambda w: ("get", f"/reviews/outcomes/{query}", {}), lambda w: ("get", f"/api/v1/outcomes/{query}", {})


def rerun() -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return (
        lambda w: ("post", f"/images/{w.data['image'].pk}/predict/", {}),
        lambda w: ("post", f"/api/v1/images/{w.data['image'].pk}/predict/", {}),
    )


def share(who: str) -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    def clinician(w: World) -> int:
        return getattr(w, who).pk if who != "nobody" else 999999

    return (
        lambda w: ("post", patient_path(w, "share/"), {"clinician": clinician(w)}),
        lambda w: ("post", api_patient_path(w, "shares/"), {"clinician": clinician(w)}),
    )


def revoke(who: str) -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return (
        lambda w: ("post", patient_path(w, f"share/{getattr(w, who).pk}/revoke/"), {}),
        lambda w: ("delete", api_patient_path(w, f"shares/{getattr(w, who).pk}/"), {}),
    )


def register_patient(**changes) -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return (
        lambda w: ("post", "/patients/new/", patient_form(**changes)),
        lambda w: ("post", "/api/v1/patients/", patient_form(**changes)),
    )


def upload_of(content: Callable[[], bytes]) -> tuple[Callable[[World], Call], Callable[[World], Call]]:
    return lambda w: upload(w, content())[0], lambda w: upload(w, content())[1]


DONE, REFUSED = "done", "refused"
# fmt: off
CASES = [
    # name, actor, setup, (UI, API), effect, expected
    Case("register a patient", "owner", nothing, *register_patient(), patients_named_parity, DONE),
    Case("register a patient born in the future", "owner", nothing, *register_patient(date_of_birth=FUTURE),
         patients_named_parity, REFUSED),
    Case("care team edits a patient", "care_team", a_patient, *edit_patient(), given_name, DONE),
    Case("reviewer edits another clinician's patient", "reviewer", a_patient, *edit_patient(), given_name, REFUSED),
    Case("other clinician edits a patient", "other", a_patient, *edit_patient(), given_name, REFUSED),
    Case("owner shares a patient", "owner", a_patient, *share("other"), care_team, DONE),
    Case("care team member shares a patient", "care_team", a_patient, *share("other"), care_team, REFUSED),
    Case("owner shares with nobody", "owner", a_patient, *share("nobody"), care_team, REFUSED),
    Case("owner revokes a share", "owner", a_patient, *revoke("care_team"), care_team, DONE),
    Case("owner revokes someone not on the care team", "owner", a_patient, *revoke("other"), care_team, REFUSED),
    Case("care team member revokes a share", "care_team", a_patient, *revoke("care_team"), care_team, REFUSED),
    Case("owner opens a lesion case", "owner", a_patient, *open_lesion(), lesion_labels, DONE),
    Case("reviewer opens a lesion case on another clinician's patient", "reviewer", a_patient, *open_lesion(),
         lesion_labels, REFUSED),
    Case("owner uploads an image", "owner", a_lesion, *upload_of(lambda: jpeg(seed=1)), images_and_predictions, DONE),
    Case("owner uploads a file that is not an image", "owner", a_lesion, *upload_of(lambda: b"not an image"),
         images_and_predictions, REFUSED,
         "the page takes several files and answers 400 with each one's reason; the API's one file, 413/415/400"),
    Case("owner uploads pixels the lesion has already", "owner", an_uploaded_image, *upload_of(lambda: jpeg(seed=3)),
         images_and_predictions, REFUSED),
    Case("reviewer uploads to another clinician's lesion", "reviewer", a_lesion, *upload_of(lambda: jpeg(seed=2)),
         images_and_predictions, REFUSED),
    Case("owner re-runs the analysis", "owner", an_analysed_image, *rerun(), images_and_predictions, DONE),
    Case("reviewer re-runs another clinician's analysis", "reviewer", an_analysed_image, *rerun(),
         images_and_predictions, REFUSED),
    Case("owner re-runs with no active model", "owner", no_active_model, *rerun(), images_and_predictions, REFUSED),
    Case("owner opens a heatmap", "owner", an_analysed_image, *heatmap(""), no_effect, DONE),
    Case("owner opens another class's heatmap", "owner", an_analysed_image, *heatmap("?class=MEL&opacity=0.5"),
         no_effect, DONE),
    Case("owner opens a queued prediction's heatmap", "owner", a_queued_prediction, *heatmap(""), no_effect, REFUSED),
    Case("owner asks for an unknown class's heatmap", "owner", an_analysed_image, *heatmap("?class=SCC"), no_effect,
         REFUSED),
    Case("owner asks for a heatmap at opacity 3", "owner", an_analysed_image, *heatmap("?opacity=3"), no_effect,
         REFUSED),
    Case("other clinician opens a heatmap", "other", an_analysed_image, *heatmap(""), no_effect, REFUSED),
    Case("owner opens a withheld result's heatmap", "owner", a_withheld_result, *heatmap(""), no_effect, REFUSED),
    Case("reviewer opens a withheld result's heatmap", "reviewer", a_withheld_result, *heatmap("?class=MEL"),
         no_effect, REFUSED),
    Case("admin opens a withheld result's heatmap", "admin", a_withheld_result, *heatmap(""), no_effect, DONE),
    Case("reviewer reviews a case", "reviewer", an_analysed_image, ui_review, api_review, reviews, DONE),
    Case("clinician reviews a case", "owner", an_analysed_image, ui_review, api_review, reviews, REFUSED),
    Case("reviewer reviews a result reviewed already", "reviewer", a_reviewed_result, ui_review, api_review, reviews,
         REFUSED),
    Case("owner records histopathology", "owner", a_lesion, *histopathology_report(TODAY), histopathology, DONE),
    Case("owner records histopathology dated in the future", "owner", a_lesion, *histopathology_report(FUTURE),
         histopathology, REFUSED),
    Case("other clinician records histopathology", "other", a_lesion, *histopathology_report(TODAY), histopathology,
         REFUSED, "the page names the lesion in its URL (404); the API in the body, a field error (400)"),
    Case("reviewer opens the queue", "reviewer", an_analysed_image, *review_queue(), no_effect, DONE),
    Case("clinician opens the queue", "owner", an_analysed_image, *review_queue(), no_effect, REFUSED),
    Case("reviewer opens the outcomes", "reviewer", an_analysed_image, *outcomes(), no_effect, DONE),
    Case("reviewer opens the outcomes with no active model", "reviewer", no_active_model, *outcomes(), no_effect,
         DONE),
    Case("reviewer opens the outcomes with no model registered", "reviewer", no_model_at_all, *outcomes(),
         no_effect, REFUSED),
    Case("reviewer opens an unknown model's outcomes", "reviewer", an_analysed_image,
         *outcomes("?model_version=999999"), no_effect, REFUSED),
    Case("reviewer opens the outcomes of model 'latest'", "reviewer", an_analysed_image,
         *outcomes("?model_version=latest"), no_effect, REFUSED),
    Case("clinician opens the outcomes", "owner", an_analysed_image, *outcomes(), no_effect, REFUSED),
]
# fmt: on


@pytest.fixture
def make_world(db, model_version, reviewer, admin_user, django_capture_on_commit_callbacks):
    def make() -> World:
        return World(
            owner=UserFactory(),
            care_team=UserFactory(),
            reviewer=reviewer,
            other=UserFactory(),
            admin=admin_user,
            model_version=model_version,
            capture=django_capture_on_commit_callbacks,
            data={},
        )

    return make


def _ui(world: World, actor, call: Call) -> int:
    method, path, data = call
    client = Client()
    client.force_login(actor)
    return getattr(client, method)(path, data).status_code


def _api(world: World, actor, call: Call) -> int:
    method, path, data = call
    client = APIClient()
    client.force_authenticate(actor)
    if method == "get":
        return client.get(path).status_code
    has_file = any(isinstance(value, SimpleUploadedFile) for value in data.values())
    return getattr(client, method)(path, data, format="multipart" if has_file else "json").status_code


def _outcome(status_code: int) -> str:
    assert status_code < 500, status_code
    return "done" if status_code < 400 else "refused"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_ui_and_the_api_answer_alike(case: Case, make_world):
    answers = {}
    for channel, call in (("ui", _ui), ("api", _api)):
        with transaction.atomic():  # each channel starts from the same database
            world = make_world()
            case.setup(world)
            request = getattr(case, channel)(world)
            status_code = call(world, getattr(world, case.actor), request)
            answers[channel] = (_outcome(status_code), case.effect(world), status_code)
            transaction.set_rollback(True)
    (ui_outcome, ui_effect, ui_status), (api_outcome, api_effect, api_status) = answers["ui"], answers["api"]
    assert (ui_outcome, api_outcome) == (case.expected, case.expected), f"UI {ui_status}, API {api_status}"
    assert ui_effect == api_effect
    if case.expected == "refused":
        assert ui_status >= 400, f"the UI refused with a {ui_status}: a refusal is a 4xx page, not a redirect"
        if not case.status_differs_because:
            assert ui_status == api_status, f"UI {ui_status}, API {api_status}"


def test_every_case_is_distinct_and_both_outcomes_are_covered():
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.expected for case in CASES} == {"done", "refused"}
