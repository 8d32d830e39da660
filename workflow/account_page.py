"""What an account's page (accounts_app.views.account_detail) shows of the planning cycles: its
nominations, its places on the lists, the buying committee each place's tier requires, and the
cycles one may nominate it in. Connected to core.hooks.account_page in WorkflowConfig.ready(),
so accounts_app never imports workflow."""

from accounts_app.models import BuyingRole, ContactRole
from core.roles import side_of
from workflow.models import Cycle, CycleState, Nomination, TargetAccount, Tier


def account_page(sender, *, account, viewer, **kwargs) -> dict:
    memberships = list(
        TargetAccount.objects.filter(account=account)
        .select_related("cycle", "sales_owner", "marketing_owner")
        .order_by("-added_at")
    )
    return {
        "committees": _committees(account, memberships),
        "nominations": (
            Nomination.objects.filter(account=account)
            .select_related("cycle", "proposer")
            .order_by("-created_at")
        ),
        "memberships": memberships,
        "nominate_in": (
            Cycle.objects.exclude(state=CycleState.CLOSED).order_by("-starts_on")
            if side_of(viewer) is not None
            else []
        ),
    }


def _committees(account, memberships) -> list[dict]:
    """For each open cycle the account is on: the roles its tier requires, each with the
    contacts holding it (ContactRole rows; a contact may hold several), covered or missing.
    Two queries however many cycles, roles or contacts."""
    current = [t for t in memberships if t.removed_at is None and t.cycle.is_open]
    if not current:
        return []
    required = {
        (tier.cycle_id, tier.number): tier.required_roles
        for tier in Tier.objects.filter(cycle_id__in=[t.cycle_id for t in current])
    }
    holders: dict[str, list] = {}
    for held in (
        ContactRole.objects.filter(contact__account=account)
        .select_related("contact")
        .order_by("contact__last_name", "contact__first_name", "pk")
    ):
        holders.setdefault(held.role, []).append(held.contact)
    committees = []
    for target in current:
        roles = [
            {
                "role": role,
                "label": BuyingRole(role).label if role in BuyingRole.values else role,
                "contacts": holders.get(role, []),
            }
            for role in required.get((target.cycle_id, target.tier), [])
        ]
        committees.append(
            {
                "target": target,
                "roles": roles,
                "covered": sum(1 for r in roles if r["contacts"]),
                "others": [
                    {"label": BuyingRole(role).label, "contacts": people}
                    for role, people in holders.items()
                    if role not in {r["role"] for r in roles} and role in BuyingRole.values
                ],
            }
        )
    return committees
