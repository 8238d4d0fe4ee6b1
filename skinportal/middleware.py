"""Project middleware."""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from rest_framework.views import APIView

from core.accessnotes import note_probe
from core.limits import ImageWorkBusy


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Django's "every page needs login" rule, except for API views: DRF authenticates those
    itself (token or session, ``IsAuthenticated`` by default) and answers an anonymous client
    with 401 instead of a redirect to the login page. A view class may ask for the redirect
    (the interactive API docs do) with ``login_redirect = True``."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)
        if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
            return super().process_view(request, view_func, view_args, view_kwargs)
        # DRF marks its views login_required = False, so Django's check would pass them all.
        if getattr(view_class, "login_redirect", False) and not request.user.is_authenticated:
            return self.handle_no_permission(request, view_func)
        return None


class PermissionsPolicyMiddleware:
    """No page of SkinPortal uses the camera, microphone, location, payment or USB: say so, so
    that an injected script or a framed page cannot ask for them either."""

    POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.POLICY)
        return response


# The largest id a row can have (a signed 64-bit integer: BigAutoField on PostgreSQL and SQLite).
MAX_ID = 2**63 - 1


def _out_of_range_id(view_kwargs: dict) -> str | None:
    """The first URL argument that is a number no row can have as its id, or None."""
    for name, value in view_kwargs.items():
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.isdigit() and len(value) > 18:
            number = int(value)
        else:
            continue
        if number > MAX_ID:
            return name
    return None


def _api_user(request):
    """The user an API request authenticates as (token or session, as DRF would), or None."""
    from rest_framework.exceptions import APIException
    from rest_framework.request import Request
    from rest_framework.settings import api_settings

    drf_request = Request(request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    try:
        user = drf_request.user
    except APIException:
        return None
    return user if user is not None and user.is_authenticated else None


class OutOfRangeIdMiddleware:
    """An id in a URL past 64 bits (``/api/v1/patients/99999999999999999999999/``) names no
    row: answer 404 (in the API's error shape under /api/) before any view or query sees it,
    instead of the database driver's overflow error, and mark it as a probe for the access log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        name = _out_of_range_id(view_kwargs)
        if name is None:
            return None
        note_probe(request, f"id out of range in the URL ({name})")
        match = request.resolver_match
        if match is not None and "api" in match.namespaces:
            user = _api_user(request)
            if user is None:
                return None  # the view answers 401 before it looks anything up
            request.user = user  # for the access log's row
            return JsonResponse(
                {"type": "client_error", "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}]},
                status=404,
            )
        raise Http404("No such record.")


class NoStoreMiddleware:
    """Pages and API answers carry patient data: no browser or proxy may keep a copy
    (``Cache-Control: no-store``) unless the view set its own caching (files set ``no-store``
    themselves; static files are answered by WhiteNoise before this runs)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response


class ImageWorkBusyMiddleware:
    """A web page whose image work found every slot of the process taken
    (``core.limits.ImageWorkBusy``) answers 503 with Retry-After (the API answers in its own
    error shape)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ImageWorkBusy):
            return HttpResponse(
                str(exception),
                status=503,
                content_type="text/plain",
                headers={"Retry-After": str(exception.retry_after)},
            )
        return None
