"""WSGI entry point (gunicorn ``erp.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

from erp import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erp.settings")
embedded.bootstrap()
application = get_wsgi_application()
