import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import AgreedSignOff, AgreedVersion, AgreementEvent, AgreementState
from core.roles import Side


class Source(models.TextChoices):
    MANUAL = "manual", "Manual"
    CSV = "csv", "CSV import"
    CRM = "crm", "CRM"


# Which of an account's fields holds its id in each CRM. Each id belongs to one account at most
# (a unique constraint; accounts_app.services.account_crm_ids_check says which account has it).
CRM_ID_FIELDS = {"hubspot": "hubspot_company_id", "salesforce": "salesforce_account_id"}


class Account(models.Model):
    """A company. `domain` is stored normalised (see accounts_app.domains.normalise_domain)."""

    key = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Accord's account key, written to the CRM's unique key property.",
    )
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, unique=True)
    industry = models.CharField(max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    region = models.CharField(max_length=50, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    hubspot_company_id = models.CharField(max_length=50, blank=True)
    salesforce_account_id = models.CharField(max_length=18, blank=True)
    sales_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sales_owned_accounts",
    )
    marketing_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="marketing_owned_accounts",
    )
    fit_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="0–100 against the effective ideal customer profile."
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fit_score__isnull=True) | Q(fit_score__lte=100),
                name="account_fit_score_0_100",
            ),
            models.CheckConstraint(condition=~Q(domain=""), name="account_domain_not_empty"),
            models.UniqueConstraint(
                fields=["hubspot_company_id"],
                condition=~Q(hubspot_company_id=""),
                name="account_unique_hubspot_company_id",
            ),
            models.UniqueConstraint(
                fields=["salesforce_account_id"],
                condition=~Q(salesforce_account_id=""),
                name="account_unique_salesforce_account_id",
            ),
        ]
        indexes = [models.Index(fields=["industry"]), models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"


class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", "Decision maker"
    CHAMPION = "champion", "Champion"
    BUDGET_HOLDER = "budget_holder", "Budget holder"
    INFLUENCER = "influencer", "Influencer"
    END_USER = "end_user", "End user"
    EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
    BLOCKER = "blocker", "Blocker"
    LEGAL_AND_COMPLIANCE = "legal_and_compliance", "Legal and compliance"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Contact(models.Model):
    """A person at an account. Their buying roles are ContactRole rows (`contact.roles`)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    title = models.CharField(max_length=200, blank=True)
    last_engaged_at = models.DateTimeField(null=True, blank=True)
    hubspot_contact_id = models.CharField(max_length=50, blank=True)
    salesforce_contact_id = models.CharField(max_length=18, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "email"],
                condition=~Q(email=""),
                name="contact_unique_email_per_account",
            ),
            # One Accord contact per CRM contact: the pull (crm/pull/) upserts by these ids.
            models.UniqueConstraint(
                fields=["hubspot_contact_id"],
                condition=~Q(hubspot_contact_id=""),
                name="contact_unique_hubspot_contact_id",
            ),
            models.UniqueConstraint(
                fields=["salesforce_contact_id"],
                condition=~Q(salesforce_contact_id=""),
                name="contact_unique_salesforce_contact_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email or f"Contact {self.pk}"


class ContactRole(models.Model):
    """One buying role a contact holds on its account's buying committee. A contact may hold
    several (HubSpot's multi-select `hs_buying_role`, Salesforce's contact roles) and coverage
    counts it in each; a contact with no row has no known role."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=30, choices=BuyingRole.choices)

    class Meta:
        ordering = ["contact", "role"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "role"], name="contact_role_unique"),
        ]
        indexes = [models.Index(fields=["role", "contact"])]

    def __str__(self) -> str:
        return f"{self.contact}: {self.get_role_display()}"


class OpportunityStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Opportunity(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="opportunities")
    name = models.CharField(max_length=200)
    stage = models.CharField(max_length=100, blank=True)
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(
        max_length=10, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN
    )
    close_date = models.DateField(null=True, blank=True)
    hubspot_deal_id = models.CharField(max_length=50, blank=True)
    salesforce_opportunity_id = models.CharField(max_length=18, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="opportunity_amount_not_negative",
            ),
            models.UniqueConstraint(
                fields=["hubspot_deal_id"],
                condition=~Q(hubspot_deal_id=""),
                name="opportunity_unique_hubspot_deal_id",
            ),
            models.UniqueConstraint(
                fields=["salesforce_opportunity_id"],
                condition=~Q(salesforce_opportunity_id=""),
                name="opportunity_unique_salesforce_opportunity_id",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ActivityKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    MEETING = "meeting", "Meeting"
    CALL = "call", "Call"
    WEB_VISIT = "web_visit", "Web visit"
    AD_CLICK = "ad_click", "Ad click"
    EVENT = "event", "Event"
    FORM_FILL = "form_fill", "Form fill"
    EMAIL_CLICK = "email_click", "Marketing e-mail click"
    CAMPAIGN_RESPONSE = "campaign_response", "Campaign response"


class Activity(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="activities")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    side = models.CharField(max_length=10, choices=Side.choices)
    occurred_at = models.DateTimeField()
    subject = models.CharField(max_length=200, blank=True)
    crm_id = models.CharField(
        max_length=150,
        blank=True,
        help_text="Where it came from, unique: `<crm>:<object type>:<id>[:…]` from a pull, "
        "`api:<user id>:<external id>` from POST /api/v1/activities/ or a CSV file of "
        "activities (the id of the caller, or of the person who uploaded the file).",
    )

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["account", "occurred_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["crm_id"], condition=~Q(crm_id=""), name="activity_unique_crm_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_side_display()}) {self.occurred_at:%Y-%m-%d}"


IcpState = AgreementState  # a profile's states are those of every agreed definition


class IcpVersion(AgreedVersion):
    """A versioned ideal customer profile. Effective only once both sides have signed it off
    (core.agreements); its taking effect queues the rescoring of every account.

    `criteria` holds weighted criteria, e.g.::

        {"industries": {"values": ["Software"], "weight": 40},
         "employees": {"min": 200, "max": 5000, "weight": 30},
         "revenue": {"min": 10000000, "max": null, "weight": 10},
         "regions": {"values": ["EMEA", "NA"], "weight": 20}}
    """

    criteria = models.JSONField(default=dict)
    # The rescoring after it took effect (accounts_app.tasks.accounts_rescore), for its page.
    rescore_done = models.PositiveIntegerField(default=0)
    rescore_total = models.PositiveIntegerField(default=0)
    rescored_at = models.DateTimeField(null=True, blank=True)

    noun = "profile"
    a_noun = "an ideal customer profile"
    untitled = "ICP v{number}"

    class Meta(AgreedVersion.Meta):
        verbose_name = "ICP version"
        constraints = [AgreedVersion.one_effective("icp_one_effective_version")]

    def __str__(self) -> str:
        return f"ICP v{self.number}: {self.name}"

    def after_effective(self) -> None:
        from django.db import transaction

        from accounts_app import tasks

        pk = self.pk
        transaction.on_commit(lambda: tasks.accounts_rescore.delay(pk), robust=True)

    @property
    def rescoring(self) -> bool:
        return self.state == AgreementState.EFFECTIVE and self.rescored_at is None


class IcpSignOff(AgreedSignOff):
    icp_version = models.ForeignKey(IcpVersion, on_delete=models.CASCADE, related_name="sign_offs")

    class Meta(AgreedSignOff.Meta):
        verbose_name = "ICP sign-off"
        constraints = [
            models.UniqueConstraint(
                fields=["icp_version", "person"], name="icp_one_sign_off_per_person"
            ),
        ]


class IcpEvent(AgreementEvent):
    """The append-only history of a profile: drafted, submitted, each sign-off, effective."""

    icp_version = models.ForeignKey(IcpVersion, on_delete=models.PROTECT, related_name="events")

    class Meta(AgreementEvent.Meta):
        verbose_name = "ICP event"


class ImportState(models.TextChoices):
    CHECKING = "checking", "Checking"
    CHECKED = "checked", "Checked, waiting for confirmation"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Not imported"


ACTIVE_IMPORT_STATES = (ImportState.CHECKING, ImportState.IMPORTING)


class ImportChoice(models.TextChoices):
    ALL = "all", "Import the file"
    VALID_ROWS_ONLY = "valid", "Import the valid rows only"


class ImportKind(models.TextChoices):
    """What a CSV file holds; accounts_app.imports has the columns and rules of each."""

    ACCOUNTS = "accounts", "Accounts"
    ACTIVITIES = "activities", "Activities"


class CsvImport(models.Model):
    """A CSV file (of accounts or of activities) that someone uploaded, stored with its check and
    import.

    The file's bytes are kept in the database, not on a disk, so that a worker on another
    machine reads exactly what was uploaded (web and workers share only PostgreSQL and Redis).
    See accounts_app.imports for the steps.
    """

    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    size = models.PositiveIntegerField(help_text="Bytes.")
    data = models.BinaryField(editable=False)
    encoding = models.CharField(max_length=20, blank=True)
    state = models.CharField(
        max_length=10, choices=ImportState.choices, default=ImportState.CHECKING
    )
    choice = models.CharField(max_length=10, choices=ImportChoice.choices, blank=True)
    # Progress of the current step (checking, then importing): rows done of rows to do.
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # What the check found, and once imported what the import did.
    rows = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="Why the file was not imported.")
    # Each run of a step takes the next attempt number; a run that finds a later number has been
    # replaced (its worker was thought dead) and writes nothing more.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    check_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "CSV import"
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.file_name})"

    @property
    def percent(self) -> int:
        if self.state in (ImportState.DONE, ImportState.CHECKED):
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_IMPORT_STATES


class CsvImportProblem(models.Model):
    """One problem of one row of an import's file: "line 7, column employee_count: …"."""

    csv_import = models.ForeignKey(CsvImport, on_delete=models.CASCADE, related_name="problems")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=50, blank=True)  # "" for the row as a whole
    message = models.TextField()

    class Meta:
        ordering = ["pk"]
        verbose_name = "CSV import problem"

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"
