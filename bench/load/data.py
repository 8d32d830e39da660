"""The load run's data set, written into the (throw-away) database Django is connected to.

- One active cycle ("FY27 H1"), `quorum` approvals on each side (the default cycle's 1; an
  approver's own proposal counts as their side's first, a member's does not), tiers large
  enough that no approval is refused for capacity.
- `accounts` accounts on its agreed list, each with 10 contacts in buying roles, 50 activities
  of both sides and 1.5 deals (bench/coverage_snapshot.py's generator), owned round-robin by
  the people of each side, and one coverage snapshot of them.
- `people` people, alternating marketing and sales, one in five of each side an approver
  (`workflow.sign_off`), all with the same password (hashed once: hashing it for each person
  would take longer than the rest of the load). Any prefix of `busy_team` people has the same
  make-up, so a run at 2× uses the first 2 × busy_team of them.
- `prospects_per_person` accounts off the list for each person to nominate during the run (each
  person their own, so two simulated people never race for the same account), and `in_review`
  more with nominations waiting for sign-offs, submitted through the workflow's services by the
  busy team's people; a third of them already have one approval of the other side, one in
  four a comment.
- An integration login and its token (the CRM-side job polling the agreed list).

Returns the fixture the locustfile reads (ids, usernames, the password, the token).
"""

import datetime as dt
import time

PASSWORD = "accord-load-run-password"  # the throw-away database's people only
APPROVER_EVERY = 5  # one in five of each side


def _person_plan(i: int) -> tuple[str, str, bool]:
    side = "marketing" if i % 2 == 0 else "sales"
    approver = (i // 2) % APPROVER_EVERY == 0
    return f"{side[0]}{i:04d}", side, approver


def load(
    *,
    accounts: int = 2000,
    people: int = 200,
    busy_team: int = 200,
    in_review: int = 300,
    prospects_per_person: int = 10,
    quorum: int = 1,
    say=print,
) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.db import connection
    from django.utils import timezone

    from accounts_app.models import Account
    from api.services import service_account_create
    from bench.coverage_snapshot import REQUIRED, populate
    from coverage.services import snapshot_take
    from workflow import services
    from workflow.models import Cycle, CycleState, Nomination, TargetAccount, Tier

    User = get_user_model()
    started = time.perf_counter()
    password = make_password(PASSWORD)
    plans = [_person_plan(i) for i in range(people)]
    users = User.objects.bulk_create(
        User(
            username=username,
            first_name=username.upper(),
            last_name=side.title(),
            email=f"{username}@example.com",
            password=password,
        )
        for username, side, _ in plans
    )
    groups = {side: Group.objects.get_or_create(name=side)[0] for side in ("marketing", "sales")}
    Membership = User.groups.through
    Membership.objects.bulk_create(
        Membership(user_id=u.pk, group_id=groups[side].pk)
        for u, (_, side, _) in zip(users, plans, strict=True)
    )
    sign_off = Permission.objects.get(codename="sign_off", content_type__app_label="workflow")
    Grant = User.user_permissions.through
    Grant.objects.bulk_create(
        Grant(user_id=u.pk, permission_id=sign_off.pk)
        for u, (_, _, approver) in zip(users, plans, strict=True)
        if approver
    )
    by_side = {
        side: [u for u, (_, s, _) in zip(users, plans, strict=True) if s == side]
        for side in ("marketing", "sales")
    }
    approvers = {
        side: [
            u
            for u, (_, s, approver) in zip(users, plans, strict=True)
            if s == side and approver and u in users[:busy_team]
        ]
        for side in ("marketing", "sales")
    }

    cycle = Cycle.objects.create(
        name="FY27 H1",
        starts_on=dt.date(2027, 1, 1),
        ends_on=dt.date(2027, 6, 30),
        state=CycleState.ACTIVE,
        marketing_quorum=quorum,
        sales_quorum=quorum,
        proposer_counts=True,
    )
    Tier.objects.bulk_create(
        Tier(cycle=cycle, number=n, capacity=2 * accounts, required_roles=REQUIRED[n])
        for n in (1, 2, 3)
    )
    as_of = timezone.now()
    populate(
        cycle=cycle,
        marketer=by_side["marketing"][0],
        seller=by_side["sales"][0],
        accounts=accounts,
        offset=0,
        as_of=as_of,
    )
    # Owners round-robin over each side, on the accounts and on their list entries.
    with connection.cursor() as cursor:
        for side, column in (("sales", "sales_owner_id"), ("marketing", "marketing_owner_id")):
            ids = [u.pk for u in by_side[side]]
            cursor.execute(
                f"UPDATE accounts_app_account SET {column} = (%s::bigint[])[1 + id %% %s] "
                "WHERE domain LIKE 'company%%'",
                [ids, len(ids)],
            )
            cursor.execute(
                f"UPDATE workflow_targetaccount t SET {column} = a.{column} "
                "FROM accounts_app_account a WHERE a.id = t.account_id AND t.cycle_id = %s",
                [cycle.pk],
            )
    # On the list for a month already, so the snapshot (of accounts listed by its time) has them.
    TargetAccount.objects.filter(cycle=cycle).update(added_at=as_of - dt.timedelta(days=30))
    say(f"  {accounts:,} target accounts with contacts, activities and deals")

    prospects = Account.objects.bulk_create(
        (
            Account(
                name=f"Prospect {i:05d}",
                domain=f"prospect{i:05d}.example",
                industry="Software",
                employee_count=50 + i % 5000,
                country="DE",
                region="EMEA",
                fit_score=i % 101,
            )
            for i in range(in_review + people * prospects_per_person)
        ),
        batch_size=2000,
    )
    team = users[:busy_team]
    nominations = []
    for i, account in enumerate(prospects[:in_review]):
        proposer = team[(7 * i) % len(team)]
        nomination = services.nomination_create(
            cycle=cycle,
            account=account,
            kind="add",
            tier=1 + i % 3,
            rationale=f"{account.name} fits the profile; sales met them at a trade fair.",
            by=proposer,
        )
        nominations.append(nomination.pk)
        other = "sales" if nomination.proposer_side == "marketing" else "marketing"
        if i % 3 == 0:
            services.nomination_sign_off(
                nomination=nomination,
                by=approvers[other][i % len(approvers[other])],
                decision="approve",
                note="",
            )
        if i % 4 == 0:
            services.comment_create(
                nomination=nomination,
                by=team[(7 * i + 1) % len(team)],
                body="We have two contacts there already; worth a try.",
            )
    say(f"  {len(nominations)} nominations in review")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    snapshot = snapshot_take(cycle=cycle, as_of=as_of)
    say(f"  coverage snapshot of {snapshot.total:,} accounts")
    _, token = service_account_create(username="load-crm-job")

    listed = list(
        Nomination.objects.filter(cycle=cycle, state="approved")
        .order_by("pk")
        .values_list("pk", flat=True)[:: max(1, accounts // 200)]
    )
    slices = prospects[in_review:]
    say(f"  loaded in {time.perf_counter() - started:.0f} s")
    return {
        "cycle": cycle.pk,
        "password": PASSWORD,
        "token": token,
        "people": [
            {
                "username": username,
                "side": side,
                "approver": approver,
                "prospects": [
                    [a.pk, a.name]
                    for a in slices[i * prospects_per_person : (i + 1) * prospects_per_person]
                ],
            }
            for i, (username, side, approver) in enumerate(plans)
        ],
        "in_review": nominations,
        "listed": listed,
        "sizes": sizes(),
    }


def sizes() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from accounts_app.models import Account, Activity, Contact, Opportunity
    from workflow.models import Comment, Nomination, TargetAccount

    User = get_user_model()
    sign_off = Permission.objects.get(codename="sign_off", content_type__app_label="workflow")
    return {
        "accounts": Account.objects.count(),
        "target accounts": TargetAccount.objects.filter(removed_at__isnull=True).count(),
        "people": User.objects.filter(groups__name__in=["marketing", "sales"]).count(),
        "approvers": User.objects.filter(user_permissions=sign_off).count(),
        "nominations in review": Nomination.objects.filter(state="in_review").count(),
        "nominations": Nomination.objects.count(),
        "comments": Comment.objects.count(),
        "contacts": Contact.objects.count(),
        "activities": Activity.objects.count(),
        "opportunities": Opportunity.objects.count(),
    }


def refresh(path) -> None:
    """Before another run on the same database: the nominations in review now, and each
    person's prospects without a nomination yet (so no one nominates an account twice)."""
    import json
    from pathlib import Path

    from workflow.models import Nomination

    fixture = json.loads(Path(path).read_text())
    cycle = fixture["cycle"]
    nominated = set(Nomination.objects.filter(cycle=cycle).values_list("account_id", flat=True))
    for person in fixture["people"]:
        person["prospects"] = [p for p in person["prospects"] if p[0] not in nominated]
    fixture["in_review"] = list(
        Nomination.objects.filter(cycle=cycle, state="in_review")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    fixture["sizes"] = sizes()
    Path(path).write_text(json.dumps(fixture))
