"""The REST API under /api/v1/ and its schema and interactive docs under /api/."""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path, re_path
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from accounts.api import ClinicianViewSet, MeView, TokenView
from cases.api import ImageViewSet, LesionViewSet, PatientViewSet
from core.api import IdLookupMixin
from inference.api import ModelVersionViewSet, PredictionViewSet


class IdRootRouter(IdLookupMixin, DefaultRouter):
    """The routes of the core resources, with the API root view."""


router = IdRootRouter()
router.register("patients", PatientViewSet, basename="patient")
router.register("lesions", LesionViewSet, basename="lesion")
router.register("images", ImageViewSet, basename="image")
router.register("predictions", PredictionViewSet, basename="prediction")
router.register("model-versions", ModelVersionViewSet, basename="model-version")
router.register("clinicians", ClinicianViewSet, basename="clinician")


# The docs pages style themselves inline and ReDoc searches in a blob: worker; every script is a
# file (the split view serves Swagger UI's start script at ?script).
DOCS_CSP = {"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}


@method_decorator(csp_update(DOCS_CSP), name="dispatch")
class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI (assets served locally by drf-spectacular-sidecar). A browser without a
    session is sent to the login page; the page then reads the schema with the session."""

    login_redirect = True
    permission_classes = [AllowAny]


@method_decorator(csp_update(DOCS_CSP), name="dispatch")
class RedocView(SpectacularRedocView):
    login_redirect = True
    permission_classes = [AllowAny]


class NotFoundView(APIView):
    """Any other URL under /api/: a 404 in the API's error shape (after authentication), not
    the web UI's HTML page."""

    schema = None

    def dispatch_not_found(self, request, *args, **kwargs):
        raise exceptions.NotFound()

    get = post = put = patch = delete = dispatch_not_found


api_v1 = [
    path("me/", MeView.as_view(), name="me"),
    path("auth/token/", TokenView.as_view(), name="token"),
    *router.urls,
    path("", include("reviews.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("audit.api_urls")),
    path("", include("interop.api_urls")),
]

urlpatterns = [
    path("v1/", include((api_v1, "api"), namespace="api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"", NotFoundView.as_view(), name="api-not-found"),  # matches any remaining path
]
