from django.conf import settings
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken


class IdempotencyKey(models.Model):
    """The answer to one POST sent with an `Idempotency-Key` header.

    The row is inserted, under a unique (user, key) constraint, in the same transaction as the
    action it guards and before the action runs: a concurrent repeat of the request waits on
    that row and then replays the stored answer, and an action that fails with a server error
    rolls the row back so the client may retry. Rows expire after API_IDEMPOTENCY_TTL.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the method, path and body of the first request."
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class ApiToken(AbstractAuthToken):
    """An API token (`Authorization: Token <key>`), stored as knox stores it: the SHA-512
    digest of the key and its first 15 characters (`token_key`, the prefix people see), never
    the key itself. The key is shown once, when it is made (api.services.api_token_issue).

    Knox makes the digest the primary key; here it is an ordinary unique column behind a
    numeric id, so admin URLs, log entries and the delete page never carry it.
    """

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=128, unique=True)
    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="Recorded at most once a minute."
    )

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        # Knox's own shows the digest, which admin pages and log entries would then carry.
        return f"{self.token_key}… ({self.user})"


class ServiceAccount(models.Model):
    """A read-only login for a CRM-side job: it may read accounts, cycles and the agreed list
    through the API with its token, and nothing else (no nominations, no decisions, no
    comments). It is a user with no side and an unusable password; revoking deletes its token.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_account"
    )
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.username
