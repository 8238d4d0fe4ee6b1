"""Records every read of patient data in the access log, after the view has answered: a record,
image or heatmap (web UI, REST API, admin, files), a record's change history, and every list or
search (one row per request, with the patients it returned). Denied attempts are recorded too:
reads and writes answered 403 or 404, references to records outside the user's access refused in
an API body, and malformed requests refused with 4xx (probes). Logins, failed logins and logouts
are recorded by signal receivers (``audit.receivers``), exports by the export views themselves."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from core.accessnotes import login_address_locked, patients_shown, probe_reason

from . import selectors, services
from .models import Action, Channel, ObjectType


@dataclass(frozen=True)
class LoggedView:
    action: str
    object_type: str
    id_kwarg: str  # the URL keyword argument holding the object's id


# URL name -> what a successful GET of it means.
LOGGED_VIEWS: dict[str, LoggedView] = {
    # Web UI (cases/urls.py, inference/urls.py)
    "cases:patient-detail": LoggedView(Action.VIEW, ObjectType.PATIENT, "pk"),
    "cases:lesion-detail": LoggedView(Action.VIEW, ObjectType.LESION, "pk"),
    "cases:image-detail": LoggedView(Action.VIEW, ObjectType.IMAGE, "pk"),
    "cases:lesion-compare": LoggedView(Action.VIEW, ObjectType.LESION, "pk"),
    "cases:lesion-compare-overlay": LoggedView(Action.DOWNLOAD, ObjectType.LESION, "pk"),
    "cases:image-file": LoggedView(Action.DOWNLOAD, ObjectType.IMAGE, "pk"),
    "cases:image-thumbnail": LoggedView(Action.DOWNLOAD, ObjectType.IMAGE, "pk"),
    "inference:image-analysis": LoggedView(Action.VIEW, ObjectType.IMAGE, "image_pk"),
    "inference:prediction-heatmap": LoggedView(Action.HEATMAP, ObjectType.PREDICTION, "pk"),
    # REST API (skinportal/api_urls.py: the router's names in the "api" namespace)
    "api:patient-detail": LoggedView(Action.VIEW, ObjectType.PATIENT, "pk"),
    "api:lesion-detail": LoggedView(Action.VIEW, ObjectType.LESION, "pk"),
    "api:lesion-comparison": LoggedView(Action.VIEW, ObjectType.LESION, "pk"),
    "api:lesion-comparison-overlay": LoggedView(Action.DOWNLOAD, ObjectType.LESION, "pk"),
    "api:lesion-comparisons": LoggedView(Action.VIEW, ObjectType.LESION, "pk"),
    "api:lesion-trend": LoggedView(Action.VIEW, ObjectType.LESION, "pk"),
    "api:image-detail": LoggedView(Action.VIEW, ObjectType.IMAGE, "pk"),
    "api:image-measurements": LoggedView(Action.VIEW, ObjectType.IMAGE, "pk"),
    "api:image-file": LoggedView(Action.DOWNLOAD, ObjectType.IMAGE, "pk"),
    "api:image-thumbnail": LoggedView(Action.DOWNLOAD, ObjectType.IMAGE, "pk"),
    "api:prediction-detail": LoggedView(Action.VIEW, ObjectType.PREDICTION, "pk"),
    "api:prediction-heatmap": LoggedView(Action.HEATMAP, ObjectType.PREDICTION, "pk"),
    # Exports (interop/urls.py, interop/api_urls.py): a PDF report, a FHIR bundle, DICOM files
    "interop:patient-report": LoggedView(Action.EXPORT, ObjectType.PATIENT, "pk"),
    "interop:lesion-report": LoggedView(Action.EXPORT, ObjectType.LESION, "pk"),
    "interop:visit-dicom": LoggedView(Action.EXPORT, ObjectType.LESION, "pk"),
    "interop:image-dicom": LoggedView(Action.EXPORT, ObjectType.IMAGE, "pk"),
    "api:patient-report": LoggedView(Action.EXPORT, ObjectType.PATIENT, "pk"),
    "api:patient-fhir": LoggedView(Action.EXPORT, ObjectType.PATIENT, "pk"),
    "api:lesion-report": LoggedView(Action.EXPORT, ObjectType.LESION, "pk"),
    "api:lesion-dicom": LoggedView(Action.EXPORT, ObjectType.LESION, "pk"),
    "api:image-dicom": LoggedView(Action.EXPORT, ObjectType.IMAGE, "pk"),
    # Change histories (who changed what in the record and everything that belongs to it)
    "api:patient-history": LoggedView(Action.VIEW, ObjectType.PATIENT, "pk"),
    "api:lesion-history": LoggedView(Action.VIEW, ObjectType.LESION, "pk"),
    # Admin change pages (they show the record, and the image or heatmap)
    "admin:cases_patient_change": LoggedView(Action.VIEW, ObjectType.PATIENT, "object_id"),
    "admin:cases_lesion_change": LoggedView(Action.VIEW, ObjectType.LESION, "object_id"),
    "admin:cases_lesionimage_change": LoggedView(Action.VIEW, ObjectType.IMAGE, "object_id"),
    "admin:inference_prediction_change": LoggedView(Action.VIEW, ObjectType.PREDICTION, "object_id"),
}
# URL name -> the kind of object a list or search returns (blank: of several kinds). The view
# notes the patients of what it returned (``core.accessnotes``): one row per request holds them all.
LISTED_VIEWS: dict[str, str] = {
    "cases:dashboard": ObjectType.PATIENT,
    "cases:patient-list": ObjectType.PATIENT,
    "reviews:queue": ObjectType.LESION,
    "api:patient-list": ObjectType.PATIENT,
    "api:lesion-list": ObjectType.LESION,
    "api:image-list": ObjectType.IMAGE,
    "api:prediction-list": ObjectType.PREDICTION,
    "api:review-list": "",
    "api:review-queue-list": ObjectType.LESION,
    "api:histopathology-list": "",
}
# The URL keyword arguments that name an object, for denied writes (``pk`` by the view's name).
TARGET_KWARGS = {
    "patient_pk": ObjectType.PATIENT,
    "lesion_pk": ObjectType.LESION,
    "image_pk": ObjectType.IMAGE,
    "prediction_pk": ObjectType.PREDICTION,
}
TARGET_NAMES = {
    "patient": ObjectType.PATIENT,
    "lesion": ObjectType.LESION,
    "image": ObjectType.IMAGE,
    "prediction": ObjectType.PREDICTION,
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# An API body's reference that the serializer refused: an object that does not exist for this user.
REFUSED_REFERENCE_CODES = {"does_not_exist", "incorrect_type"}
# With S3 storage, files answer 302 to a signed URL: that is the file served.
FILE_ACTIONS = {Action.DOWNLOAD, Action.HEATMAP}
# Clinical findings recorded on a record (also kept, with every field, in its change history):
# URL name -> what a successful POST of it means.
RECORDED_WRITES: dict[str, LoggedView] = {
    "cases:lesion-assess-change": LoggedView(Action.RECORDED, ObjectType.LESION, "pk"),
    "api:lesion-comparisons": LoggedView(Action.RECORDED, ObjectType.LESION, "pk"),
}
# The API's password-for-token exchange: a created token is logged (a failed one is a failed login).
EXCHANGE_VIEW = "api:token"


MAX_ID = 2**63 - 1


def _object_id(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def _target(view_name: str, kwargs: dict) -> tuple[str, int | None]:
    """The object a request to a URL acts on: (object type, id), or ("", None)."""
    for kwarg, object_type in TARGET_KWARGS.items():
        if kwarg in kwargs:
            return object_type, _object_id(kwargs[kwarg])
    if "pk" in kwargs:
        resource = view_name.split(":")[-1].split("-")[0]
        if resource in TARGET_NAMES:
            return TARGET_NAMES[resource], _object_id(kwargs["pk"])
    return "", None


def _refused_references(response: HttpResponse) -> list[str]:
    """``field: message`` of each reference to another object that an API body gave and the
    serializer refused (it does not exist, or not for this user)."""
    data = getattr(response, "data", None)
    if response.status_code != 400 or not isinstance(data, dict):
        return []
    return [
        f"{error.get('attr')}: {error.get('detail')}"
        for error in data.get("errors") or []
        if isinstance(error, dict) and error.get("code") in REFUSED_REFERENCE_CODES
    ]


class AccessLogMiddleware:
    """The last middleware: sees the view's answer and the user it ran for (for API requests
    that is DRF's user, token or session: DRF sets it on the Django request too).

    A GET of a view in ``LOGGED_VIEWS`` by a logged-in user adds a row: its action when it
    succeeded (2xx, or a file's 302), ``denied`` when it answered 403 or 404 (someone tried to
    open a record outside their access). A successful GET of a view in ``LISTED_VIEWS`` adds one
    ``view`` row with every patient it returned (``patient_ids``). A write (POST, PUT, PATCH,
    DELETE) by a logged-in user answered 403 or 404, or answered 400 because its body referred
    to an object outside their access, adds a ``denied`` row. A malformed request refused with
    4xx (a successful POST of a view in ``RECORDED_WRITES``, a clinical finding, adds a
    ``recorded`` row) (``core.accessnotes.note_probe``: a body too large or too deep, too many parts, an id
    past 64 bits) adds a ``denied`` row saying what it was, whoever sent it. Anonymous requests
    otherwise (redirected to the login page, or 401) and other answers (405, 409, 5xx) show
    nothing and are not logged. If the row cannot be written the request fails: nothing is
    shown that the log does not hold."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        probe = probe_reason(request)
        if probe is not None and 400 <= response.status_code < 500:
            self._record_probe(request, response, probe)
            return response
        if match is None:
            return response
        if request.method == "GET" and match.view_name in LOGGED_VIEWS:
            self._record_view(request, response, LOGGED_VIEWS[match.view_name], match.kwargs)
        elif request.method == "GET" and match.view_name in LISTED_VIEWS:
            self._record_list(request, response, LISTED_VIEWS[match.view_name])
        elif match.view_name == EXCHANGE_VIEW and request.method == "POST" and response.status_code == 201:
            self._record_token_created(request, response)
        elif request.method == "POST" and match.view_name in RECORDED_WRITES and response.status_code in (201, 302):
            self._record_view(request, response, RECORDED_WRITES[match.view_name], match.kwargs)
        elif request.method not in SAFE_METHODS:
            self._record_denied_write(request, response, match.view_name, match.kwargs)
        return response

    @staticmethod
    def _user(request: HttpRequest):
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated else None

    def _record_list(self, request: HttpRequest, response: HttpResponse, object_type: str) -> None:
        user = self._user(request)
        shown = patients_shown(request)
        if user is None or shown is None or not 200 <= response.status_code < 300:
            return
        services.access_log_record(
            action=Action.VIEW,
            request=request,
            user=user,
            object_type=object_type,
            patient_ids=sorted(shown),
            status_code=response.status_code,
            detail=f"list: {len(shown)} patient{'s' if len(shown) != 1 else ''}",
        )

    def _record_denied_write(self, request: HttpRequest, response: HttpResponse, view_name: str, kwargs) -> None:
        user = self._user(request)
        if user is None:
            return
        if response.status_code in (403, 404):
            detail = f"{request.method} refused ({view_name})"
        else:
            references = _refused_references(response)
            if not references:
                return
            detail = "refused reference: " + "; ".join(references)
        object_type, object_id = _target(view_name, kwargs)
        services.access_log_record(
            action=Action.DENIED,
            request=request,
            user=user,
            object_type=object_type,
            object_id=object_id,
            patient_id=selectors.patient_id_for(object_type=object_type, object_id=object_id)
            if object_id is not None
            else None,
            status_code=response.status_code,
            detail=detail,
        )

    def _record_probe(self, request: HttpRequest, response: HttpResponse, reason: str) -> None:
        services.access_log_record(
            action=Action.DENIED,
            request=request,
            user=self._user(request),
            status_code=response.status_code,
            detail=f"malformed request: {reason}",
        )

    def _record_view(self, request: HttpRequest, response: HttpResponse, view: LoggedView, kwargs: dict) -> None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return
        status = response.status_code
        # A file's 302 is the file served (signed S3 URL); a recorded finding's 302 is the web
        # form's redirect after saving it.
        if 200 <= status < 300 or (status == 302 and view.action in {*FILE_ACTIONS, Action.RECORDED}):
            action = view.action
        elif status in (403, 404):
            action = Action.DENIED
        else:
            return
        object_id = _object_id(kwargs.get(view.id_kwarg))
        if object_id is None:
            return
        services.access_log_record(
            action=action,
            request=request,
            user=user,
            object_type=view.object_type,
            object_id=object_id,
            patient_id=selectors.patient_id_for(object_type=view.object_type, object_id=object_id),
            status_code=status,
        )

    def _record_token_created(self, request: HttpRequest, response: HttpResponse) -> None:
        data = getattr(response, "data", None)
        token = selectors.api_token_get(token=data["token"]) if isinstance(data, dict) and data.get("token") else None
        services.access_log_record(
            action=Action.TOKEN_CREATED,
            request=request,
            user=token.user if token else None,
            object_type=ObjectType.API_TOKEN,
            status_code=response.status_code,
            detail=f"{token.token_key}… ({token.name})" if token else "",
        )


class LoginAddressLimitMiddleware:
    """A web or admin login refused by ``audit.backends.LoginAddressLimitBackend`` (too many
    failed logins from the client's address) answers the site's "log in blocked" page with 429,
    as django-axes does for one username (the API answers in its own error shape)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if login_address_locked(request) and selectors.request_channel(request=request) != Channel.API:
            from django.conf import settings
            from django.shortcuts import render

            from .backends import address_lockout_message

            return render(
                request,
                "registration/locked_out.html",
                {"message": address_lockout_message()},
                status=settings.AXES_HTTP_RESPONSE_CODE,
            )
        return response
