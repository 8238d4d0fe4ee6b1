"""Settings for the test suite: the database comes from DATABASE_URL (SQLite by default,
PostgreSQL in CI); files go to a temporary folder; passwords hash fast."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-key")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# No sweep thread in the suite: tests call inference.sweep.sweep_once themselves.
os.environ.setdefault("SKINPORTAL_IN_PROCESS_SWEEP_SECONDS", "0")
# Each test gets its own folder (tests/conftest.py); this is only the fallback.
os.environ.setdefault("SKINPORTAL_MEDIA_ROOT", os.path.join(tempfile.gettempdir(), "skinportal-test-media"))

from .base import *  # noqa: F403

ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_AUTOREFRESH = True
