"""Account pages and the ideal customer profile page. Reads only, plus the ICP sign-off, which
calls accounts_app.services.icp_sign_off. What an account is in the planning cycles (its
nominations, its places on the lists) is added to its page by workflow, through
core.hooks.account_page: accounts_app never imports workflow."""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts_app.forms import AccountSearchForm, IcpSignOffForm
from accounts_app.models import (
    Account,
    BuyingRole,
    IcpState,
    IcpVersion,
    OpportunityStatus,
)
from accounts_app.services import icp_sign_off as icp_sign_off_service
from core import hooks
from core.agreement_views import agreement_rows
from core.errors import DomainError
from core.roles import side_of
from core.web import member_required, paginate, show_domain_error

# Contacts are listed in the order a seller reads a buying committee.
ROLE_ORDER = [role.value for role in BuyingRole]

# The engagement timeline is bounded: the recent past, and no more than a page of it.
TIMELINE_DAYS = 90
TIMELINE_ITEMS = 50


@member_required
def account_search(request):
    form = AccountSearchForm(request.GET)
    accounts = Account.objects.select_related("sales_owner", "marketing_owner").order_by("name")
    q = form.cleaned_data.get("q", "") if form.is_valid() else ""
    if q:
        accounts = accounts.filter(Q(name__icontains=q) | Q(domain__icontains=q))
    return render(
        request,
        "accounts_app/account_search.html",
        {"form": form, "q": q, "page": paginate(request, accounts)},
    )


@member_required
def account_detail(request, pk):
    account = get_object_or_404(
        Account.objects.select_related("sales_owner", "marketing_owner", "parent"), pk=pk
    )
    contacts = list(
        account.contacts.prefetch_related("roles").order_by("last_name", "first_name", "pk")
    )
    # A contact is listed under each role it holds (coverage counts it in each), roles in the
    # order a seller reads a buying committee; one with no known role under "Unknown".
    by_role: dict[str, list] = {}
    for contact in contacts:
        for role in [r.role for r in contact.roles.all()] or [BuyingRole.UNKNOWN]:
            by_role.setdefault(role, []).append(contact)
    groups = [(BuyingRole(role).label, by_role[role]) for role in ROLE_ORDER if role in by_role]
    opportunities = account.opportunities.filter(status=OpportunityStatus.OPEN).order_by(
        "close_date", "name"
    )
    since = timezone.now() - timedelta(days=TIMELINE_DAYS)
    activities = account.activities.filter(occurred_at__gte=since).select_related("contact")
    activities = list(activities.order_by("-occurred_at", "-pk")[:TIMELINE_ITEMS])
    context = {
        "account": account,
        "contact_groups": groups,
        "contact_count": len(contacts),
        "opportunities": opportunities,
        "pipeline": sum((o.amount or 0) for o in opportunities),
        "activities": activities,
        "timeline_days": TIMELINE_DAYS,
        "timeline_items": TIMELINE_ITEMS,
    }
    # The account in the planning cycles (workflow, a higher app) is added by that app.
    for _, extra in hooks.account_page.send(sender=Account, account=account, viewer=request.user):
        context.update(extra)
    return render(request, "accounts_app/account_detail.html", context)


# Ideal customer profile ----------------------------------------------------------------------


def _criteria_rows(criteria: dict) -> list[tuple[str, str, object]]:
    """(criterion, what it wants in words, weight) for the page."""
    rows = []
    for name, crit in (criteria or {}).items():
        if not isinstance(crit, dict):
            continue
        if "values" in crit:
            wants = ", ".join(str(v) for v in crit.get("values") or [])
        else:
            low, high = crit.get("min"), crit.get("max")
            if low is not None and high is not None:
                wants = f"{low:,} to {high:,}"
            elif low is not None:
                wants = f"{low:,} or more"
            elif high is not None:
                wants = f"up to {high:,}"
            else:
                wants = "any"
        rows.append((name.capitalize(), wants, crit.get("weight", 0)))
    return rows


def _render_icp(request, *, status=200, error_for=None, form=None):
    versions = IcpVersion.objects.select_related("proposed_by").prefetch_related(
        "sign_offs__person"
    )
    rows = agreement_rows(
        versions,
        viewer=request.user,
        form_class=IcpSignOffForm,
        bound_form=form,
        bound_for=error_for,
    )
    for row in rows:
        row["criteria"] = _criteria_rows(row["version"].criteria)
    return render(
        request,
        "accounts_app/icp.html",
        {"rows": rows, "my_side": side_of(request.user)},
        status=status,
    )


@member_required
def icp_list(request):
    return _render_icp(request)


@require_POST
@member_required
def icp_sign_off(request, pk):
    version = get_object_or_404(IcpVersion, pk=pk)
    form = IcpSignOffForm(request.POST)
    if not form.is_valid():
        return _render_icp(request, status=400, error_for=version.pk, form=form)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        version = icp_sign_off_service(
            icp_version=version, by=request.user, approve=approve, note=form.cleaned_data["note"]
        )
    except DomainError as error:
        show_domain_error(form, error)
        return _render_icp(request, status=error.status, error_for=version.pk, form=form)
    if version.state == IcpState.EFFECTIVE:
        messages.success(
            request,
            f"Both sides agreed: {version} is now effective; every account's fit score is "
            "being recomputed.",
        )
    elif version.state == IcpState.REJECTED:
        messages.success(request, f"You rejected {version}.")
    else:
        messages.success(request, "Your approval is recorded. It waits for the other side.")
    return redirect("icp:list")
