"""What every API endpoint shares: pagination, the error handler, the upload errors."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.handler import ExceptionHandler as StandardizedExceptionHandler
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.routers import SimpleRouter
from rest_framework.serializers import as_serializer_error


class IdLookupMixin:
    """Object ids are integers: anything else in their place is not a URL of the API (and so
    gets the API's JSON 404)."""

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        return rf"(?P<{lookup_prefix}{viewset.lookup_url_kwarg or viewset.lookup_field}>[0-9]+)"


class IdRouter(IdLookupMixin, SimpleRouter):
    """The router of each app's API routes."""


class Pagination(PageNumberPagination):
    """``?page=N&page_size=M`` (at most 100 per page)."""

    page_size_query_param = "page_size"
    max_page_size = 100


class ExceptionHandler(StandardizedExceptionHandler):
    """drf-standardized-errors' handler, which also turns the services' Django
    ``ValidationError`` into a 400 with field messages (the same messages the UI shows)."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
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
