"""Reads for the access log: who and where a request comes from, which patient an object belongs
to, the log itself and its CSV rows."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest
from knox.crypto import hash_token

from accounts.models import ApiToken
from cases.models import Lesion, LesionImage
from inference.models import Prediction

from .models import AccessLog, AccessLogQuerySet, Action, Channel, ObjectType

# The CSV export's columns, in order (documented in the README).
CSV_COLUMNS = [
    "id",
    "created_at",
    "user_id",
    "username",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "patient_ids",
    "channel",
    "method",
    "path",
    "status_code",
    "ip",
    "user_agent",
    "detail",
]
# A spreadsheet runs a cell that starts with one of these as a formula; failed-login usernames
# and user agents are typed by anyone, so such cells are prefixed with an apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def client_ip(*, request: HttpRequest) -> str | None:
    """The client's address: the socket's (``REMOTE_ADDR``), or behind N trusted proxies
    (``REST_FRAMEWORK["NUM_PROXIES"]``, from ``API_NUM_PROXIES``) the address N hops from the
    end of ``X-Forwarded-For``, as the API's throttles read it. With 0 proxies the header is
    ignored, so a client cannot choose its own address. None if it is not an IP address."""
    address = request.META.get("REMOTE_ADDR", "")
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies > 0 and forwarded_for:
        hops = forwarded_for.split(",")
        address = hops[-min(num_proxies, len(hops))].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def request_channel(*, request: HttpRequest) -> str:
    """Which door the request came through: the REST API, the admin or the web UI."""
    match = getattr(request, "resolver_match", None)
    namespaces = match.namespaces if match is not None else []
    if "api" in namespaces:
        return Channel.API
    if "admin" in namespaces:
        return Channel.ADMIN
    return Channel.WEB


def patient_id_for(*, object_type: str, object_id: int) -> int | None:
    """The patient an object belongs to (one query; none for a patient), or None if there is
    no such object."""
    if object_type == ObjectType.PATIENT:
        return object_id
    rows = {
        ObjectType.LESION: Lesion.objects.filter(pk=object_id).values_list("patient_id", flat=True),
        ObjectType.IMAGE: LesionImage.objects.filter(pk=object_id).values_list("lesion__patient_id", flat=True),
        ObjectType.PREDICTION: Prediction.objects.filter(pk=object_id).values_list(
            "image__lesion__patient_id", flat=True
        ),
    }
    if object_type not in rows:
        return None
    return rows[object_type].first()


def api_token_get(*, token: str) -> ApiToken | None:
    """The stored row of a token (found by its digest, as knox does), with its user."""
    return ApiToken.objects.select_related("user").filter(digest=hash_token(token)).first()


def access_log_list() -> AccessLogQuerySet:
    return AccessLog.objects.select_related("user").order_by("-created_at", "-pk")


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def access_log_csv_rows(*, queryset: AccessLogQuerySet) -> Iterator[list[str]]:
    """The header, then one row per entry of ``queryset`` in its order, read in chunks."""
    yield CSV_COLUMNS
    for values in queryset.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
        yield [_csv_cell(value) for value in values]


def failed_logins_from(*, ip: str, since) -> int:
    """How many logins failed from one client address since ``since``, whatever the username."""
    return AccessLog.objects.filter(action=Action.LOGIN_FAILED, ip=ip, created_at__gte=since).count()
