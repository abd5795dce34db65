"""Discovery of the apps' policy declarations and their sync into the Policy table.

Each installed app may have a ``policies`` module exporting ``POLICIES`` (a list of
``erp.policies.PolicySpec``). ``declared_policies()`` imports them all and refuses a key declared
twice, so two apps can never silently fight over one setting. ``policies_sync``
(``governance.services.policies``) writes them into the database.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections

from erp.policies import PolicySpec

logger = logging.getLogger("governance.registry")


class DuplicatePolicyKey(Exception):
    """Two declarations share one key: a programming error, reported at start-up or sync."""


def declared_policies() -> dict[str, PolicySpec]:
    """Every installed app's declared policies by key, in app order then declaration order."""
    found: dict[str, PolicySpec] = {}
    owners: dict[str, str] = {}
    for config in apps.get_app_configs():
        module_name = f"{config.name}.policies"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # the module exists but an import inside it is broken
                raise
            continue
        for spec in getattr(module, "POLICIES", []):
            if not isinstance(spec, PolicySpec):
                raise TypeError(f"{module_name}.POLICIES holds {spec!r}, not a PolicySpec")
            if spec.key in found:
                raise DuplicatePolicyKey(
                    f"policy {spec.key!r} is declared by both {owners[spec.key]} and {config.name}"
                )
            found[spec.key] = spec
            owners[spec.key] = config.name
    return found


def sync_policies_after_migrate(**kwargs: Any) -> None:
    """post_migrate hook: make the Policy table match the declarations.

    Quiet and harmless when the governance tables do not exist yet (a partial or backwards
    migration): there is nothing to sync into.
    """
    using = kwargs.get("using", DEFAULT_DB_ALIAS)
    if using != DEFAULT_DB_ALIAS:
        return
    tables = set(connections[using].introspection.table_names())
    if not {"governance_policy", "auth_group"} <= tables:
        return
    from governance.services.policies import policies_sync

    policies_sync(actor=None)
