"""API tokens and integration logins in the admin.

Every token, a person's (`manage.py accord_user ... --token`) or an integration's, is listed
under API tokens with its prefix, owner, creation, last use and expiry, and nothing from which
the key could be had: the key is shown once, when it is made, and only its digest is stored.
Ops may revoke any token there; nobody adds or changes one in the admin.

Creating an integration login is `manage.py accord_service_account` or
POST /api/v1/service-accounts/; here ops can see them, issue a new token or revoke it.
"""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.template.response import TemplateResponse
from django.utils import timezone
from knox.settings import CONSTANTS

from api import selectors, services
from api.models import ApiToken, IdempotencyKey, ServiceAccount
from core.errors import DomainError


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Works"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(pk__in=selectors.live_tokens().values("pk"))
        if self.value() == "expired":
            return queryset.filter(expiry__lte=timezone.now())
        return queryset


class TokenOwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("person", "A person"), ("integration", "An integration login")]

    def queryset(self, request, queryset):
        if self.value() == "person":
            return queryset.filter(user__service_account__isnull=True)
        if self.value() == "integration":
            return queryset.filter(user__service_account__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "created", "last_used_at", "expiry", "works")
    list_filter = (TokenStateFilter, TokenOwnerFilter, "last_used_at", "expiry")
    search_fields = ("token_key", "user__username")
    search_help_text = "A token's prefix (or the whole key, to find a leaked one) or its owner."
    list_select_related = ("user",)
    # Never the digest: with it, a key could be tried offline.
    fields = ("prefix", "user", "created", "last_used_at", "expiry")
    readonly_fields = fields
    date_hierarchy = "created"

    @admin.display(description="Prefix", ordering="token_key")
    def prefix(self, obj) -> str:
        return f"{obj.token_key}…"

    @admin.display(boolean=True, description="Works")
    def works(self, obj) -> bool:
        return obj.expiry is None or obj.expiry > timezone.now()

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if len(term) > CONSTANTS.TOKEN_KEY_LENGTH:
            # A whole key pasted to find the token to revoke: its prefix is the token's.
            queryset |= self.model.objects.filter(token_key=term[: CONSTANTS.TOKEN_KEY_LENGTH])
        return queryset, may_have_duplicates

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.api_token_revoke(token=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for token in queryset:
            services.api_token_revoke(token=token, by=request.user)


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    list_display = ("__str__", "description", "has_token", "created_by", "created_at")
    search_fields = ("user__username", "description")
    list_select_related = ("user", "created_by")
    readonly_fields = ("user", "created_by", "created_at")
    fields = ("user", "description", "created_by", "created_at")
    actions = ["issue_new_token", "revoke_token"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_has_token=Exists(selectors.live_tokens().filter(user=OuterRef("user"))))
        )

    @admin.display(boolean=True, description="Token", ordering="_has_token")
    def has_token(self, obj) -> bool:
        return obj._has_token

    @admin.action(
        description="Issue a new token (the old one stops working)", permissions=["change"]
    )
    def issue_new_token(self, request, queryset):
        issued = []
        for service_account in queryset.select_related("user"):
            try:
                key = services.service_account_token_rotate(
                    service_account=service_account, by=request.user
                )
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
                return None
            issued.append((service_account, key))
        # A page, not a message: messages may wait in the session, in the database. (The
        # admin's views already send Cache-Control: no-store.)
        return TemplateResponse(
            request,
            "admin/api/serviceaccount/new_tokens.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "New integration tokens",
                "issued": issued,
            },
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
