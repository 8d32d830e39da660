"""Integration logins in the admin. Creating one is `manage.py accord_service_account` or
POST /api/v1/service-accounts/; here ops can see them, issue a new token or revoke it. Tokens
of people (from `manage.py accord_user ... --token`) are revoked under Auth Token → Tokens."""

from django.contrib import admin, messages

from api import services
from api.models import IdempotencyKey, ServiceAccount
from workflow.errors import DomainError


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    list_display = ("__str__", "description", "has_token", "created_by", "created_at")
    search_fields = ("user__username", "description")
    list_select_related = ("user", "user__auth_token", "created_by")
    readonly_fields = ("user", "created_by", "created_at")
    fields = ("user", "description", "created_by", "created_at")
    actions = ["issue_new_token", "revoke_token"]

    def has_add_permission(self, request):
        return False

    @admin.display(boolean=True, description="Token")
    def has_token(self, obj) -> bool:
        return hasattr(obj.user, "auth_token")

    @admin.action(
        description="Issue a new token (the old one stops working)", permissions=["change"]
    )
    def issue_new_token(self, request, queryset):
        for service_account in queryset.select_related("user"):
            try:
                key = services.service_account_token_rotate(
                    service_account=service_account, by=request.user
                )
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
                return
            self.message_user(
                request,
                f"New token for {service_account}: {key} — copy it now, it is not shown again.",
                messages.SUCCESS,
            )

    @admin.action(description="Revoke the token", permissions=["change"])
    def revoke_token(self, request, queryset):
        revoked = 0
        for service_account in queryset.select_related("user"):
            try:
                revoked += services.service_account_revoke(
                    service_account=service_account, by=request.user
                )
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
                return
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "user", "status_code", "created_at")
    list_filter = ("status_code",)
    search_fields = ("key", "user__username")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
