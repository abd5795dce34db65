"""Writing the policy catalog: the declarations in code are the source of truth."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from erp.actors import Actor, acting_user
from erp.exceptions import PermissionDenied, ValidationFailed
from erp.roles import ROLE_BY_KEY
from erp.transactions import command, joined_command
from governance.models import Policy
from governance.registry import declared_policies

PROCESS_OWNER_GROUP = ROLE_BY_KEY["process_owner"].group
ADMINISTRATOR_GROUP = ROLE_BY_KEY["administrator"].group


def _may_assign_owners(actor: Actor) -> bool:
    user = acting_user(actor)
    if user is None or not user.is_active:
        return False
    return bool(user.is_superuser or user.groups.filter(name=ADMINISTRATOR_GROUP).exists())


@command
def policy_owner_set(*, policy: Policy, actor: Actor, owner_user: Any = None, owner_group: Any = None) -> Policy:
    """Make one user or one group the policy's process owner (the other is cleared).

    Exactly one of ``owner_user`` and ``owner_group``; an owner user must be an active member of
    the "Process owner" group. Only a superuser or an administrator assigns owners. The owner
    decides the deviations requested from now on; those already waiting keep their approver.
    ``policies_sync`` keeps an assigned owner.
    """
    if not _may_assign_owners(actor):
        raise PermissionDenied("Only an administrator assigns policy owners.")
    if (owner_user is None) == (owner_group is None):
        raise ValidationFailed(detail={"owner": ["Give exactly one of owner_user and owner_group."]})
    if owner_user is not None:
        if not isinstance(owner_user, get_user_model()) or owner_user.pk is None:
            raise ValidationFailed(detail={"owner_user": ["Must be an existing user."]})
        if not owner_user.is_active or not owner_user.groups.filter(name=PROCESS_OWNER_GROUP).exists():
            raise ValidationFailed(detail={"owner_user": [
                f"{owner_user.get_username()} is not an active member of the {PROCESS_OWNER_GROUP!r} group."]})
    elif not isinstance(owner_group, Group) or owner_group.pk is None:
        raise ValidationFailed(detail={"owner_group": ["Must be an existing group."]})
    locked = Policy.objects.select_for_update(of=("self",)).get(pk=policy.pk)
    locked.owner_user, locked.owner_group = owner_user, owner_group
    locked.save(update_fields=["owner_user", "owner_group", "updated_at"])
    return locked


@command
def policies_sync(*, actor: Actor) -> dict[str, int]:
    """Upsert a Policy row per declaration, retire rows no app declares any more.

    A policy keeps its owner across syncs (owners are assigned by people, not code); a new one is
    owned by the "Process owner" group, created through ``roles_sync`` when it is missing. Returns
    how many were created, updated, retired.
    """
    group = Group.objects.filter(name=PROCESS_OWNER_GROUP).first()
    if group is None:
        from erp.services import roles_sync

        with joined_command():
            roles_sync(actor=actor)
        group = Group.objects.get(name=PROCESS_OWNER_GROUP)

    declared = declared_policies()
    existing = {policy.key: policy for policy in Policy.objects.select_for_update(of=("self",)).order_by("pk")}
    counts = {"created": 0, "updated": 0, "retired": 0}
    for key, spec in declared.items():
        fields = {
            "description": spec.description,
            "process": spec.process,
            "value_type": spec.value_type.name,
            "type_spec": spec.value_type.describe(),
            "standard_value": spec.value_type.validate(spec.standard),
            "localizable": spec.localizable,
            "retired": False,
        }
        policy = existing.get(key)
        if policy is None:
            Policy.objects.create(key=key, owner_group=group, **fields)
            counts["created"] += 1
            continue
        changed = [name for name, value in fields.items() if getattr(policy, name) != value]
        if changed:
            for name in changed:
                setattr(policy, name, fields[name])
            policy.save(update_fields=[*changed, "updated_at"])
            counts["updated"] += 1
    stale = [policy.pk for key, policy in existing.items() if key not in declared and not policy.retired]
    if stale:
        counts["retired"] = Policy.objects.filter(pk__in=stale).update(retired=True)
    return counts
