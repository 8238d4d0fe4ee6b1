from __future__ import annotations

import pytest
from django.test import Client

from .factories import AdminFactory, UserFactory


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path):
    """Each test stores files in its own folder, so leftover files can be asserted on."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


@pytest.fixture
def clinician(db):
    return UserFactory(username="dana")


@pytest.fixture
def other_clinician(db):
    return UserFactory(username="olga")


@pytest.fixture
def admin_user(db):
    return AdminFactory(username="root")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clinician_client(clinician) -> Client:
    return _client_for(clinician)


@pytest.fixture
def other_client(other_clinician) -> Client:
    return _client_for(other_clinician)


@pytest.fixture
def admin_client_(admin_user) -> Client:
    return _client_for(admin_user)


def pytest_report_header(config) -> str:
    from django.conf import settings

    database = settings.DATABASES["default"]
    return f"database: {database['ENGINE']} {database.get('HOST') or ''} {database['NAME']}"
