"""The Celery application.

Configuration comes from Django settings (``CELERY_*``). In the embedded default
(``skinportal.settings.local``) tasks run in-process; in production a worker runs with
``celery -A skinportal worker`` against Redis or RabbitMQ.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skinportal.settings.production")

app = Celery("skinportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
