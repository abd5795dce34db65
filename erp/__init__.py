"""The Django project and the base code every Concord app shares."""

import django_stubs_ext

# Django's generic classes (ModelAdmin, ModelForm, ListView, ...) take type arguments at run time as their
# stubs declare them, so code can say ``admin.ModelAdmin[Item]``. Here, because every process (manage.py, the
# WSGI and Celery entry points, pytest) imports this package for its settings before any app module.
django_stubs_ext.monkeypatch()
