"""API endpoints for the current user, tokens and the list of clinicians (for sharing)."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.accessnotes import login_address_locked
from core.api import error_response

from . import selectors, services
from .authentication import TokenAuthentication
from .models import ApiToken
from .serializers import MeSerializer, TokenRequestSerializer, TokenSerializer, UserSummarySerializer


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The current user and their roles", tags=["accounts"])
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class TokenView(APIView):
    """Trade a username and password for a personal API token (``POST``), or revoke the token
    the request is made with (``DELETE``). Tokens can also be created and revoked on the web
    UI's API tokens page and in the admin."""

    throttle_scope = "token"
    # POST authenticates with the password in the body; DELETE with the token it revokes.
    authentication_classes = [TokenAuthentication]

    def get_permissions(self):
        return super().get_permissions() if self.request.method == "DELETE" else [AllowAny()]

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenSerializer,
            401: error_response("Wrong username or password, or inactive account."),
            429: error_response("Too many requests, or too many failed passwords for this user from here."),
        },
        auth=[],
        summary="Create a personal API token",
        tags=["accounts"],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            if login_address_locked(request):  # too many failed logins from this address (any username)
                raise exceptions.Throttled(
                    wait=settings.SKINPORTAL_LOGIN_ADDRESS_WINDOW_MINUTES * 60,
                    detail="Too many failed logins from your network; try again later.",
                )
            # django-axes flags this (DRF) request when the username+address is locked out; its
            # middleware sees only the Django request, so the API answers in its own error shape.
            if getattr(request, "axes_locked_out", False):
                cool_off = get_cool_off(request)
                raise exceptions.Throttled(
                    wait=cool_off.total_seconds() if cool_off else None,
                    detail=settings.AXES_COOLOFF_MESSAGE if cool_off else settings.AXES_PERMALOCK_MESSAGE,
                )
            raise exceptions.AuthenticationFailed("Unable to log in with the given username and password.")
        # A successful exchange clears this username+address's failures, as a web login does.
        AxesProxyHandler.user_logged_in(sender=type(self), request=request, user=user)
        token, key = services.api_token_create(user=user, name=data["name"], lifetime_days=data["lifetime_days"])
        return Response(
            TokenSerializer({"token": key, "name": token.name, "expiry": token.expiry}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={204: None}, summary="Revoke the token of this request", tags=["accounts"])
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):  # pragma: no cover - TokenAuthentication only
            raise exceptions.NotAuthenticated()
        services.api_token_revoke(token=request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(list=extend_schema(summary="List active clinicians (to share a patient with)", tags=["accounts"]))
class ClinicianViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Active clinicians, to choose whom to share a patient with."""

    serializer_class = UserSummarySerializer
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["username", "first_name", "last_name"]
    ordering_fields = ["username", "last_name"]

    def get_queryset(self):
        return selectors.active_clinicians()
