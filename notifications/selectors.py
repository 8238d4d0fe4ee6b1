"""Reads of the notifications app: a user sees their own notifications only."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User

from .models import Notification


def notifications_for(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    if not user.is_authenticated:
        return Notification.objects.none()
    notifications = Notification.objects.filter(recipient=user)
    if unread_only:
        notifications = notifications.unread()
    return notifications.order_by("-created_at", "-pk")


def notification_get(*, user: User, pk: int) -> Notification:
    """One of the user's notifications; anyone else's is not found (404)."""
    return get_object_or_404(notifications_for(user=user), pk=pk)


def unread_count(*, user: User) -> int:
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user).unread().count()
