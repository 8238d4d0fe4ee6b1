"""Project middleware."""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from rest_framework.views import APIView


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
