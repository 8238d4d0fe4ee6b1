"""What every API endpoint shares: pagination, the error handler, the upload errors."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.handler import ExceptionHandler as StandardizedExceptionHandler
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.routers import SimpleRouter
from rest_framework.serializers import as_serializer_error

from .accessnotes import note_listed, note_probe
from .limits import ImageWorkBusy


class IdLookupMixin:
    """Object ids are integers: anything else in their place is not a URL of the API (and so
    gets the API's JSON 404)."""

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        return rf"(?P<{lookup_prefix}{viewset.lookup_url_kwarg or viewset.lookup_field}>[0-9]+)"


class IdRouter(IdLookupMixin, SimpleRouter):
    """The router of each app's API routes."""


class PatientsShownMixin:
    """For list views of patient data: the access log learns which patients each page returned.
    ``patient_field`` is the lookup from the listed model to its patient's id."""

    patient_field = "patient_id"

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if getattr(self, "action", None) == "list":
            objects = page if page is not None else queryset
            note_listed(self.request, objects=objects, patient_field=self.patient_field)
        return page


class Pagination(PageNumberPagination):
    """``?page=N&page_size=M`` (at most 100 per page)."""

    page_size_query_param = "page_size"
    max_page_size = 100


class ServiceBusy(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The server is busy; try again in a few seconds."
    default_code = "service_busy"
    wait = ImageWorkBusy.retry_after  # sent as Retry-After


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the limit."
    default_code = "payload_too_large"


# Django's refusals of a malformed request body (raised while DRF reads it), as API errors.
_REQUEST_REFUSALS: list[tuple[type[Exception], type[exceptions.APIException], str]] = [
    (RequestDataTooBig, PayloadTooLarge, "The request body is larger than the limit."),
    (TooManyFilesSent, PayloadTooLarge, "The request has too many file parts."),
    (TooManyFieldsSent, PayloadTooLarge, "The request has too many fields."),
]


class ExceptionHandler(StandardizedExceptionHandler):
    """drf-standardized-errors' handler, which also turns the services' Django
    ``ValidationError`` into a 400 with field messages (the same messages the UI shows), and
    Django's refusals of a malformed body (too large, too many parts: ``SuspiciousOperation``)
    into 413 or 400 instead of a 500; those and unparsable JSON are marked as probes for the
    access log."""

    def report_exception(self, exc, response) -> None:
        if isinstance(exc, ServiceBusy):
            return  # a busy process is not a server error to report
        super().report_exception(exc, response)

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        request = self.context.get("request")
        for refusal, api_exception, message in _REQUEST_REFUSALS:
            if isinstance(exc, refusal):
                if request is not None:
                    note_probe(request, message)
                return api_exception(message)
        if isinstance(exc, SuspiciousOperation):
            if request is not None:
                note_probe(request, f"{type(exc).__name__}: {exc}")
            return exceptions.ParseError("The request is malformed.")
        if isinstance(exc, exceptions.ParseError) and request is not None:
            note_probe(request, str(exc.detail))
        if isinstance(exc, ImageWorkBusy):
            return ServiceBusy(str(exc))
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(detail=as_serializer_error(exc))
        if isinstance(exc, DjangoPermissionDenied) and str(exc):
            return exceptions.PermissionDenied(detail=str(exc))  # the service's reason, not a generic one
        return super().convert_known_exceptions(exc)


class FileTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is larger than the upload limit."
    default_code = "file_too_large"


class UnsupportedImageType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "The file is not a JPEG, PNG or HEIC image."
    default_code = "unsupported_image_type"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class _ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ClientErrorResponseSerializer(serializers.Serializer):
    """The error shape, for the statuses drf-standardized-errors does not document itself."""

    type = serializers.ChoiceField(choices=["client_error"])
    errors = _ErrorSerializer(many=True)


class IgnoreAcceptHeader(DefaultContentNegotiation):
    """For file downloads: the body is the file whatever the client accepts (``Accept:
    image/jpeg`` must not be a 406); errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ClientErrorResponseSerializer, description=description)
