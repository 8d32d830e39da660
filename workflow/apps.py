from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Agreement workflow"

    def ready(self):
        from core import hooks
        from workflow.account_page import account_page

        hooks.account_page.connect(account_page, dispatch_uid="workflow.account_page")
