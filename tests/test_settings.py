"""The production profile: secure defaults, everything from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "skinportal.settings.production",
    "DJANGO_SECRET_KEY": "x7!" + "k" * 60 + "Qz#9pL2vR8mN4",
    "DJANGO_ALLOWED_HOSTS": "skinportal.example.org",
    "DATABASE_URL": "postgres://skinportal@db.example.org:5432/skinportal",
    "CELERY_BROKER_URL": "redis://broker.example.org:6379/0",
    "EMAIL_URL": "smtp+tls://skinportal:secret@smtp.example.org:587",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    prefixes = ("DJANGO_", "DATABASE_", "CELERY_", "SKINPORTAL_", "EMAIL_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow  # two `check --deploy` runs in subprocesses
def test_check_deploy_warns_when_notification_emails_would_go_nowhere():
    without_email = {k: v for k, v in PRODUCTION_ENV.items() if k != "EMAIL_URL"}  # the console's, by default
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=without_email)
    assert result.returncode != 0
    assert "notifications.W001" in result.stderr and "EMAIL_URL" in result.stderr

    in_app_only = {**without_email, "SKINPORTAL_EMAIL_NOTIFICATIONS": "false"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=in_app_only)
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_s3_storage():
    env = {**PRODUCTION_ENV, "SKINPORTAL_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "skinportal-images"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_database_url():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_production_has_secure_defaults(monkeypatch):
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0, s.CELERY_TASK_ALWAYS_EAGER, s.SKINPORTAL_ALLOW_DEMO_USERS)",
        env=PRODUCTION_ENV,
    )
    assert result.stdout.split() == ["False", "True", "True", "True", "True", "False", "False"], result.stderr


def test_local_default_is_embedded():
    env = {"DJANGO_SETTINGS_MODULE": "skinportal.settings.local"}
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], "
        "s.STORAGES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)",
        env=env,
    )
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.files.storage.FileSystemStorage",
        "True",
    ], result.stderr


def _production_value(expression: str, env: dict[str, str] | None = None) -> str:
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        f"from django.conf import settings as s; print({expression})",
        env=env or PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_cookies_and_headers():
    assert _production_value(
        "s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.SESSION_EXPIRE_AT_BROWSER_CLOSE, s.SESSION_SAVE_EVERY_REQUEST, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.X_FRAME_OPTIONS, s.SECURE_CONTENT_TYPE_NOSNIFF, "
        "s.SECURE_REFERRER_POLICY, s.SECURE_CROSS_ORIGIN_OPENER_POLICY"
    ).split() == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "Lax",
        "True",
        "True",
        "31536000",
        "True",
        "DENY",
        "True",
        "same-origin",
        "same-origin",
    ]


def test_production_lockout_and_csp_settings():
    assert _production_value(
        "s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_LOCKOUT_PARAMETERS, "
        "s.CONTENT_SECURITY_POLICY_REPORT_ONLY, 'unsafe-inline' in str(s.CONTENT_SECURITY_POLICY)"
    ).split() == ["5", "900.0", "[['username',", "'ip_address']]", "None", "False"]
    env = {**PRODUCTION_ENV, "AXES_FAILURE_LIMIT": "8", "AXES_COOLOFF_MINUTES": "0", "CSP_REPORT_ONLY": "true"}
    assert _production_value(
        "s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.CONTENT_SECURITY_POLICY, "
        "s.CONTENT_SECURITY_POLICY_REPORT_ONLY['DIRECTIVES']['default-src']",
        env,
    ).split() == ["8", "None", "None", "[\"'self'\"]"]


def test_with_s3_storage_images_may_come_from_the_bucket():
    env = {
        **PRODUCTION_ENV,
        "SKINPORTAL_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "skinportal-images",
        "AWS_S3_ENDPOINT_URL": "https://s3.example.org:9000",
    }
    assert _production_value("' '.join(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])", env).split() == [
        "'self'",
        "data:",
        "https://s3.example.org:9000",
        "https://skinportal-images.s3.example.org:9000",
    ]


def test_check_deploy_is_clean_with_csp_report_only():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={**PRODUCTION_ENV, "CSP_REPORT_ONLY": "true"})
    assert result.returncode == 0, result.stderr
