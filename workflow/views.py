"""The workflow's web pages. Thin: they read through workflow.selectors, change things only by
calling workflow.services, and show a service's DomainError next to the form that caused it,
with the error's HTTP status (400 invalid, 403 not allowed, 409 conflict)."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts_app.models import Account
from accounts_app.services import account_create
from core.errors import DomainError
from core.ids import parse_id
from core.prepared import Prepared
from core.roles import SIDE_GROUPS, is_approver, is_ops, side_of
from core.web import member_required, paginate, show_domain_error
from workflow import selectors, services
from workflow.forms import (
    CommentForm,
    DecisionForm,
    EditNominationForm,
    NewAccountForm,
    NominationFilterForm,
    NominationForm,
    PublishForm,
    QueueFilterForm,
    WithdrawForm,
    links_from_text,
)
from workflow.models import (
    Cycle,
    Decision,
    ListVersion,
    Nomination,
    NominationKind,
    State,
)

User = get_user_model()


def _search(queryset, q: str, prefix: str = ""):
    return queryset.filter(
        Q(**{f"{prefix}name__icontains": q}) | Q(**{f"{prefix}domain__icontains": q})
    )


# My queue ------------------------------------------------------------------------------------


@member_required
def queue(request):
    """What waits for me (my side's decisions, my nominations with changes requested), my
    proposals, my mentions. The nomination tabs can be filtered and sorted (cycle, tier, how
    long it has waited); each row says how long it has waited against its cycle's reminder
    delay and whether this viewer can act on it. Queries do not grow with the rows."""
    user = request.user
    ops_only = side_of(user) is None
    cycles = list(Cycle.objects.order_by("-starts_on", "pk"))
    filters = QueueFilterForm(request.GET, cycles=cycles)
    f = filters.clean_kept()
    lists = {
        "waiting": selectors.queue_of(user),
        "proposals": selectors.proposals_of(user),
        "mentions": selectors.mentions_of(user),
    }
    tab = request.GET.get("tab")
    if tab not in lists:
        tab = "waiting"
    shown = lists[tab]
    if tab != "mentions":
        shown = selectors.queue_filter(shown, cycles=cycles, now=timezone.now(), **f)
    page = paginate(request, shown)
    # Filters narrow the rows, the order does not (and mentions are never filtered): then the
    # page has counted the tab's rows.
    narrowed = tab != "mentions" and f.keys() - {"sort"}
    counts = {
        name: page.paginator.count if name == tab and not narrowed else qs.count()
        for name, qs in lists.items()
    }
    if tab != "mentions":
        _mark_waits(page.object_list, user)
    return render(
        request,
        "workflow/queue.html",
        {
            "tab": tab,
            "counts": counts,
            "page": page,
            "filters": filters,
            "filtering": bool(f),
            "ops_only": ops_only,
            "open_cycles": [c for c in cycles if c.is_open],
        },
    )


def _mark_waits(nominations, user) -> None:
    """For each row: how long it has waited against its cycle's reminder delay (`waited`,
    `overdue`), and what this viewer can do (`act`: decide, resubmit or "" for nothing but
    comment). Presentation only: the services decide."""
    now = timezone.now()
    approver = is_approver(user)
    for n in nominations:
        n.waited = now - n.waited_from
        n.overdue = n.state == State.IN_REVIEW and n.waited >= timedelta(
            hours=n.cycle.reminder_after_hours
        )
        if n.proposer_id == user.pk:
            n.act = "resubmit" if n.state == State.CHANGES_REQUESTED else ""
        else:
            n.act = "decide" if approver and n.state == State.IN_REVIEW else ""


# Cycles --------------------------------------------------------------------------------------


@member_required
def cycle_list(request):
    cycles = Cycle.objects.annotate(
        on_list=Count("targets", filter=Q(targets__removed_at__isnull=True), distinct=True),
        in_review=Count("nominations", filter=Q(nominations__state=State.IN_REVIEW), distinct=True),
    ).order_by("-starts_on")
    return render(request, "workflow/cycle_list.html", {"cycles": cycles})


# The cycle page's queries that never change shape, compiled once per process
# (core/prepared.py): the page's list and its filters are compiled as usual.
_CYCLE = Prepared(lambda pk: Cycle.objects.filter(pk=pk), pk=int)
_OWNERS = Prepared(
    lambda: (
        User.objects.filter(groups__name__in=SIDE_GROUPS, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
        .values_list("pk", "first_name", "last_name", "username")
    )
)
_STATE_COUNTS = Prepared(
    lambda cycle_id: (
        Nomination.objects.filter(cycle_id=cycle_id)
        .values_list("state")
        .annotate(n=Count("pk"))
        .order_by()
    ),
    cycle_id=int,
)


def _owners():
    """(id, name) of the people who can own accounts, for the owner filter."""
    return [
        (pk, f"{first} {last}".strip() or username) for pk, first, last, username in _OWNERS.fetch()
    ]


@member_required
def cycle_detail(request, pk):
    """Tiers with capacity bars, then either the agreed list or the nominations, filtered and
    paginated. The number of queries does not depend on the number of rows."""
    found = _CYCLE.fetch(pk=int(pk))
    if not found:
        raise Http404("No cycle matches the given query.")
    cycle = found[0]
    view = "nominations" if request.GET.get("view") == "nominations" else "list"
    filters = NominationFilterForm(request.GET, owners=_owners())
    f = filters.clean_kept()

    targets = selectors.active_targets(cycle).order_by("tier", "account__name")
    nominations = selectors.nominations_for_list().filter(cycle=cycle).order_by("-updated_at")
    if f.get("q"):
        targets = _search(targets, f["q"], "account__")
        nominations = _search(nominations, f["q"], "account__")
    if f.get("tier"):
        targets = targets.filter(tier=f["tier"])
        nominations = nominations.filter(tier=f["tier"])
    if f.get("owner"):
        targets = targets.filter(Q(sales_owner=f["owner"]) | Q(marketing_owner=f["owner"]))
        nominations = nominations.filter(
            Q(account__sales_owner=f["owner"]) | Q(account__marketing_owner=f["owner"])
        )
    if f.get("state"):
        nominations = nominations.filter(state=f["state"])
    if f.get("side"):
        nominations = nominations.filter(proposer_side=f["side"])

    state_counts = dict(_STATE_COUNTS.fetch(cycle_id=cycle.pk))
    shown = targets if view == "list" else nominations
    # The nominations filtered by state alone, or not at all, are counted by state already.
    counted = view == "nominations" and f.keys() <= {"state"}
    known = state_counts.get(f["state"], 0) if "state" in f else sum(state_counts.values())
    page = paginate(request, shown, count=known if counted else None)
    return render(
        request,
        "workflow/cycle_detail.html",
        {
            "cycle": cycle,
            "view": view,
            "filters": filters,
            "filtering": bool(f),
            "tiers": selectors.tier_usage(cycle),
            "page": page,
            "state_counts": [(s, label, state_counts.get(s, 0)) for s, label in State.choices],
            "nominations_total": sum(state_counts.values()),
            "can_nominate": side_of(request.user) is not None and cycle.is_open,
        },
    )


# Nominate ------------------------------------------------------------------------------------


def conflicts_for(*, cycle: Cycle, account: Account, kind: str, tier, tiers: list[dict]):
    """What the proposer should know before submitting: (level, message, link) rows."""
    rows = []
    target = services.active_target(cycle, account)
    if target is not None:
        since = f"{target.added_at:%d %b %Y}"
        if kind == NominationKind.ADD:
            rows.append(
                (
                    "danger",
                    f"{account.name} is already on the {cycle.name} list in Tier {target.tier} "
                    f"(since {since}). Propose a tier change or a removal instead.",
                    None,
                )
            )
        else:
            rows.append(
                ("info", f"On the {cycle.name} list in Tier {target.tier} since {since}.", None)
            )
    elif kind in (NominationKind.CHANGE_TIER, NominationKind.REMOVE):
        rows.append(
            (
                "danger",
                f"{account.name} is not on the {cycle.name} list, so it can only be added.",
                None,
            )
        )
    open_one = selectors.open_nomination_for(cycle, account)
    if open_one is not None:
        rows.append(
            (
                "danger",
                f"An open nomination already exists for {account.name}: "
                f"#{open_one.pk} ({open_one.get_state_display().lower()}). "
                "Join that discussion instead.",
                reverse("workflow:nomination", args=[open_one.pk]),
            )
        )
    if kind != NominationKind.REMOVE and tier:
        usage = next((t for t in tiers if str(t["number"]) == str(tier)), None)
        if target is not None and str(target.tier) == str(tier):
            rows.append(("warning", f"{account.name} is already in Tier {tier}.", None))
        elif usage is not None and usage["full"]:
            rows.append(("warning", usage["full_message"], None))
    return rows


def _account_or_none(value):
    pk = parse_id(value)
    if pk is None:
        return None
    return Account.objects.select_related("sales_owner", "marketing_owner").filter(pk=pk).first()


@member_required
def nominate(request, pk):
    """Choose an account (search, or create one inline), then say what to propose. "Check"
    re-renders the form with the account's fit score and conflicts, so the proposer sees them
    before submitting, with or without JavaScript."""
    cycle = get_object_or_404(Cycle, pk=pk)
    if side_of(request.user) is None:
        raise PermissionDenied(
            "Only people on the marketing or sales side can propose accounts. "
            "Revenue operations can follow nominations and publish list versions."
        )
    url = reverse("workflow:nominate", args=[cycle.pk])
    status = 200
    checked = False
    new_account_form = NewAccountForm(prefix="new")
    form = None
    account = None

    if request.method == "POST":
        step = request.POST.get("step")
        if step == "create_account":
            new_account_form = NewAccountForm(request.POST, prefix="new")
            if new_account_form.is_valid():
                try:
                    account = account_create(by=request.user, **new_account_form.cleaned_data)
                except DomainError as error:
                    show_domain_error(new_account_form, error)
                    status = error.status
                else:
                    messages.success(request, f"{account.name} was added to the accounts.")
                    return redirect(f"{url}?account={account.pk}")
            else:
                status = 400
            account = None
        else:
            form = NominationForm(request.POST)
            account = _account_or_none(request.POST.get("account"))
            if account is None:
                raise Http404("No such account.")
            if step in ("draft", "submit") and form.is_valid():
                data = form.cleaned_data
                try:
                    nomination = services.nomination_create(
                        cycle=cycle,
                        account=account,
                        kind=data["kind"],
                        tier=data["tier"] or None,
                        rationale=data["rationale"],
                        evidence_links=links_from_text(data["evidence_links"]),
                        by=request.user,
                        submit=step == "submit",
                    )
                except DomainError as error:
                    show_domain_error(form, error)
                    status = error.status
                else:
                    messages.success(
                        request,
                        f"Submitted: {account.name} now waits for both sides' sign-off."
                        if step == "submit"
                        else "Saved as a draft. Submit it when it is ready.",
                    )
                    return redirect("workflow:nomination", pk=nomination.pk)
            elif step in ("draft", "submit"):
                status = 400
            else:
                checked = True
                form.is_valid()
    else:
        account = _account_or_none(request.GET.get("account"))
        if account is not None:
            form = NominationForm(
                initial={
                    "account": account.pk,
                    "kind": request.GET.get("kind") or NominationKind.ADD,
                    "tier": request.GET.get("tier", ""),
                }
            )

    q = request.GET.get("q", "").strip()
    results = None
    if q and account is None:
        results = _search(
            Account.objects.select_related("sales_owner", "marketing_owner"), q
        ).order_by("name")[:20]

    tiers = selectors.tier_usage(cycle)
    conflicts = []
    if account is not None and form is not None:
        kind = form.data.get("kind") if form.is_bound else form.initial.get("kind")
        tier = form.data.get("tier") if form.is_bound else form.initial.get("tier")
        conflicts = conflicts_for(cycle=cycle, account=account, kind=kind, tier=tier, tiers=tiers)
    return render(
        request,
        "workflow/nominate.html",
        {
            "cycle": cycle,
            "account": account,
            "form": form,
            "new_account_form": new_account_form,
            "q": q,
            "results": results,
            "tiers": tiers,
            "conflicts": conflicts,
            "checked": checked,
            "target": services.active_target(cycle, account) if account else None,
        },
        status=status,
    )


# Nomination page and its actions -------------------------------------------------------------


# What the nomination page never shows of its account and cycle (their CRM ids, provenance,
# dates): left out of the page's read, a fifth of its columns. The actions read them whole.
_ACCOUNT_UNSHOWN = (
    "key",
    "parent",
    "hubspot_company_id",
    "salesforce_account_id",
    "source",
    "created_at",
    "updated_at",
)
_CYCLE_UNSHOWN = ("starts_on", "ends_on", "escalate_after_hours", "created_at")


def _nominations(*, page: bool) -> QuerySet[Nomination]:
    people = ("proposer", "account__sales_owner", "account__marketing_owner")
    unshown = selectors.people_unshown(*people)
    if page:
        unshown += [f"account__{name}" for name in _ACCOUNT_UNSHOWN]
        unshown += [f"cycle__{name}" for name in _CYCLE_UNSHOWN]
    return Nomination.objects.select_related("account", "cycle", *people).defer(*unshown)


# The nomination page's queries, compiled once per process (core/prepared.py): compiling them
# was 2.3 ms of a 7.6 ms page, and the page is a third of what people read.
_NOMINATION_PAGE = Prepared(lambda pk: _nominations(page=True).filter(pk=pk), pk=int)
_SIGN_OFFS = Prepared(
    lambda nomination: (
        nomination.sign_offs.select_related("person")
        .defer(*selectors.people_unshown("person"))
        .order_by("created_at", "pk")
    ),
    nomination=Nomination,
)
_COMMENTS = Prepared(
    lambda nomination: (
        nomination.comments.select_related("author")
        .defer(*selectors.people_unshown("author"))
        .prefetch_related(Prefetch("mentions", selectors.people_named()))
    ),
    nomination=Nomination,
)
_EVENTS = Prepared(
    lambda nomination: nomination.events.select_related("actor").defer(
        *selectors.people_unshown("actor")
    ),
    nomination=Nomination,
)


def _nomination(pk, *, page: bool = False) -> Nomination:
    if not page:
        return get_object_or_404(_nominations(page=False), pk=pk)
    found = _NOMINATION_PAGE.fetch(pk=int(pk))
    if not found:
        raise Http404("No nomination matches the given query.")
    return found[0]


def _actions_for(nomination: Nomination, user, sign_offs, statuses) -> dict:
    """Which buttons this viewer sees. Presentation only: the services decide, and refuse
    anything else with a message."""
    mine = nomination.proposer_id == user.pk
    my_decision = next(
        (s for s in sign_offs if s.person_id == user.pk and s.round == nomination.round), None
    )
    in_review = nomination.state == State.IN_REVIEW
    decide = in_review and is_approver(user) and not mine and my_decision is None
    # A side at quorum needs no more approvals: its approvers may still object.
    my_side_status = statuses.get(side_of(user)) if decide else None
    return {
        "mine": mine,
        "my_decision": my_decision,
        "decide": decide,
        "approve": decide and not (my_side_status and my_side_status.reached),
        "my_side_status": my_side_status,
        "edit": mine and nomination.state in (State.DRAFT, State.CHANGES_REQUESTED),
        "submit": mine and nomination.state == State.DRAFT,
        "resubmit": mine and nomination.state == State.CHANGES_REQUESTED,
        "withdraw": mine and nomination.is_open,
    }


def _tier_full_warning(nomination: Nomination, target) -> str:
    """What an approver should know before approving, as the nominate form tells the proposer:
    the seat this nomination would take is in a full tier."""
    if nomination.kind == NominationKind.REMOVE or (target and target.tier == nomination.tier):
        return ""
    usage = next(
        (t for t in selectors.tier_usage(nomination.cycle) if t["number"] == nomination.tier), None
    )
    return usage["full_message"] if usage else ""


def _render_nomination(request, nomination, *, status=200, error=None, error_for="", **bound):
    user = request.user
    sign_offs = _SIGN_OFFS.fetch(nomination=nomination)
    statuses = services.side_statuses(nomination, sign_offs=sign_offs)
    actions = _actions_for(nomination, user, sign_offs, statuses)
    target = services.active_target(nomination.cycle, nomination.account)
    context = {
        "n": nomination,
        "account": nomination.account,
        "cycle": nomination.cycle,
        "actions": actions,
        "statuses": list(statuses.values()),
        "earlier_sign_offs": [s for s in sign_offs if s.round != nomination.round],
        "target": target,
        "tier_full": _tier_full_warning(nomination, target) if actions["approve"] else "",
        "comments": _COMMENTS.fetch(nomination=nomination),
        "events": _EVENTS.fetch(nomination=nomination),
        "decision_form": bound.get("decision_form") or DecisionForm(),
        "comment_form": bound.get("comment_form") or CommentForm(),
        "withdraw_form": bound.get("withdraw_form") or WithdrawForm(),
        "error": error,
        "error_for": error_for,
    }
    return render(request, "workflow/nomination_detail.html", context, status=status)


@member_required
def nomination_detail(request, pk):
    return _render_nomination(request, _nomination(pk, page=True))


def _decision_message(nomination: Nomination, decision: str) -> str:
    if nomination.state == State.APPROVED:
        where = {
            NominationKind.ADD: f"joins Tier {nomination.tier} of",
            NominationKind.CHANGE_TIER: f"moves to Tier {nomination.tier} of",
            NominationKind.REMOVE: "leaves",
        }[nomination.kind]
        return f"Both sides agreed: {nomination.account.name} {where} the {nomination.cycle} list."
    if nomination.state == State.REJECTED:
        return "You rejected this nomination. The proposer is told why."
    if nomination.state == State.CHANGES_REQUESTED:
        return "You asked for changes. The proposer can edit and resubmit."
    return "Your approval is recorded. The nomination waits for the other approvals it needs."


def _action(request, pk, form_class, name, call, success):
    """The shape every action shares: validate the form, call the service, redirect with a
    message; or re-render the page with the error next to the form, with its status."""
    nomination = _nomination(pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            result = call(nomination, form.cleaned_data)
        except DomainError as error:
            # The page shows the message inside the form that caused it (or, when this
            # viewer has no such form, at the top of their actions).
            return _render_nomination(
                request,
                _nomination(pk),
                status=error.status,
                error=error,
                error_for=name,
                **{f"{name}_form": form},
            )
        messages.success(request, success(result, form.cleaned_data))
        return redirect("workflow:nomination", pk=nomination.pk)
    return _render_nomination(
        request, nomination, status=400, error_for=name, **{f"{name}_form": form}
    )


@require_POST
@member_required
def nomination_decide(request, pk):
    return _action(
        request,
        pk,
        DecisionForm,
        "decision",
        lambda n, data: services.nomination_sign_off(
            nomination=n, by=request.user, decision=data["decision"], note=data["note"]
        ),
        lambda n, data: _decision_message(n, data["decision"]),
    )


@require_POST
@member_required
def nomination_withdraw(request, pk):
    return _action(
        request,
        pk,
        WithdrawForm,
        "withdraw",
        lambda n, data: services.nomination_withdraw(
            nomination=n, by=request.user, note=data["note"]
        ),
        lambda n, data: "You withdrew this nomination.",
    )


@require_POST
@member_required
def nomination_submit(request, pk):
    return _action(
        request,
        pk,
        forms.Form,
        "submit",
        lambda n, data: services.nomination_submit(nomination=n, by=request.user),
        lambda n, data: "Submitted: it now waits for both sides' sign-off.",
    )


@require_POST
@member_required
def comment_create(request, pk):
    """Post a comment, then back to the page (POST-redirect-GET). An empty one is not posted:
    back to the page with the reason, so that a reload does not send the form again (there is
    no text to keep). Other refusals re-render the form with the text kept."""
    nomination = _nomination(pk)
    url = reverse("workflow:nomination", args=[nomination.pk])
    if not (request.POST.get("body") or "").strip():
        messages.error(request, "Your comment is not posted: write something first.")
        return redirect(url)
    form = CommentForm(request.POST)
    status, error = 400, None
    if form.is_valid():
        try:
            comment = services.comment_create(
                nomination=nomination, by=request.user, body=form.cleaned_data["body"]
            )
        except DomainError as e:
            status, error = e.status, e
        else:
            messages.success(request, "Your comment is posted.")
            nobody = services.mentions_of_nobody(comment.body)
            if nobody:
                names = ", ".join(f"@{name}" for name in nobody)
                messages.warning(
                    request,
                    f"No one here has the username{pluralize(len(nobody))} {names}, so no one "
                    f"was notified of {'that mention' if len(nobody) == 1 else 'those mentions'}. "
                    "Check the spelling (usernames are case-sensitive) and mention them again.",
                )
            return redirect(f"{url}#comment-{comment.pk}")
    return _render_nomination(
        request, nomination, status=status, error=error, error_for="comment", comment_form=form
    )


@member_required
def nomination_edit(request, pk):
    """The proposer edits a draft (save, or save and submit), or answers a request for changes
    (resubmit: a new round)."""
    nomination = _nomination(pk)
    if request.method == "GET" and nomination.proposer_id != request.user.pk:
        raise PermissionDenied("Only the proposer can edit this nomination.")
    if request.method == "GET" and nomination.state not in (State.DRAFT, State.CHANGES_REQUESTED):
        messages.info(request, f"This nomination is {nomination.get_state_display().lower()}.")
        return redirect("workflow:nomination", pk=nomination.pk)
    status = 200
    if request.method == "POST":
        form = EditNominationForm(request.POST, nomination=nomination)
        if form.is_valid():
            data = form.cleaned_data
            edits = {
                "tier": data.get("tier") or None,
                "rationale": data["rationale"],
                "evidence_links": links_from_text(data["evidence_links"]),
            }
            step = request.POST.get("step")
            try:
                if step == "resubmit":
                    services.nomination_resubmit(
                        nomination=nomination, by=request.user, note=data.get("note", ""), **edits
                    )
                    done = "Resubmitted: a new round of sign-offs begins."
                else:
                    services.nomination_update(nomination=nomination, by=request.user, **edits)
                    done = "Your changes are saved."
                    if step == "submit":
                        services.nomination_submit(nomination=nomination, by=request.user)
                        done = "Submitted: it now waits for both sides' sign-off."
            except DomainError as error:
                show_domain_error(form, error)
                status = error.status
            else:
                messages.success(request, done)
                return redirect("workflow:nomination", pk=nomination.pk)
        else:
            status = 400
        nomination = _nomination(pk)
    else:
        form = EditNominationForm(
            nomination=nomination,
            initial={
                "tier": str(nomination.tier or ""),
                "rationale": nomination.rationale,
                "evidence_links": nomination.evidence_links,
            },
        )
    # What the reviewers asked for in this round: the proposer answers it here.
    asked = (
        nomination.sign_offs.filter(round=nomination.round, decision=Decision.REQUEST_CHANGES)
        .select_related("person")
        .order_by("created_at", "pk")
        if nomination.state == State.CHANGES_REQUESTED
        else []
    )
    return render(
        request,
        "workflow/nomination_edit.html",
        {
            "n": nomination,
            "form": form,
            "tiers": selectors.tier_usage(nomination.cycle),
            "asked": asked,
        },
        status=status,
    )


# List versions -------------------------------------------------------------------------------


@member_required
def versions(request, pk):
    cycle = get_object_or_404(Cycle, pk=pk)
    form = PublishForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                version = services.list_version_publish(
                    cycle=cycle, by=request.user, note=form.cleaned_data["note"]
                )
            except DomainError as error:
                show_domain_error(form, error)
                status = error.status
            else:
                messages.success(
                    request, f"Version {version.number} of the {cycle} list is published."
                )
                return redirect("workflow:version", pk=cycle.pk, number=version.number)
        else:
            status = 400
    rows = list(cycle.versions.select_related("published_by").order_by("-number"))
    return render(
        request,
        "workflow/versions.html",
        {
            "cycle": cycle,
            "versions": rows,
            "form": form,
            "can_publish": is_ops(request.user),
            "on_list": sum(selectors.seats_taken([cycle.pk]).values()),
        },
        status=status,
    )


@member_required
def version_compare(request, pk):
    """The versions page's small form: ?old=N&new=M → the diff page."""
    cycle = get_object_or_404(Cycle, pk=pk)
    try:
        old, new = sorted({parse_id(request.GET.get("old")), parse_id(request.GET.get("new"))})
    except (TypeError, ValueError):  # a number missing, out of range, or the same twice
        messages.error(request, "Choose two different versions to compare.")
        return redirect("workflow:versions", pk=cycle.pk)
    url = reverse("workflow:version", kwargs={"pk": cycle.pk, "number": new})
    return redirect(f"{url}?against={old}")


@member_required
def version_detail(request, pk, number):
    """One version's entries, or with ?against=N what changed between version N and this."""
    cycle = get_object_or_404(Cycle, pk=pk)
    version = get_object_or_404(
        ListVersion.objects.select_related("published_by"), cycle=cycle, number=number
    )
    others = list(cycle.versions.exclude(pk=version.pk).values_list("number", flat=True))
    diff = None
    against = request.GET.get("against")
    if against:
        try:
            other = cycle.versions.get(number=parse_id(against) or 0)
        except ListVersion.DoesNotExist:
            raise Http404("No such version to compare with.") from None
        diff = selectors.list_version_diff(old=other, new=version)
    return render(
        request,
        "workflow/version_detail.html",
        {
            "cycle": cycle,
            "version": version,
            "entries": sorted(
                version.entries, key=lambda e: (e["tier"], e["account_name"].casefold())
            ),
            "diff": diff,
            "others": others,
        },
    )
