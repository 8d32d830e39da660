"""Forms of the workflow pages. They only parse and present input: every rule and every write
is in workflow.services, which the views call with the cleaned values."""

from django import forms

from core.ids import MAX_INT
from core.text import MAX_LINK, MAX_TEXT
from workflow.models import TIERS, Decision, NominationKind, State
from workflow.selectors import OVERDUE, QUEUE_SORTS

MAX_ID = 2**63 - 1

TIER_CHOICES = [("", "Choose a tier")] + [(str(n), f"Tier {n}") for n in TIERS]


def links_from_text(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class EvidenceLinksField(forms.CharField):
    default_max_length = 10 * (MAX_LINK + 2)  # the service checks each link and their number
    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "https://…  (one link per line)"})

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", self.default_max_length)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value


class NominationForm(forms.Form):
    """What to propose for a chosen account. Rationale is checked by the service, so that the
    "Check" step can run on a half-filled form."""

    account = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=MAX_ID)
    kind = forms.ChoiceField(
        choices=NominationKind.choices, initial=NominationKind.ADD, label="Proposal"
    )
    tier = forms.ChoiceField(choices=TIER_CHOICES, required=False)
    rationale = forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "Why this account, why this tier, why now."}
        ),
        help_text="The other side reads this first.",
    )
    evidence_links = EvidenceLinksField(
        required=False, label="Evidence links", help_text="One web address per line, at most 10."
    )


class NewAccountForm(forms.Form):
    name = forms.CharField(max_length=200, label="Company name")
    domain = forms.CharField(max_length=253, help_text="e.g. example.com")
    industry = forms.CharField(max_length=100, required=False)
    employee_count = forms.IntegerField(
        min_value=0, max_value=MAX_INT, required=False, label="Employees"
    )
    country = forms.CharField(
        max_length=2, required=False, help_text="Two-letter code, e.g. DE or US."
    )
    region = forms.CharField(max_length=50, required=False, help_text="e.g. EMEA, NA, APAC.")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices)
    note = forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to reject or to request changes.",
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a comment… @username"}),
        help_text="Mention someone with @username to notify them.",
    )


class WithdrawForm(forms.Form):
    note = forms.CharField(required=False, max_length=MAX_TEXT, label="Why withdraw? (optional)")


class EditNominationForm(forms.Form):
    """Edits of a draft, or the answer to a request for changes (a new round)."""

    tier = forms.ChoiceField(choices=TIER_CHOICES, required=False)
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), required=False, max_length=MAX_TEXT
    )
    evidence_links = EvidenceLinksField(required=False, label="Evidence links")
    note = forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        label="What changed (for the reviewers)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, nomination, **kwargs):
        super().__init__(*args, **kwargs)
        if nomination.kind == NominationKind.REMOVE:
            del self.fields["tier"]
        if nomination.state != State.CHANGES_REQUESTED:
            del self.fields["note"]


class PublishForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "optional"}),
    )


class KeptFiltersForm(forms.Form):
    """Filters of a list page. Unknown values are ignored rather than refused."""

    def clean_kept(self) -> dict:
        """The valid filters only: a stale link with a bad value still shows the page."""
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in ("", None)}


TIER_FILTER_CHOICES = [("", "Any tier")] + [(str(n), f"Tier {n}") for n in TIERS]


class QueueFilterForm(KeptFiltersForm):
    """My queue's filters and order (cycle, tier, how long it has waited)."""

    cycle = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    tier = forms.ChoiceField(choices=TIER_FILTER_CHOICES, required=False)
    age = forms.ChoiceField(
        choices=[
            ("", "Any wait"),
            (OVERDUE, "Past the reminder delay"),
            ("1", "1 day or more"),
            ("7", "7 days or more"),
        ],
        required=False,
        label="Waited",
    )
    sort = forms.ChoiceField(
        choices=[("", "Default order"), *((k, label) for k, (label, _) in QUEUE_SORTS.items())],
        required=False,
        label="Order",
    )

    def __init__(self, *args, cycles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cycle"].choices = [("", "Any cycle")] + [(c.pk, c.name) for c in cycles]


class NominationFilterForm(KeptFiltersForm):
    """The cycle page's filters. Unknown values are ignored rather than refused."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    state = forms.ChoiceField(choices=[("", "Any state"), *State.choices], required=False)
    tier = forms.ChoiceField(
        choices=[("", "Any tier")] + [(str(n), f"Tier {n}") for n in TIERS], required=False
    )
    side = forms.ChoiceField(
        choices=[("", "Either side"), ("marketing", "Marketing"), ("sales", "Sales")],
        required=False,
        label="Proposed by",
    )
    # One of `owners`. Not a ChoiceField: with every person of both sides as a choice, making
    # and checking the choices took a millisecond a page; the page lists them with
    # select_options.
    owner = forms.IntegerField(required=False)

    def __init__(self, *args, owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_choices = [("", "Any owner"), *owners]  # (id, name)
        self._owner_ids = {pk for pk, _name in owners}

    def clean_owner(self):
        owner = self.cleaned_data["owner"]
        if owner is not None and owner not in self._owner_ids:
            raise forms.ValidationError("Not a person who can own accounts.", code="invalid_choice")
        return owner
