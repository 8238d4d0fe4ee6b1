"""Records every view of a patient record, image or heatmap (web UI, REST API, admin, files) in
the access log, after the view has answered. Logins, failed logins and logouts are recorded by
signal receivers (``audit.receivers``), exports by the export views themselves."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from . import selectors, services
from .models import Action, ObjectType


@dataclass(frozen=True)
class LoggedView:
    action: str
    object_type: str
    id_kwarg: str  # the URL keyword argument holding the object's id


# URL name -> what a successful GET of it means. Lists are not logged; their rows are opened
# through these views.
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
    # Admin change pages (they show the record, and the image or heatmap)
    "admin:cases_patient_change": LoggedView(Action.VIEW, ObjectType.PATIENT, "object_id"),
    "admin:cases_lesion_change": LoggedView(Action.VIEW, ObjectType.LESION, "object_id"),
    "admin:cases_lesionimage_change": LoggedView(Action.VIEW, ObjectType.IMAGE, "object_id"),
    "admin:inference_prediction_change": LoggedView(Action.VIEW, ObjectType.PREDICTION, "object_id"),
}
# With S3 storage, files answer 302 to a signed URL: that is the file served.
FILE_ACTIONS = {Action.DOWNLOAD, Action.HEATMAP}
# The API's password-for-token exchange: a created token is logged (a failed one is a failed login).
EXCHANGE_VIEW = "api:token"


def _object_id(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


class AccessLogMiddleware:
    """The last middleware: sees the view's answer and the user it ran for (for API requests
    that is DRF's user, token or session: DRF sets it on the Django request too).

    A GET of a view in ``LOGGED_VIEWS`` by a logged-in user adds a row: its action when it
    succeeded (2xx, or a file's 302), ``denied`` when it answered 403 or 404 (someone tried to
    open a record outside their access). Anonymous requests (redirected to the login page, or
    401) and other answers (400, 405, 409, 5xx) show nothing and are not logged. If the row
    cannot be written the request fails: nothing is shown that the log does not hold."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        if match is None:
            return response
        if request.method == "GET" and match.view_name in LOGGED_VIEWS:
            self._record_view(request, response, LOGGED_VIEWS[match.view_name], match.kwargs)
        elif match.view_name == EXCHANGE_VIEW and request.method == "POST" and response.status_code == 201:
            self._record_token_created(request, response)
        return response

    def _record_view(self, request: HttpRequest, response: HttpResponse, view: LoggedView, kwargs: dict) -> None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return
        status = response.status_code
        if 200 <= status < 300 or (status == 302 and view.action in FILE_ACTIONS):
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
