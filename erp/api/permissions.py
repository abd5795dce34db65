"""What a role may do through the API: Django model permissions, view included for reads."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import DjangoModelPermissions


class RoleModelPermissions(DjangoModelPermissions):
    """``view_<model>`` to read, ``add``/``change``/``delete`` to write; the role groups grant them.

    Views that act on a document (confirm, approve) name their permission in
    ``required_action_permission`` instead of relying on the method.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        action_perm = getattr(view, "required_action_permission", None)
        if action_perm and request.method not in ("GET", "HEAD", "OPTIONS"):
            return bool(request.user.has_perm(action_perm))
        return super().has_permission(request, view)
