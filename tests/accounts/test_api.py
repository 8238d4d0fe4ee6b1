"""The current user, personal tokens and the clinician list over the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import REVIEWER_GROUP, ApiToken

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def test_me_lists_the_roles(clinician, admin_user, api_client_for):
    body = api_client_for(clinician).get("/api/v1/me/").json()
    assert body["username"] == clinician.username and body["roles"] == ["clinician"]
    assert body["is_admin"] is False and body["is_reviewer"] is False
    from django.contrib.auth.models import Group

    clinician.groups.add(Group.objects.get_or_create(name=REVIEWER_GROUP)[0])
    assert api_client_for(clinician).get("/api/v1/me/").json()["roles"] == ["clinician", "reviewer"]
    assert api_client_for(admin_user).get("/api/v1/me/").json()["roles"] == ["clinician", "reviewer", "admin"]


def test_without_credentials_every_endpoint_answers_401(db):
    client = APIClient()
    assert client.get("/api/schema/").status_code == 401
    for url in ("/api/v1/me/", "/api/v1/patients/", "/api/v1/predictions/", "/api/v1/images/1/file/"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == "Token"
        assert response.json() == {
            "type": "client_error",
            "errors": [
                {"code": "not_authenticated", "detail": "Authentication credentials were not provided.", "attr": None}
            ],
        }


def test_a_password_buys_a_token_that_authenticates_until_revoked(clinician):
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": clinician.username, "password": "correct-horse-battery", "name": "research script"},
        format="json",
    )
    assert response.status_code == 201
    token = response.json()["token"]
    assert token.startswith("sp_") and response.json()["name"] == "research script"
    stored = ApiToken.objects.get(user=clinician)
    assert token not in {stored.digest, stored.token_key} and stored.name == "research script"

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").json()["username"] == clinician.username
    assert client.delete("/api/v1/auth/token/").status_code == 204
    assert not ApiToken.objects.exists()
    assert client.get("/api/v1/me/").status_code == 401


def test_wrong_password_or_token_is_401(clinician):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": clinician.username, "password": "nope"}, format="json")
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "authentication_failed"
    assert not ApiToken.objects.exists()
    client.credentials(HTTP_AUTHORIZATION="Token sp_0123456789abcdef0123456789")
    assert client.get("/api/v1/me/").status_code == 401


def test_an_expired_token_or_inactive_user_is_refused(clinician):
    from datetime import timedelta

    from django.utils import timezone

    row, token = ApiToken.objects.create(user=clinician, expiry=timedelta(days=1), name="t")
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    # Using another token does not sweep the expired one away (that cost a query per request);
    # it stays listed, flagged as expired, in the admin ...
    _, other = ApiToken.objects.create(user=clinician, expiry=timedelta(days=1), name="other")
    assert APIClient(HTTP_AUTHORIZATION=f"Token {other}").get("/api/v1/me/").status_code == 200
    assert ApiToken.objects.filter(pk=row.pk).exists()
    # ... until it is presented: refused, and deleted.
    assert client.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(pk=row.pk).exists()
    _, token = ApiToken.objects.create(user=clinician, expiry=timedelta(days=1), name="t2")
    clinician.is_active = False
    clinician.save()
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/").status_code == 401


def test_token_requests_are_throttled(clinician, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "token", "3/minute")
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/token/", {"username": clinician.username, "password": "guess"}, format="json"
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    response = client.post(
        "/api/v1/auth/token/", {"username": clinician.username, "password": "correct-horse-battery"}, format="json"
    )
    assert response.status_code == 429 and response.json()["errors"][0]["code"] == "throttled"
    assert "Retry-After" in response


def test_clinicians_list_active_users_for_sharing(clinician, api_client_for):
    UserFactory(username="zed")
    UserFactory(username="gone", is_active=False)
    names = [
        u["username"] for u in api_client_for(clinician).get("/api/v1/clinicians/?page_size=100").json()["results"]
    ]
    assert "zed" in names and clinician.username in names and "gone" not in names
    found = api_client_for(clinician).get("/api/v1/clinicians/?search=zed").json()["results"]
    assert [u["username"] for u in found] == ["zed"]
