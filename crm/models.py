"""CRM sync: the outbox, what was last delivered, sync runs and their per-record errors, and the
CRM ids of Accord's people.

The outbox holds at most one *open* entry (pending, in flight or failed) per account: a change
arriving while one is open is coalesced into it (its `version` goes up, and a failed one is
pending again), so an account is pushed once for any number of changes. A pusher claims
entries with a lease (`claimed_until`, `claim_token`); an entry whose lease ran out (its worker
died) can be claimed again. See crm/outbox.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Backend(models.TextChoices):
    HUBSPOT = "hubspot", "HubSpot"
    SALESFORCE = "salesforce", "Salesforce"
    WEBHOOK = "webhook", "Signed webhook"
    NONE = "none", "None (sync off)"


class CrmOwner(models.Model):
    """A person's ids in the CRMs: the company owner written with a target account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crm_owner"
    )
    hubspot_owner_id = models.CharField(
        "HubSpot owner id",
        max_length=50,
        blank=True,
        help_text="The owner id in HubSpot (Settings → Users, or GET /crm/v3/owners/).",
    )
    salesforce_user_id = models.CharField(
        "Salesforce user id", max_length=18, blank=True, help_text="The User Id (005…)."
    )

    class Meta:
        verbose_name = "CRM owner id"
        verbose_name_plural = "CRM owner ids"
        constraints = [
            models.UniqueConstraint(
                fields=["hubspot_owner_id"],
                condition=~Q(hubspot_owner_id=""),
                name="crm_owner_unique_hubspot_owner_id",
            ),
            models.UniqueConstraint(
                fields=["salesforce_user_id"],
                condition=~Q(salesforce_user_id=""),
                name="crm_owner_unique_salesforce_user_id",
            ),
        ]

    def __str__(self) -> str:
        return f"CRM ids of {self.user}"


class SyncKind(models.TextChoices):
    PUSH = "push", "Push"
    PULL = "pull", "Pull"


class SyncState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Finished with errors"
    FAILED = "failed", "Failed"


FINISHED_SYNC_STATES = (SyncState.SUCCEEDED, SyncState.PARTIAL, SyncState.FAILED)


class SyncTrigger(models.TextChoices):
    APPROVAL = "approval", "A change of the list"
    SWEEPER = "sweeper", "Outbox sweeper"
    COMMAND = "command", "Command line"
    ADMIN = "admin", "Admin"
    API = "api", "API"
    WEBHOOK = "webhook", "CRM webhook"
    SCHEDULE = "schedule", "Schedule"
    RETRY = "retry", "Retry"


class SyncRun(models.Model):
    """One push or pull: its progress (done of total), counts and per-record errors."""

    kind = models.CharField(max_length=4, choices=SyncKind.choices)
    backend = models.CharField(max_length=12, choices=Backend.choices)
    state = models.CharField(max_length=10, choices=SyncState.choices, default=SyncState.QUEUED)
    trigger = models.CharField(max_length=10, choices=SyncTrigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person who started it (none when started by the system).",
    )
    cycle = models.ForeignKey(
        "workflow.Cycle",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sync_runs",
        help_text="The cycle whose whole list was pushed, if any.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    total = models.PositiveIntegerField(default=0, help_text="Records to handle.")
    done = models.PositiveIntegerField(default=0, help_text="Records handled so far.")
    sent = models.PositiveIntegerField(default=0, help_text="Records sent to (read from) the CRM.")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0, help_text="HTTP requests made to the CRM.")
    # What became of the requests, counted by the transport (crm.adapters.base.TransportStats);
    # /metrics sums them over every run, so the figures hold across several workers.
    rate_limited = models.PositiveIntegerField(
        default=0, help_text="Requests the CRM throttled (429)."
    )
    server_errors = models.PositiveIntegerField(
        default=0, help_text="Requests the CRM answered with a server error (5xx)."
    )
    network_errors = models.PositiveIntegerField(
        default=0, help_text="Requests that got no answer (timeouts, refused connections)."
    )
    message = models.TextField(blank=True, help_text="Why the run failed or stopped early.")
    detail = models.JSONField(default=dict, blank=True, help_text="Cursors and the like.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["kind", "state"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")), name="sync_run_done_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.backend}, {self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_SYNC_STATES

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.done / self.total))


class OutboxState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (dead letter)"


LIVE_OUTBOX_STATES = (OutboxState.PENDING, OutboxState.IN_FLIGHT)
# At most one entry per account is not delivered: a new change revives a dead letter.
OPEN_OUTBOX_STATES = (*LIVE_OUTBOX_STATES, OutboxState.FAILED)


class OutboxChange(models.TextChoices):
    ADDED = "added", "Added to a list"
    TIER_CHANGED = "tier_changed", "Tier changed"
    OWNERS_CHANGED = "owners_changed", "Owners changed"
    ACCOUNT_CHANGED = "account_changed", "Account details changed"
    REMOVED = "removed", "Removed from a list"
    RESYNC = "resync", "Pushed again"


class OutboxEntry(models.Model):
    """A target-account change waiting for (or done with) delivery to the CRM.

    The payload is not stored: the pusher builds it from the account's current state, so a
    coalesced entry always sends the latest truth.
    """

    account = models.ForeignKey(
        "accounts_app.Account", on_delete=models.CASCADE, related_name="crm_outbox"
    )
    cycle = models.ForeignKey(
        "workflow.Cycle",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The cycle whose list changed last.",
    )
    change = models.CharField(max_length=15, choices=OutboxChange.choices)
    state = models.CharField(
        max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    version = models.PositiveIntegerField(
        default=1, help_text="Goes up with every change coalesced into this entry."
    )
    claimed_version = models.PositiveIntegerField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="The lease of the worker pushing it."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(
        default=timezone.now, help_text="When the latest change coalesced into it was made."
    )
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    backend = models.CharField(
        max_length=12, choices=Backend.choices, blank=True, help_text="Where it was delivered."
    )
    last_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox_entries"
    )

    class Meta:
        ordering = ["-enqueued_at", "-pk"]
        verbose_name = "outbox entry"
        verbose_name_plural = "outbox"
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(state__in=["pending", "in_flight", "failed"]),
                name="crm_outbox_one_open_entry_per_account",
            ),
            models.CheckConstraint(
                condition=~Q(state="in_flight")
                | (Q(claim_token__isnull=False) & Q(claimed_until__isnull=False)),
                name="crm_outbox_in_flight_has_lease",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["state", "claimed_until"]),
        ]

    def __str__(self) -> str:
        return f"Outbox #{self.pk} {self.change} account {self.account_id} ({self.state})"


class DeliveredPayload(models.Model):
    """A digest of what was last delivered for an account to a CRM: a push with nothing changed
    sends nothing."""

    account = models.ForeignKey(
        "accounts_app.Account", on_delete=models.CASCADE, related_name="crm_deliveries"
    )
    backend = models.CharField(max_length=12, choices=Backend.choices)
    digest = models.CharField(max_length=64)
    delivered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "backend"], name="crm_delivered_one_per_account_backend"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.backend} account {self.account_id} {self.digest[:8]}"


class SyncRunError(models.Model):
    """One record a run could not sync, with the CRM's message and answer."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="errors")
    object_type = models.CharField(max_length=30, default="company")
    object_key = models.CharField(
        max_length=100, help_text="Accord's account key, or the CRM's id for pulled records."
    )
    account = models.ForeignKey(
        "accounts_app.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outbox_entry = models.ForeignKey(
        OutboxEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="errors"
    )
    message = models.TextField()
    crm_response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "pk"]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_key}: {self.message[:60]}"


class SyncRunRecord(models.Model):
    """A record a push sent and the CRM took: which account, its CRM id, the change that sent
    it, created or updated there. Kept for the first CRM_RUN_RECORDS_KEPT records of a run
    only, so a push of the whole list stores a bounded number of rows; the run's counts cover
    every record."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="records")
    account = models.ForeignKey(
        "accounts_app.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_key = models.CharField(max_length=100, help_text="Accord's account key.")
    crm_id = models.CharField("CRM id", max_length=50, blank=True)
    change = models.CharField(max_length=15, choices=OutboxChange.choices, blank=True)
    created = models.BooleanField(help_text="Created in the CRM (otherwise updated).")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "pk"]

    def __str__(self) -> str:
        return f"{self.object_key} → {self.crm_id or '?'} (run {self.run_id})"


# --- The pull (crm/pull/) and the inbound HubSpot webhook (crm/webhooks.py) ----------------------


class PullCursor(models.Model):
    """Where the incremental pull of one object type from one CRM stands.

    A *pass* reads every record modified since `since` (everything when it is empty) in id
    order. `last_id` is the last record of the pass applied so far (blank between passes), so a
    pass cut short (a time budget, a dead worker) resumes after it. When a pass completes,
    `since` moves to the moment it started, less CRM_PULL_OVERLAP_SECONDS (clock skew, the
    CRM's search index lag), and records changed while it ran are read by the next one.
    A pull holds the cursor under a lease (`claim_token`, `claimed_until`) while it reads, so two
    pulls never read the same object type at once; a dead pull's lease simply runs out.
    """

    backend = models.CharField(max_length=12, choices=Backend.choices)
    object_type = models.CharField(max_length=40)
    since = models.DateTimeField(
        null=True, blank=True, help_text="Records modified since then are read (blank: all)."
    )
    pass_started_at = models.DateTimeField(null=True, blank=True)
    last_id = models.CharField(
        max_length=50, blank=True, help_text="The pass in progress resumes after this id."
    )
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_completed_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["backend", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "object_type"], name="crm_pull_cursor_one_per_object_type"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.backend} {self.object_type} since {self.since or 'the beginning'}"


class ProcessedWebhookEvent(models.Model):
    """An event a CRM webhook delivered, kept so that a repeat of it (HubSpot retries a
    delivery it did not see acknowledged) is ignored. Forgotten after CRM_WEBHOOK_EVENTS_KEEP_DAYS.
    """

    source = models.CharField(max_length=20, default="hubspot")
    event_key = models.CharField(
        max_length=120, help_text="portalId:subscriptionId:eventId for HubSpot."
    )
    batch = models.UUIDField(editable=False, help_text="The delivery that brought it first.")
    subscription_type = models.CharField(max_length=100, blank=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=50, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_key"], name="crm_webhook_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.source} event {self.event_key} ({self.subscription_type})"
