from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM sync"

    def ready(self):
        from core import hooks
        from crm import receivers

        hooks.target_changed.connect(receivers.target_changed, dispatch_uid="crm.target")
        hooks.account_changed.connect(receivers.account_changed, dispatch_uid="crm.account")
        hooks.cycle_closed.connect(receivers.cycle_closed, dispatch_uid="crm.cycle_closed")
