"""Web UI views of notifications: parse the request, call a selector or a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services

NOTIFICATIONS_PER_PAGE = 25


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.notifications_for(user=request.user), NOTIFICATIONS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    has_unread = selectors.notifications_for(user=request.user, unread_only=True).exists()
    return render(request, "notifications/notification_list.html", {"page": page, "has_unread": has_unread})


@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the notification read and go to its page."""
    notification = selectors.notification_get(user=request.user, pk=pk)
    services.notification_mark_read(notification=notification, user=request.user)
    if not url_has_allowed_host_and_scheme(notification.url, allowed_hosts={request.get_host()}):
        return redirect("notifications:list")  # pragma: no cover - the database refuses such links
    return redirect(notification.url)


@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = services.notification_mark_all_read(user=request.user)
    if count:
        messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return redirect("notifications:list")
