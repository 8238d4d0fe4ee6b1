"""Web UI views for accounts: parse the request, call a selector or a service, render."""

from __future__ import annotations

from axes.helpers import get_lockout_message
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .forms import ApiTokenForm
from .models import ApiToken


def _render_api_tokens(
    request: HttpRequest, *, form: ApiTokenForm, new_token: ApiToken | None = None, key: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "accounts/api_tokens.html",
        {
            "form": form,
            "tokens": selectors.api_tokens_of(user=request.user),
            "new_token": new_token,
            "key": key,
            "me_url": request.build_absolute_uri(reverse("api:me")),
        },
        status=status,
    )


@never_cache  # the response to a creation holds the token itself
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, key = services.api_token_create(user=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # Shown in this response only: the token is not stored, only its digest is.
            messages.success(request, f"Token “{token.name}” created.")
            return _render_api_tokens(request, form=ApiTokenForm(), new_token=token, key=key, status=201)
    return _render_api_tokens(request, form=form)


@require_POST
def api_token_revoke(request: HttpRequest, digest: str) -> HttpResponse:
    token = selectors.api_token_get(user=request.user, digest=digest)
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api-tokens")


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' answer to a login of a locked-out username from this address (web and admin
    login; the API answers in its own error shape): the site's page with the reason, 429."""
    return render(
        request,
        "registration/locked_out.html",
        {"message": get_lockout_message()},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
