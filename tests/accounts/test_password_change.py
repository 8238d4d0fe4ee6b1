"""A changed password ends every API token of the user (and the page says so)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import api_token_create

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

OLD = "correct-horse-battery"
NEW = "a-new-long-passphrase-42"


def _token_works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/me/").status_code == 200


def test_changing_the_password_on_the_page_revokes_every_api_token(client):
    user = UserFactory(username="pia")
    other = UserFactory(username="quinn")
    _, key = api_token_create(user=user, name="EHR", lifetime_days=30)
    _, other_key = api_token_create(user=other, name="EHR", lifetime_days=30)
    assert _token_works(key)
    client.force_login(user)
    form = client.get(reverse("password_change"))
    assert "revokes all your API tokens" in form.content.decode()
    response = client.post(
        reverse("password_change"), {"old_password": OLD, "new_password1": NEW, "new_password2": NEW}, follow=True
    )
    assert response.status_code == 200
    assert "all your API tokens were revoked" in response.content.decode()
    assert not _token_works(key)
    assert not ApiToken.objects.filter(user=user).exists()
    assert _token_works(other_key)  # another user's tokens are untouched


def test_a_password_set_anywhere_revokes_the_tokens(db):
    user = UserFactory()
    _, key = api_token_create(user=user, name="script", lifetime_days=30)
    user.set_password(NEW)
    user.save()
    assert not _token_works(key)


def test_saving_a_user_without_a_new_password_keeps_the_tokens(db):
    user = UserFactory()
    _, key = api_token_create(user=user, name="script", lifetime_days=30)
    user.first_name = "Renamed"
    user.save()
    user.refresh_from_db()
    assert user.check_password(OLD)  # a login's check (and any hash upgrade) keeps them too
    assert _token_works(key)
