"""How every form in the screens renders: labels above their fields, each error beside its field.

``{{ form }}`` and ``{{ form.field.as_field_group }}`` use the project's templates (``templates/forms/``)
rather than Django's defaults, so a screen that renders a whole form, the deviation request included, looks
like the hand-laid handheld forms and reads its errors the same way.
"""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
