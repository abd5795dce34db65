"""The Celery app. Tasks are thin: they take ids and call a service (see docs/architecture.md)."""

import os

from celery import Celery

from erp import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erp.settings")
embedded.bootstrap()

app = Celery("concord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="erp.ping")
def ping() -> str:
    """Answered by any live worker; /readyz uses the control ping, tests use this."""
    return "pong"
