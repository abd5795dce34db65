from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GovernanceConfig(AppConfig):
    name = "governance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance import audit, registry
        from governance.services import approvals, deviations

        deviations.register_approvable_types()
        # After every migrate: policies match the apps' declarations, every audited table has its trigger, the
        # default approval rules exist (last: their rows are audited, and the purchase-order rules follow the matrix).
        post_migrate.connect(registry.sync_policies_after_migrate, sender=self,
                             dispatch_uid="governance.sync_policies")
        post_migrate.connect(audit.install_triggers_after_migrate, sender=self,
                             dispatch_uid="governance.audit_triggers")
        post_migrate.connect(approvals.approval_rules_seed_after_migrate, sender=self,
                             dispatch_uid="governance.approval_rules_seed")
