"""The embedded default: SQLite, local private file storage, Celery tasks in-process.

For a developer's machine and demos only. Never use it on a server.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("DJANGO_SECRET_KEY", "local-only-insecure-key-do-not-use-in-production")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# In-process tasks run at once or not at all: one still queued after a minute, or running after
# three, was lost (e.g. the process stopped mid-way); the sweep thread runs it again.
os.environ.setdefault("SKINPORTAL_RESEND_QUEUED_AFTER", "60")
os.environ.setdefault("SKINPORTAL_RESEND_RUNNING_AFTER", "180")

from .base import *  # noqa: F403

ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]"]  # noqa: F405
# Demo users with published passwords only ever go into the embedded SQLite database.
SKINPORTAL_ALLOW_DEMO_USERS = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"  # noqa: F405
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_AUTOREFRESH = True
