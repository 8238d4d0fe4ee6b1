"""Personal API tokens on the web UI's API tokens page and in the admin."""

from __future__ import annotations

import datetime
import re

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.crypto import hash_token

from accounts import services
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

ME_URL = "/api/v1/me/"
TOKEN_PATTERN = re.compile(r"sp_[0-9a-f]{16,}")


def api_me(token: str):
    return Client().get(ME_URL, HTTP_AUTHORIZATION=f"Token {token}")


def database_contains(text: str) -> bool:
    """Whether any column of any row of any table (sessions and admin log included) holds ``text``."""
    return any(
        text in str(value)
        for model in apps.get_models(include_auto_created=True)
        for row in model._default_manager.values_list()
        for value in row
    )


def test_a_created_token_is_shown_once_stored_as_a_digest_and_works(clinician_client, clinician):
    response = clinician_client.post(reverse("api-tokens"), {"name": "EHR integration", "lifetime_days": "90"})

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    key = response.context["key"]
    content = response.content.decode()
    assert TOKEN_PATTERN.fullmatch(key)
    assert content.count(key) == 1
    assert "it will not be shown again" in content
    assert "Authorization: Token" in content and 'href="/api/docs/"' in content

    token = ApiToken.objects.get()
    assert (token.user, token.name) == (clinician, "EHR integration")
    assert token.digest == hash_token(key) and key.startswith(token.token_key)
    assert abs(token.expiry - timezone.now() - datetime.timedelta(days=90)) < datetime.timedelta(minutes=1)
    assert not database_contains(key)

    me = api_me(key)
    assert me.status_code == 200
    assert me.json()["username"] == "dana"


def test_the_list_shows_own_unexpired_tokens_by_prefix_only(clinician_client, clinician, other_clinician):
    token, key = services.api_token_create(user=clinician, name="research export", lifetime_days=30)
    expired, _ = services.api_token_create(user=clinician, name="old script", lifetime_days=30)
    ApiToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - datetime.timedelta(days=1))
    services.api_token_create(user=other_clinician, name="olga's laptop", lifetime_days=30)

    response = clinician_client.get(reverse("api-tokens"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "research export" in content and f"{token.token_key}…" in content
    assert key not in content and not TOKEN_PATTERN.search(content)
    assert "old script" not in content and "olga" not in content
    assert reverse("api-token-revoke", args=[token.digest]) in content
    assert response.context["key"] == ""


def test_revoking_a_token_deletes_it_and_it_stops_working(clinician_client, clinician):
    token, key = services.api_token_create(user=clinician, name="research export", lifetime_days=30)
    assert api_me(key).status_code == 200

    response = clinician_client.post(reverse("api-token-revoke", args=[token.digest]), follow=True)

    assert response.redirect_chain == [(reverse("api-tokens"), 302)]
    assert "Token “research export” revoked" in response.content.decode()
    assert not ApiToken.objects.exists()
    assert api_me(key).status_code == 401


def test_another_clinicians_token_cannot_be_revoked(other_client, clinician, admin_client_):
    token, key = services.api_token_create(user=clinician, name="research export", lifetime_days=30)
    url = reverse("api-token-revoke", args=[token.digest])

    assert other_client.post(url).status_code == 404
    # Admins revoke other people's tokens in the admin; the page only manages one's own.
    assert admin_client_.post(url).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert api_me(key).status_code == 200


def test_revoking_needs_a_post_with_a_csrf_token(clinician, clinician_client):
    token, key = services.api_token_create(user=clinician, name="research export", lifetime_days=30)
    url = reverse("api-token-revoke", args=[token.digest])
    csrf_checking = Client(enforce_csrf_checks=True)
    csrf_checking.force_login(clinician)

    assert clinician_client.get(url).status_code == 405
    assert csrf_checking.post(url).status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert api_me(key).status_code == 200


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "   ", "lifetime_days": "90"}, "name"),
        ({"name": "x" * 101, "lifetime_days": "90"}, "name"),
        ({"name": "research export", "lifetime_days": "7"}, "lifetime_days"),
    ],
)
def test_invalid_input_shows_form_errors_and_creates_nothing(clinician_client, data, field):
    response = clinician_client.post(reverse("api-tokens"), data)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert 'class="field-errors"' in response.content.decode()
    assert response.context["key"] == ""
    assert not ApiToken.objects.exists()


def test_lifetimes_longer_than_the_maximum_are_not_offered(clinician_client, settings):
    settings.SKINPORTAL_API_TOKEN_MAX_DAYS = 90

    response = clinician_client.post(reverse("api-tokens"), {"name": "research export", "lifetime_days": "365"})

    assert [days for days, _ in response.context["form"].fields["lifetime_days"].choices] == [30, 90]
    assert list(response.context["form"].errors) == ["lifetime_days"]
    assert not ApiToken.objects.exists()


def test_the_page_needs_a_login(client, clinician):
    token, key = services.api_token_create(user=clinician, name="research export", lifetime_days=30)

    response = client.get(reverse("api-tokens"))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={reverse('api-tokens')}"

    assert client.post(reverse("api-tokens"), {"name": "sneaky", "lifetime_days": "30"}).status_code == 302
    assert client.post(reverse("api-token-revoke", args=[token.digest])).status_code == 302
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["research export"]
    assert api_me(key).status_code == 200


def test_the_user_menu_links_to_the_page(clinician_client):
    content = clinician_client.get(reverse("cases:dashboard")).content.decode()
    assert f'href="{reverse("api-tokens")}"' in content


def test_an_admin_creates_a_token_once_through_the_admin(admin_client_, clinician):
    response = admin_client_.post(
        reverse("admin:accounts_apitoken_add"),
        {"user": clinician.pk, "name": "lab import", "lifetime_days": "30"},
        follow=True,
    )

    assert response.status_code == 200
    texts = [str(message) for message in response.context["messages"]]
    keys = [match.group() for text in texts for match in TOKEN_PATTERN.finditer(text)]
    assert len(keys) == 1
    key = keys[0]
    assert response.content.decode().count(key) == 1
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.digest) == (clinician, "lab import", hash_token(key))
    assert abs(token.expiry - timezone.now() - datetime.timedelta(days=30)) < datetime.timedelta(minutes=1)
    assert not database_contains(key)
    assert api_me(key).json()["username"] == "dana"

    # Not shown again: neither on the list nor on the token's (read-only) page.
    changelist = admin_client_.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    assert "lab import" in changelist and key not in changelist
    detail = admin_client_.get(reverse("admin:accounts_apitoken_change", args=[token.pk]))
    assert detail.status_code == 200
    assert key not in detail.content.decode() and 'name="name"' not in detail.content.decode()


def test_the_admin_add_form_refuses_invalid_input(admin_client_, clinician):
    response = admin_client_.post(
        reverse("admin:accounts_apitoken_add"), {"user": clinician.pk, "name": "", "lifetime_days": "30"}
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["name"]
    assert not ApiToken.objects.exists()


def test_the_admin_list_flags_expired_tokens_and_filters_by_staff(admin_client_, clinician, admin_user):
    services.api_token_create(user=clinician, name="clinician script", lifetime_days=30)
    expired, _ = services.api_token_create(user=admin_user, name="admin script", lifetime_days=30)
    ApiToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - datetime.timedelta(days=1))
    url = reverse("admin:accounts_apitoken_changelist")

    response = admin_client_.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "clinician script" in content and "admin script" in content
    assert content.count('alt="True"') == 1  # the "expired" column

    staff_only = admin_client_.get(url, {"user__is_staff__exact": "1"}).content.decode()
    assert "admin script" in staff_only and "clinician script" not in staff_only
    # The e-mail address: a search for the username alone could also match a random first name.
    searched = admin_client_.get(url, {"q": clinician.email}).content.decode()
    assert "clinician script" in searched and "admin script" not in searched


def test_deleting_in_the_admin_revokes_the_token(admin_client_, clinician):
    token, key = services.api_token_create(user=clinician, name="lab import", lifetime_days=30)

    response = admin_client_.post(reverse("admin:accounts_apitoken_delete", args=[token.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not ApiToken.objects.exists()
    assert api_me(key).status_code == 401


def test_clinicians_cannot_use_the_token_admin(clinician_client, clinician):
    response = clinician_client.get(reverse("admin:accounts_apitoken_changelist"))
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))

    clinician_client.post(
        reverse("admin:accounts_apitoken_add"), {"user": clinician.pk, "name": "lab import", "lifetime_days": "30"}
    )
    assert not ApiToken.objects.exists()
