"""Input serializers check the shape of a request; the services check the rules. Output
serializers say what each answer holds. None of them writes anything."""

from collections.abc import Mapping

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts_app.models import Account, ActivityKind, BuyingRole
from accounts_app.services import ACTIVITIES_PER_REQUEST
from core.ids import MAX_INT
from core.roles import Side
from core.text import MAX_TEXT
from workflow.models import (
    TIERS,
    Comment,
    Cycle,
    CycleAction,
    CycleEvent,
    CycleState,
    Decision,
    EventAction,
    Nomination,
    NominationEvent,
    NominationKind,
    SignOff,
    State,
    TargetAccount,
)

User = get_user_model()

MAX_SMALL_INT = 32_767
MAX_ID = 2**63 - 1
TIER_CHOICES = [(n, f"Tier {n}") for n in TIERS]
SIDE_FIELD_MESSAGE = (
    "The side is never taken from a request: it is the side of the person signed in."
)


# --- Input ------------------------------------------------------------------------------------


def _is_whole_number(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def _json_type_error(field, value) -> str | None:
    """What is wrong with the JSON type of `value` for `field`, if anything. DRF would turn
    "12" into 12 or 12 into "12"; the API takes each value in the type its schema gives."""
    if value is None:
        return None  # the field says whether null is allowed
    if isinstance(field, serializers.ListField):
        if isinstance(value, list):
            for index, item in enumerate(value):
                problem = _json_type_error(field.child, item)
                if problem:
                    return f"Item {index}: {problem}"
        return None  # a list field refuses anything else itself
    if isinstance(field, serializers.ChoiceField):
        numeric = all(isinstance(key, int) for key in field.choices)
        if numeric and not _is_whole_number(value):
            return "Expected a number, e.g. 1."
        if not numeric and not isinstance(value, str):
            return "Expected a string."
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Expected true or false."
    if isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return None if _is_whole_number(value) else "Expected a whole number."
    if isinstance(
        field,
        serializers.CharField
        | serializers.DecimalField
        | serializers.DateField
        | serializers.DateTimeField,
    ):
        return None if isinstance(value, str) else "Expected a string."
    return None


class StrictInput(serializers.Serializer):
    """Fields not listed here are refused with 400 (a typo is not silently ignored), and so is
    `side`: the side is always that of the person signed in. Each value must have the JSON type
    the schema gives: a string where a string is expected (amounts too, e.g. "1250000.00"), a
    number where a number is."""

    takes_side = False  # True where `side` is a fact of the data, not the caller's (activities)

    def to_internal_value(self, data):
        refused = {}
        if isinstance(data, Mapping):
            for name, value in data.items():
                field = self.fields.get(name)
                if name == "side" and not self.takes_side:
                    refused[name] = [SIDE_FIELD_MESSAGE]
                elif field is None or field.read_only:
                    refused[name] = ["Unknown field."]
                elif problem := _json_type_error(field, value):
                    refused[name] = [problem]
        if not refused:
            return super().to_internal_value(data)
        # Report the other fields' problems too, in one answer.
        others = {}
        try:
            super().to_internal_value({k: v for k, v in data.items() if k not in refused})
        except serializers.ValidationError as error:
            if isinstance(error.detail, Mapping):
                others = {k: v for k, v in error.detail.items() if k not in refused}
        raise serializers.ValidationError({**others, **refused})


def _text(max_length: int = MAX_TEXT, **kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, trim_whitespace=False, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class _ActivePeople(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return User.objects.filter(is_active=True)


class AccountCreateInput(StrictInput):
    name = serializers.CharField(max_length=200)
    domain = serializers.CharField(
        max_length=2000, help_text="A domain or web address; stored normalised (example.com)."
    )
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    employee_count = serializers.IntegerField(
        min_value=0, max_value=MAX_INT, required=False, allow_null=True
    )
    annual_revenue = serializers.DecimalField(
        max_digits=16, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2, e.g. DE."
    )
    region = serializers.CharField(max_length=50, required=False, allow_blank=True)
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), required=False, allow_null=True
    )
    sales_owner = _ActivePeople(required=False, allow_null=True)
    marketing_owner = _ActivePeople(required=False, allow_null=True)
    hubspot_company_id = serializers.CharField(max_length=50, required=False, allow_blank=True)
    salesforce_account_id = serializers.CharField(max_length=18, required=False, allow_blank=True)


class AccountUpdateInput(AccountCreateInput):
    """Every field optional: only those sent change."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class TierInput(StrictInput):
    number = serializers.ChoiceField(choices=TIER_CHOICES)
    capacity = serializers.IntegerField(min_value=0, max_value=MAX_INT)
    required_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=BuyingRole.choices),
        required=False,
        default=list,
        max_length=len(BuyingRole.choices),
    )


class CycleCreateInput(StrictInput):
    name = serializers.CharField(max_length=100)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    state = serializers.ChoiceField(choices=CycleState.choices, default=CycleState.PLANNING)
    marketing_quorum = serializers.IntegerField(min_value=1, max_value=MAX_SMALL_INT, default=1)
    sales_quorum = serializers.IntegerField(min_value=1, max_value=MAX_SMALL_INT, default=1)
    proposer_counts = serializers.BooleanField(default=True)
    reminder_after_hours = serializers.IntegerField(min_value=0, max_value=MAX_INT, default=72)
    escalate_after_hours = serializers.IntegerField(min_value=0, max_value=MAX_INT, default=168)
    tiers = TierInput(many=True, help_text="Exactly the three tiers 1, 2 and 3.")

    def validate_tiers(self, tiers):
        numbers = sorted(t["number"] for t in tiers)
        if numbers != list(TIERS):
            raise serializers.ValidationError("Give each of the tiers 1, 2 and 3 exactly once.")
        return tiers


class TierUpdateInput(StrictInput):
    number = serializers.ChoiceField(choices=TIER_CHOICES)
    capacity = serializers.IntegerField(
        min_value=0,
        max_value=MAX_INT,
        required=False,
        help_text="Never below the accounts already in the tier (409).",
    )
    required_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=BuyingRole.choices),
        required=False,
        max_length=len(BuyingRole.choices),
    )


class CycleUpdateInput(StrictInput):
    """Every field optional: only those sent change."""

    state = serializers.ChoiceField(
        choices=CycleState.choices,
        required=False,
        help_text="planning → active → closed; closed → active reopens, with a `reason`.",
    )
    reason = _text(
        required=False,
        allow_blank=True,
        help_text="Why: needed to reopen a closed cycle; kept as the note of the change.",
    )
    marketing_quorum = serializers.IntegerField(
        min_value=1,
        max_value=MAX_SMALL_INT,
        required=False,
        help_text="Lowering a quorum approves the nominations in review that now have enough "
        "approvals on both sides (409 if one's tier is full).",
    )
    sales_quorum = serializers.IntegerField(min_value=1, max_value=MAX_SMALL_INT, required=False)
    proposer_counts = serializers.BooleanField(required=False)
    reminder_after_hours = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)
    escalate_after_hours = serializers.IntegerField(min_value=0, max_value=MAX_INT, required=False)
    tiers = TierUpdateInput(many=True, required=False, help_text="Only the tiers to change.")

    def validate_tiers(self, tiers):
        numbers = [t["number"] for t in tiers]
        if len(set(numbers)) != len(numbers):
            raise serializers.ValidationError("Give each tier at most once.")
        return tiers


class NominationCreateInput(StrictInput):
    cycle = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The cycle's id.")
    account = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="The account's id (or give account_domain).",
    )
    account_domain = serializers.CharField(
        max_length=2000, required=False, help_text="The account's domain (or give account)."
    )
    kind = serializers.ChoiceField(choices=NominationKind.choices)
    tier = serializers.ChoiceField(
        choices=TIER_CHOICES,
        required=False,
        allow_null=True,
        help_text="1, 2 or 3; none for remove.",
    )
    rationale = _text()
    evidence_links = serializers.ListField(
        child=serializers.CharField(max_length=2000), required=False, default=list, max_length=50
    )

    def validate(self, attrs):
        if ("account" in attrs) == ("account_domain" in attrs):
            raise serializers.ValidationError(
                {"account": ["Give either account (an id) or account_domain, not both."]}
            )
        return attrs


class DecisionInput(StrictInput):
    decision = serializers.ChoiceField(choices=Decision.choices)
    note = _text(required=False, allow_blank=True, default="")


class CommentInput(StrictInput):
    body = _text()


class WithdrawInput(StrictInput):
    note = _text(required=False, allow_blank=True, default="")


class ResubmitInput(StrictInput):
    tier = serializers.ChoiceField(choices=TIER_CHOICES, required=False, allow_null=True)
    rationale = _text(required=False)
    evidence_links = serializers.ListField(
        child=serializers.CharField(max_length=2000), required=False, max_length=50
    )
    note = _text(required=False, allow_blank=True, default="")


class ServiceAccountInput(StrictInput):
    username = serializers.CharField(max_length=150, help_text="e.g. crm-sync")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class TargetAccountQuery(serializers.Serializer):
    updated_since = serializers.DateTimeField(
        required=False,
        help_text=(
            "ISO 8601, e.g. 2027-01-31T12:00:00Z. Returns entries added, changed or removed "
            "after this time (removed ones included)."
        ),
    )
    tier = serializers.ChoiceField(choices=TIER_CHOICES, required=False)
    include_removed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Without updated_since, also list entries that were removed.",
    )


class DiffQuery(serializers.Serializer):
    against = serializers.IntegerField(
        min_value=1, max_value=MAX_INT, help_text="The number of the version to compare with."
    )


# --- Output -----------------------------------------------------------------------------------


class PersonOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()
    email = serializers.EmailField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class AccountOutput(serializers.ModelSerializer):
    sales_owner = PersonOutput(allow_null=True)
    marketing_owner = PersonOutput(allow_null=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "key",
            "name",
            "domain",
            "industry",
            "employee_count",
            "annual_revenue",
            "country",
            "region",
            "parent",
            "hubspot_company_id",
            "salesforce_account_id",
            "sales_owner",
            "marketing_owner",
            "fit_score",
            "source",
            "created_at",
            "updated_at",
        ]


class AccountBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.UUIDField()
    name = serializers.CharField()
    domain = serializers.CharField()


class TierOutput(serializers.Serializer):
    number = serializers.IntegerField()
    capacity = serializers.IntegerField()
    used = serializers.IntegerField(help_text="Accounts on the list in this tier now.")
    required_roles = serializers.ListField(child=serializers.ChoiceField(BuyingRole.choices))


class CycleOutput(serializers.ModelSerializer):
    tiers = serializers.SerializerMethodField()

    class Meta:
        model = Cycle
        fields = [
            "id",
            "name",
            "starts_on",
            "ends_on",
            "state",
            "marketing_quorum",
            "sales_quorum",
            "proposer_counts",
            "reminder_after_hours",
            "escalate_after_hours",
            "tiers",
            "created_at",
        ]

    @extend_schema_field(TierOutput(many=True))
    def get_tiers(self, cycle):
        used = self.context.get("tier_usage", {})
        return [
            {
                "number": tier.number,
                "capacity": tier.capacity,
                "used": used.get((cycle.pk, tier.number), 0),
                "required_roles": tier.required_roles,
            }
            for tier in cycle.tiers.all()
        ]


class DecisionOutput(serializers.ModelSerializer):
    person = PersonOutput()

    class Meta:
        model = SignOff
        fields = [
            "id",
            "round",
            "person",
            "side",
            "decision",
            "note",
            "by_submission",
            "created_at",
        ]


class SideStatusOutput(serializers.Serializer):
    side = serializers.ChoiceField(choices=Side.choices)
    quorum = serializers.IntegerField(help_text="Approvals this side must give.")
    approvals = serializers.IntegerField(help_text="Approvals given in the current round.")
    reached = serializers.BooleanField()
    decisions = DecisionOutput(many=True, help_text="This side's decisions in the current round.")


class SignOffStatusOutput(serializers.Serializer):
    marketing = SideStatusOutput()
    sales = SideStatusOutput()


class NominationOutput(serializers.ModelSerializer):
    account = AccountBriefOutput()
    proposer = PersonOutput()
    state = serializers.ChoiceField(choices=State.choices)

    class Meta:
        model = Nomination
        fields = [
            "id",
            "cycle",
            "account",
            "kind",
            "tier",
            "state",
            "round",
            "rationale",
            "evidence_links",
            "proposer",
            "proposer_side",
            "fit_score_at_proposal",
            "created_at",
            "submitted_at",
            "decided_at",
            "updated_at",
        ]


class NominationDetailOutput(NominationOutput):
    sign_off_status = serializers.SerializerMethodField(
        help_text="Each side's sign-off status in the current round."
    )

    class Meta(NominationOutput.Meta):
        fields = [*NominationOutput.Meta.fields, "sign_off_status"]

    @extend_schema_field(SignOffStatusOutput)
    def get_sign_off_status(self, nomination):
        from workflow.services import side_statuses

        statuses = side_statuses(nomination, getattr(nomination, "current_sign_offs", None))
        return {
            side.value: {
                "side": side.value,
                "quorum": status.quorum,
                "approvals": len(status.approvals),
                "reached": status.reached,
                "decisions": DecisionOutput(status.decisions, many=True).data,
            }
            for side, status in statuses.items()
        }


class DecisionResultOutput(serializers.Serializer):
    decision = DecisionOutput()
    nomination = NominationDetailOutput()


class CommentOutput(serializers.ModelSerializer):
    author = PersonOutput()
    mentions = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "nomination", "author", "author_side", "body", "mentions", "created_at"]


class EventOutput(serializers.ModelSerializer):
    actor = PersonOutput(allow_null=True)
    action = serializers.ChoiceField(choices=EventAction.choices)

    class Meta:
        model = NominationEvent
        fields = [
            "id",
            "actor",
            "actor_side",
            "action",
            "from_state",
            "to_state",
            "round",
            "note",
            "changes",
            "created_at",
        ]


class CycleChangeOutput(serializers.Serializer):
    field = serializers.CharField(help_text="e.g. sales_quorum, capacity, required_roles.")
    tier = serializers.IntegerField(
        allow_null=True, help_text="The tier whose setting changed; null for the cycle's own."
    )
    old = serializers.JSONField()
    new = serializers.JSONField()


class CycleEventOutput(serializers.ModelSerializer):
    actor = PersonOutput(allow_null=True)
    action = serializers.ChoiceField(choices=CycleAction.choices)
    changes = CycleChangeOutput(many=True, help_text="What a settings change changed.")

    class Meta:
        model = CycleEvent
        fields = [
            "id",
            "actor",
            "action",
            "from_state",
            "to_state",
            "note",
            "changes",
            "created_at",
        ]


class TargetAccountAccountOutput(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.UUIDField(help_text="Accord's account key (the CRM's unique property).")
    name = serializers.CharField()
    domain = serializers.CharField()
    industry = serializers.CharField()
    employee_count = serializers.IntegerField(allow_null=True)
    country = serializers.CharField()
    region = serializers.CharField()
    hubspot_company_id = serializers.CharField()
    salesforce_account_id = serializers.CharField()


class TargetAccountOutput(serializers.ModelSerializer):
    account = TargetAccountAccountOutput()
    sales_owner = PersonOutput(allow_null=True)
    marketing_owner = PersonOutput(allow_null=True)
    updated_at = serializers.DateTimeField(
        source="changed_at",
        help_text="When this entry or its account last changed (what updated_since compares).",
    )
    active = serializers.BooleanField(source="is_active", help_text="False once removed.")

    class Meta:
        model = TargetAccount
        fields = [
            "id",
            "account",
            "tier",
            "sales_owner",
            "marketing_owner",
            "nomination",
            "last_nomination",
            "added_at",
            "removed_at",
            "updated_at",
            "active",
        ]


_OWNER_COLUMNS = {
    prefix: tuple(
        f"{prefix}__{field}" for field in ("id", "username", "first_name", "last_name", "email")
    )
    for prefix in ("sales_owner", "marketing_owner")
}


def target_account_representations(rows) -> list[dict]:
    """TargetAccountOutput's representation of rows of api.selectors.TARGET_ACCOUNT_COLUMNS,
    built directly: a CRM job reads the list thousands of entries at a time, and this is
    several times faster than the serializer (tests/api/test_target_accounts.py checks that
    both give the same answer). Owners and times repeat across a page, so each is built once.
    """
    zone = timezone.get_current_timezone()
    people: dict[int, dict] = {}
    times: dict = {None: None}

    def when(value):
        # What serializers.DateTimeField gives: ISO 8601 in the current time zone, Z for UTC.
        text = times.get(value)
        if text is None and value is not None:
            text = value.astimezone(zone).isoformat()
            if text.endswith("+00:00"):
                text = text[:-6] + "Z"
            times[value] = text
        return text

    def person(row, prefix):
        id_, username, first_name, last_name, email = _OWNER_COLUMNS[prefix]
        pk = row[id_]
        if pk is None:
            return None
        if pk not in people:
            name = f"{row[first_name]} {row[last_name]}".strip() or row[username]
            people[pk] = {"id": pk, "username": row[username], "name": name, "email": row[email]}
        return people[pk]

    return [
        {
            "id": row["id"],
            "account": {
                "id": row["account_id"],
                "key": str(row["account__key"]),
                "name": row["account__name"],
                "domain": row["account__domain"],
                "industry": row["account__industry"],
                "employee_count": row["account__employee_count"],
                "country": row["account__country"],
                "region": row["account__region"],
                "hubspot_company_id": row["account__hubspot_company_id"],
                "salesforce_account_id": row["account__salesforce_account_id"],
            },
            "tier": row["tier"],
            "sales_owner": person(row, "sales_owner"),
            "marketing_owner": person(row, "marketing_owner"),
            "nomination": row["nomination_id"],
            "last_nomination": row["last_nomination_id"],
            "added_at": when(row["added_at"]),
            "removed_at": when(row["removed_at"]),
            "updated_at": when(max(row["updated_at"], row["account__updated_at"])),
            "active": row["removed_at"] is None,
        }
        for row in rows
    ]


class VersionEntryOutput(serializers.Serializer):
    account_id = serializers.IntegerField()
    account_name = serializers.CharField()
    domain = serializers.CharField()
    tier = serializers.IntegerField()
    nomination_id = serializers.IntegerField(allow_null=True)


class VersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    note = serializers.CharField()
    published_at = serializers.DateTimeField()
    published_by = PersonOutput()


class VersionDetailOutput(VersionOutput):
    entries = VersionEntryOutput(many=True)


class TierChangeOutput(VersionEntryOutput):
    old_tier = serializers.IntegerField()


class DiffOutput(serializers.Serializer):
    old = serializers.IntegerField(source="old.number", help_text="The older version's number.")
    new = serializers.IntegerField(source="new.number", help_text="The newer version's number.")
    added = VersionEntryOutput(many=True)
    removed = VersionEntryOutput(many=True)
    tier_changed = TierChangeOutput(many=True)


class TokenOutput(serializers.Serializer):
    """What anyone may know of a token: never the key, which is shown once when it is made."""

    prefix = serializers.CharField(
        source="token_key", help_text="The key's first characters, to tell tokens apart."
    )
    created_at = serializers.DateTimeField(source="created")
    last_used_at = serializers.DateTimeField(
        allow_null=True, help_text="Recorded at most once a minute."
    )
    expires_at = serializers.DateTimeField(
        source="expiry", allow_null=True, help_text="null: until it is revoked."
    )


class ServiceAccountOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    description = serializers.CharField()
    created_by = PersonOutput(allow_null=True)
    created_at = serializers.DateTimeField()
    has_token = serializers.SerializerMethodField()
    current_token = serializers.SerializerMethodField()

    def get_has_token(self, service_account) -> bool:
        return bool(service_account.user.live_tokens)

    @extend_schema_field(TokenOutput(allow_null=True))
    def get_current_token(self, service_account):
        """The token that works (the newest, should there be several), or null."""
        tokens = service_account.user.live_tokens
        return TokenOutput(tokens[0]).data if tokens else None


class ServiceAccountCreatedOutput(ServiceAccountOutput):
    token = serializers.CharField(
        allow_null=True,
        help_text=(
            "The key, shown once: send it as `Authorization: Token <token>`. Only its digest is "
            "kept, so a repeat of the request with the same Idempotency-Key answers null here; "
            "rotate to get another."
        ),
    )


class MeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    side = serializers.ChoiceField(choices=Side.choices, allow_null=True)
    is_approver = serializers.BooleanField()
    is_ops = serializers.BooleanField()
    is_service_account = serializers.BooleanField()


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
)
class _FieldErrors(serializers.DictField):
    pass


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in plain words.")
    code = serializers.CharField(help_text="e.g. invalid, not_authenticated, conflict, throttled")
    fields = _FieldErrors(
        required=False, help_text="The fields at fault and their messages (400, some 409)."
    )


# --- Activities from marketing tools and scripts (accounts_app.services.activities_ingest) ----


class ActivityRowInput(StrictInput):
    takes_side = True  # who performed the activity: a fact the tool reports

    account = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The account's id; or give account_key or domain.",
    )
    account_key = serializers.UUIDField(
        required=False, help_text="Accord's account key (the key written to the CRM)."
    )
    domain = serializers.CharField(
        required=False, max_length=253, help_text="The account's domain, e.g. globex.com."
    )
    contact_email = serializers.EmailField(
        required=False, help_text="A contact of that account (optional)."
    )
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    side = serializers.ChoiceField(choices=Side.choices, help_text="Who performed it.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601, e.g. 2027-01-31T12:00:00Z.")
    subject = serializers.CharField(required=False, allow_blank=True, max_length=200)
    external_id = serializers.CharField(
        max_length=100,
        help_text=(
            "Your id for this activity (1–100 visible ASCII characters), unique among yours: "
            "sending it again updates the activity instead of adding another."
        ),
    )


class ActivityBatchInput(StrictInput):
    rows = ActivityRowInput(
        many=True,
        allow_empty=False,
        max_length=ACTIVITIES_PER_REQUEST,
        help_text=f"1 to {ACTIVITIES_PER_REQUEST:,} activities.",
        error_messages={
            "max_length": f"Send at most {ACTIVITIES_PER_REQUEST:,} activities a request.",
            "empty": "Send at least one activity.",
        },
    )


class ActivityResultOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="The row's position in `rows`, from 0.")
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class ActivityBatchOutput(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    activities = ActivityResultOutput(many=True)
