"""Password spraying: failed logins are limited per client address across usernames, in every
login channel (web login, admin login, the API's token exchange)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

SPRAYER = "203.0.113.66"
NEIGHBOUR = "203.0.113.67"
PASSWORD = "correct-horse-battery"


def _web_login(username: str, password: str, *, address: str = SPRAYER):
    return Client(REMOTE_ADDR=address).post(reverse("login"), {"username": username, "password": password})


def test_twelve_usernames_in_a_row_from_one_address_end_in_429(settings):
    settings.SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS = 10
    for number in range(12):
        UserFactory(username=f"user{number}")
    answers = [_web_login(f"user{number}", "Winter2026!").status_code for number in range(12)]
    assert answers == [200] * 10 + [429, 429]
    page = _web_login("user0", "Winter2026!")
    assert page.status_code == 429 and "Too many failed logins from your network" in page.content.decode()


def test_a_locked_address_is_refused_even_with_the_right_password_in_every_channel(settings):
    settings.SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS = 3
    UserFactory(username="victim")
    for number in range(3):
        assert _web_login(f"nobody{number}", "guess").status_code == 200
    assert _web_login("victim", PASSWORD).status_code == 429
    assert (
        Client(REMOTE_ADDR=SPRAYER)
        .post(reverse("admin:login"), {"username": "victim", "password": PASSWORD})
        .status_code
        == 429
    )
    token = APIClient(REMOTE_ADDR=SPRAYER).post(
        "/api/v1/auth/token/", {"username": "victim", "password": PASSWORD, "name": "x"}, format="json"
    )
    assert token.status_code == 429 and token.json()["errors"][0]["code"] == "throttled"
    # Another address is not affected.
    assert _web_login("victim", PASSWORD, address=NEIGHBOUR).status_code == 302


def test_api_failures_count_for_the_web_login_too(settings):
    settings.SKINPORTAL_LOGIN_FAILURES_PER_ADDRESS = 3
    UserFactory(username="victim")
    api = APIClient(REMOTE_ADDR=SPRAYER)
    for number in range(3):
        response = api.post(
            "/api/v1/auth/token/", {"username": f"u{number}", "password": "x", "name": "x"}, format="json"
        )
        assert response.status_code == 401
    assert _web_login("victim", PASSWORD).status_code == 429
