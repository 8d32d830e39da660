"""Load the demo: people on both sides and in ops, 300 accounts, an agreed ideal customer
profile, and the cycle FY27 H1 with nominations in every state, discussions and two published
versions of its list.

    python manage.py demo_data

Idempotent (a second run only prints the sign-ins), deterministic (seeded random) and quick.
Every person, profile, cycle, nomination, sign-off, comment and list version is made through
the services, as people would make them; contacts, opportunities and activities, which come
from the CRM in real life, are written directly. E-mails the workflow sends while loading go
to a memory outbox, and tasks run in-process, so nothing leaves the machine.
"""

import contextlib
import datetime as dt
import logging
import math
import random
import re
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts_app import services as accounts
from accounts_app.models import (
    Account,
    Activity,
    ActivityKind,
    BuyingRole,
    Contact,
    Opportunity,
    OpportunityStatus,
)
from workflow import services
from workflow.models import Cycle, CycleState, Decision, NominationKind, State, TargetAccount

User = get_user_model()

PASSWORD = "accord-demo"
CYCLE = "FY27 H1"
SEED = 27

# username, first name, last name, side, approver
PEOPLE = [
    ("maya", "Maya", "Lindqvist", "marketing", True),
    ("marco", "Marco", "Bellini", "marketing", True),
    ("malia", "Malia", "Okafor", "marketing", True),
    ("mei", "Mei", "Tanaka", "marketing", False),
    ("mateo", "Mateo", "García", "marketing", False),
    ("molly", "Molly", "Byrne", "marketing", False),
    ("sam", "Sam", "Whitaker", "sales", True),
    ("sofia", "Sofia", "Novak", "sales", True),
    ("sunil", "Sunil", "Rao", "sales", True),
    ("sara", "Sara", "Haddad", "sales", False),
    ("sean", "Sean", "Murphy", "sales", False),
    ("sylvie", "Sylvie", "Laurent", "sales", False),
    ("olivia", "Olivia", "Brandt", "ops", False),
    ("oscar", "Oscar", "Mendes", "ops", False),
]

INDUSTRIES = {
    "Software": ["Labs", "Systems", "Software", "Cloud", "Analytics", "Data"],
    "Financial services": ["Capital", "Financial", "Payments", "Insurance", "Bank"],
    "Healthcare": ["Health", "Medical", "Therapeutics", "Diagnostics", "Care"],
    "Manufacturing": ["Industries", "Manufacturing", "Robotics", "Components", "Machines"],
    "Retail": ["Retail", "Stores", "Brands", "Market", "Goods"],
    "Logistics": ["Logistics", "Freight", "Shipping", "Transport"],
    "Energy": ["Energy", "Power", "Solar", "Renewables"],
    "Telecommunications": ["Telecom", "Networks", "Mobile", "Communications"],
}
INDUSTRY_WEIGHTS = [26, 16, 14, 14, 10, 8, 6, 6]
_STEMS = """Alder Apex Arbor Aster Atlas Beacon Birch Bluefin Brightwater Cedar Cobalt Copperleaf
Crestline Delta Ember Falcon Fernhill Granite Harbor Helix Ironwood Juniper Keystone Lumen Maple
Meridian Nimbus Northgate Oakridge Onyx Orbital Pinecrest Polaris Quartz Ravenscroft Ridgeway
Sagebrush Silverline Sterling Summit Tidewater Vertex Willowby Zenith Halcyon Larkspur Marlowe
Brookfield Solstice Kestrel Tamarack Everly Foxglove Wrenfield Bramble Calder Dunmore Galloway
Holloway Lindenberg Morrow Norwood Penrose Quill Rosslyn Thornbury Umber Valen Westbrook"""
STEMS = _STEMS.split()
COUNTRIES = {
    # code: (region, top-level domain, weight)
    "US": ("NA", "com", 30),
    "CA": ("NA", "ca", 5),
    "GB": ("EMEA", "co.uk", 12),
    "DE": ("EMEA", "de", 12),
    "FR": ("EMEA", "fr", 7),
    "NL": ("EMEA", "nl", 5),
    "SE": ("EMEA", "se", 4),
    "ES": ("EMEA", "es", 3),
    "IT": ("EMEA", "it", 3),
    "JP": ("APAC", "jp", 5),
    "AU": ("APAC", "com.au", 5),
    "SG": ("APAC", "sg", 3),
    "IN": ("APAC", "in", 3),
    "BR": ("LATAM", "com.br", 2),
    "MX": ("LATAM", "mx", 1),
}
ICP_CRITERIA = {
    "industries": {"values": ["Software", "Financial services", "Healthcare"], "weight": 40},
    "employees": {"min": 200, "max": 10000, "weight": 30},
    "revenue": {"min": 20000000, "max": None, "weight": 10},
    "regions": {"values": ["EMEA", "NA"], "weight": 20},
}
MARKETING_ACTIVITIES = (
    ActivityKind.WEB_VISIT,
    ActivityKind.AD_CLICK,
    ActivityKind.EVENT,
    ActivityKind.FORM_FILL,
)
REASONS = [
    "they are replacing their current vendor this year",
    "their new CFO asked us for a proposal at the last roadshow",
    "three of their teams attended our webinars this quarter",
    "a champion from a won account moved there",
    "their public roadmap matches what our product does best",
    "their competitor is already a customer and a reference",
    "intent data shows them researching our category",
    "they are hiring for the team that would use us",
]


class Command(BaseCommand):
    help = "Load the demo data (once) and print the demo sign-ins."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            # Demo people have a published password: never on a real site.
            raise CommandError(
                "Refusing to load the demo data with ACCORD_ENV=production: its people share "
                "a published password."
            )
        if Cycle.objects.filter(name=CYCLE).exists():
            self.stdout.write("The demo data is already loaded.")
            self.print_sign_ins()
            return
        if Account.objects.exists() or Cycle.objects.exists():
            self.stdout.write(
                self.style.WARNING(
                    "Not loading the demo data: this database already has accounts or cycles "
                    "of its own."
                )
            )
            return
        started = timezone.now()
        # Leaving the transaction runs the e-mail tasks queued on commit, still quietly.
        with quiet_side_effects(), transaction.atomic():
            Demo(random.Random(SEED)).load()
        seconds = (timezone.now() - started).total_seconds()
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {seconds:.1f} s."))
        self.print_sign_ins()

    def print_sign_ins(self):
        rows = [("username", "side", "approver", "password")]
        for username, _, _, side, approver in PEOPLE:
            rows.append((username, side, "—" if side == "ops" else "yes" if approver else "no"))
        rows.append(("admin", "superuser", "—"))
        rows = [rows[0], *((*row, PASSWORD) for row in rows[1:])]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        self.stdout.write("\nDemo sign-ins:")
        for row in rows:
            self.stdout.write(
                "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            )
        site = settings.SITE_URL
        self.stdout.write(f"\nOpen {site}/ (revenue operations: {site}/admin/)")


@contextlib.contextmanager
def quiet_side_effects():
    """Tasks in-process, e-mail into a memory outbox and no task log lines while the demo
    loads: a hundred e-mails would otherwise bury the sign-ins."""
    from config.celery import app

    eager = app.conf.task_always_eager
    loggers = {name: logging.getLogger(name) for name in ("celery", "kombu")}
    levels = {name: logger.level for name, logger in loggers.items()}
    app.conf.task_always_eager = True
    for logger in loggers.values():
        logger.setLevel(logging.WARNING if logger.name == "celery" else logging.ERROR)
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            yield
    finally:
        app.conf.task_always_eager = eager
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


class Demo:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = timezone.now()

    def load(self) -> None:
        self.people()
        self.profile()
        self.accounts()
        self.crm_facts()
        self.cycle()
        self.nominations()

    # --- People and the ideal customer profile ----------------------------------------------

    def people(self) -> None:
        self.by_name = {}
        for username, first, last, side, approver in PEOPLE:
            user, _ = services.person_set_role(
                username=username,
                role=side,
                approver=approver,
                email=f"{username}@accord.example",
            )
            user.first_name, user.last_name = first, last
            user.save(update_fields=["first_name", "last_name"])
            self.by_name[username] = user
        admin = User.objects.create_superuser("admin", "admin@accord.example")
        # One hash for everybody: hashing is deliberately slow, and these are demo sign-ins.
        hashed = make_password(PASSWORD)
        User.objects.filter(pk__in=[admin.pk, *(u.pk for u in self.by_name.values())]).update(
            password=hashed
        )
        self.by_name = {u.username: u for u in User.objects.filter(pk__in=self.pks())}
        self.marketing = [self.by_name[p[0]] for p in PEOPLE if p[3] == "marketing"]
        self.sales = [self.by_name[p[0]] for p in PEOPLE if p[3] == "sales"]
        self.approvers = {
            "marketing": [self.by_name[p[0]] for p in PEOPLE if p[3] == "marketing" and p[4]],
            "sales": [self.by_name[p[0]] for p in PEOPLE if p[3] == "sales" and p[4]],
        }
        self.ops = self.by_name["olivia"]

    def pks(self):
        return [u.pk for u in self.by_name.values()]

    def profile(self) -> None:
        """v1 agreed by both sides (effective); v2 proposed by sales, waiting for marketing."""
        maya, sam = self.by_name["maya"], self.by_name["sam"]
        v1 = accounts.icp_version_create(
            name="Mid-market software, finance and health in EMEA and NA",
            criteria=ICP_CRITERIA,
            by=maya,
        )
        accounts.icp_version_submit(icp_version=v1, by=maya)
        self.icp = accounts.icp_sign_off(
            icp_version=v1, by=sam, approve=True, note="Matches our won deals of the last year."
        )
        v2 = accounts.icp_version_create(
            name="Add APAC and larger companies",
            criteria={
                **ICP_CRITERIA,
                "employees": {"min": 200, "max": 50000, "weight": 30},
                "regions": {"values": ["EMEA", "NA", "APAC"], "weight": 20},
            },
            by=sam,
        )
        accounts.icp_version_submit(icp_version=v2, by=sam)

    # --- Accounts and what the CRM knows about them -----------------------------------------

    def accounts(self) -> None:
        rng = self.rng
        names: set[str] = set()
        codes = list(COUNTRIES)
        created = []
        while len(created) < 300:
            industry = rng.choices(list(INDUSTRIES), weights=INDUSTRY_WEIGHTS)[0]
            name = f"{rng.choice(STEMS)} {rng.choice(INDUSTRIES[industry])}"
            if name in names:
                continue
            names.add(name)
            country = rng.choices(codes, weights=[COUNTRIES[c][2] for c in codes])[0]
            region, tld, _ = COUNTRIES[country]
            employees = round(math.exp(rng.uniform(math.log(15), math.log(60000))))
            revenue = Decimal(employees * rng.randint(60, 420) * 1000)
            created.append(
                accounts.account_create(
                    name=name,
                    domain=f"{slug(name)}.{tld}",
                    industry=industry,
                    employee_count=employees,
                    annual_revenue=revenue,
                    country=country,
                    region=region,
                    sales_owner=rng.choice(self.sales) if rng.random() < 0.85 else None,
                    marketing_owner=rng.choice(self.marketing) if rng.random() < 0.7 else None,
                    icp=self.icp,
                )
            )
        # A few subsidiaries, for the account pages.
        for child, parent in zip(created[-8:], created[:8], strict=True):
            child.parent = parent
        Account.objects.bulk_update(created[-8:], ["parent"])
        self.all_accounts = created

    def crm_facts(self) -> None:
        rng, now = self.rng, self.now
        roles = [r for r in BuyingRole if r not in (BuyingRole.OTHER, BuyingRole.UNKNOWN)]
        first = ["Ana", "Ben", "Chloé", "David", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jon"]
        last = ["Schmidt", "Dubois", "Rossi", "Smith", "Kowalski", "Nakamura", "Silva", "Berg"]
        titles = {
            BuyingRole.DECISION_MAKER: "VP Operations",
            BuyingRole.CHAMPION: "Head of Revenue Operations",
            BuyingRole.BUDGET_HOLDER: "CFO",
            BuyingRole.INFLUENCER: "Senior Analyst",
            BuyingRole.END_USER: "Sales Manager",
            BuyingRole.EXECUTIVE_SPONSOR: "COO",
            BuyingRole.BLOCKER: "IT Security Lead",
            BuyingRole.LEGAL_AND_COMPLIANCE: "General Counsel",
        }
        contacts, opportunities, activities = [], [], []
        ranked = sorted(self.all_accounts, key=lambda a: (-(a.fit_score or 0), a.pk))
        for i, account in enumerate(ranked[:90]):
            for role in rng.sample(roles, rng.randint(1, 4)):
                f, la = rng.choice(first), rng.choice(last)
                contacts.append(
                    Contact(
                        account=account,
                        first_name=f,
                        last_name=la,
                        email=f"{slug(f)}.{slug(la)}.{role.value[:4]}@{account.domain}",
                        title=titles[role],
                        buying_role=role,
                        last_engaged_at=now - dt.timedelta(days=rng.randint(0, 60))
                        if rng.random() < 0.7
                        else None,
                    )
                )
            if i % 3 == 0:
                status = rng.choice(list(OpportunityStatus))
                opportunities.append(
                    Opportunity(
                        account=account,
                        name=f"{account.name} — platform rollout",
                        stage={"open": "Proposal", "won": "Closed won", "lost": "Closed lost"}[
                            status
                        ],
                        amount=Decimal(rng.randint(20, 400) * 1000),
                        status=status,
                        close_date=(now + dt.timedelta(days=rng.randint(-90, 120))).date(),
                    )
                )
            for _ in range(rng.randint(1, 6)):
                kind = rng.choice(list(ActivityKind))
                side = "marketing" if kind in MARKETING_ACTIVITIES else "sales"
                activities.append(
                    Activity(
                        account=account,
                        kind=kind,
                        side=side,
                        occurred_at=now - dt.timedelta(days=rng.randint(0, 90)),
                        subject=f"{kind.label} with {account.name}",
                    )
                )
        Contact.objects.bulk_create(contacts)
        Opportunity.objects.bulk_create(opportunities)
        Activity.objects.bulk_create(activities)

    # --- The cycle and its nominations -------------------------------------------------------

    def cycle(self) -> None:
        roles = BuyingRole
        self.the_cycle = services.cycle_create(
            name=CYCLE,
            starts_on=dt.date(2026, 7, 1),
            ends_on=dt.date(2026, 12, 31),
            by=self.ops,
            capacities={1: 10, 2: 30, 3: 60},
            required_roles={
                1: [
                    roles.DECISION_MAKER,
                    roles.CHAMPION,
                    roles.BUDGET_HOLDER,
                    roles.EXECUTIVE_SPONSOR,
                ],
                2: [roles.DECISION_MAKER, roles.CHAMPION],
                3: [roles.CHAMPION],
            },
        )
        services.cycle_set_state(cycle=self.the_cycle, state=CycleState.ACTIVE, by=self.ops)
        services.cycle_create(
            name="FY27 H2",
            starts_on=dt.date(2027, 1, 1),
            ends_on=dt.date(2027, 6, 30),
            by=self.ops,
            capacities={1: 10, 2: 30, 3: 60},
        )

    def next_account(self) -> Account:
        return self.queue.pop(0)

    def propose(self, *, kind=NominationKind.ADD, tier=None, account=None, by=None, submit=True):
        account = account or self.next_account()
        by = by or self.rng.choice(self.marketing + self.marketing + self.sales)
        reason = self.rng.choice(REASONS)
        rationale = (
            f"{account.name} ({account.industry}, {account.employee_count:,} people, "
            f"{account.country}) fits our profile at {account.fit_score}: {reason}."
        )
        if kind == NominationKind.CHANGE_TIER:
            rationale = f"Move {account.name} to Tier {tier}: {reason}."
        elif kind == NominationKind.REMOVE:
            rationale = f"Take {account.name} off the list: the budget went to a competitor."
        return services.nomination_create(
            cycle=self.the_cycle,
            account=account,
            kind=kind,
            tier=tier,
            rationale=rationale,
            evidence_links=[f"https://wiki.accord.example/accounts/{slug(account.name)}"],
            by=by,
            submit=submit,
        )

    def deciders(self, nomination, side: str):
        return [p for p in self.approvers[side] if p.pk != nomination.proposer_id]

    def agree(self, nomination):
        """Approvals from each side until both reach quorum (the proposer may count)."""
        for side in ("marketing", "sales"):
            if nomination.state != State.IN_REVIEW:
                break
            status = services.side_statuses(nomination)[side]
            if not status.reached:
                nomination = services.nomination_sign_off(
                    nomination=nomination,
                    by=self.rng.choice(self.deciders(nomination, side)),
                    decision=Decision.APPROVE,
                    note=self.rng.choice(["", "Agreed.", "Good fit, let's go."]),
                )
        assert nomination.state == State.APPROVED, nomination
        return nomination

    def other_side(self, nomination) -> str:
        return "sales" if nomination.proposer_side == "marketing" else "marketing"

    def discuss(self, nomination, *, lines: int = 2) -> None:
        side = self.other_side(nomination)
        others = self.sales if side == "sales" else self.marketing
        own = self.marketing if side == "sales" else self.sales
        proposer = nomination.proposer.username
        say = [
            (others, f"@{proposer} do we have a champion there yet? I only see marketing touches."),
            (
                own,
                f"@{self.rng.choice(others).username} yes: their Head of RevOps came to our "
                "roundtable and asked for a follow-up.",
            ),
            (others, "Pipeline is thin, but the fit score is convincing. Happy to try."),
            (own, f"@{self.rng.choice(own).username} can you share the webinar attendance list?"),
        ]
        for people, body in say[:lines]:
            services.comment_create(nomination=nomination, by=self.rng.choice(people), body=body)

    def nominations(self) -> None:
        rng = self.rng
        ranked = sorted(self.all_accounts, key=lambda a: (-(a.fit_score or 0), a.pk))
        self.queue = ranked[:140]
        rng.shuffle(self.queue)
        maya, marco, sam, sofia = (self.by_name[n] for n in ("maya", "marco", "sam", "sofia"))
        mei, sara, olivia = self.by_name["mei"], self.by_name["sara"], self.ops

        # The agreed list as first published: 6 / 14 / 20 accounts.
        agreed = []
        for tier, count in ((1, 6), (2, 14), (3, 20)):
            for _ in range(count):
                agreed.append(self.agree(self.propose(tier=tier)))
        for n in agreed[:6]:
            self.discuss(n, lines=2)
        services.list_version_publish(
            cycle=self.the_cycle, by=olivia, note="First list agreed at the kick-off."
        )

        # Changes after the first publication: a promotion, a removal, three additions.
        on_tier_3 = [n.account for n in agreed if n.tier == 3]
        promoted = self.propose(kind=NominationKind.CHANGE_TIER, tier=2, account=on_tier_3[0])
        self.discuss(promoted, lines=3)
        self.agree(promoted)
        removed = self.propose(kind=NominationKind.REMOVE, account=on_tier_3[1], by=sam)
        self.agree(removed)
        for tier in (2, 3, 3):
            self.agree(self.propose(tier=tier))
        services.list_version_publish(
            cycle=self.the_cycle, by=olivia, note="Mid-cycle review: one promotion, one removal."
        )

        # Waiting for a decision: additions, a tier change and a removal.
        for i, tier in enumerate((1, 2, 2, 3, 3, 3, 2, 1)):
            n = self.propose(tier=tier, by=(mei if i == 0 else None))
            if i < 4:
                self.discuss(n, lines=2 + i % 3)
        self.discuss(
            self.propose(kind=NominationKind.CHANGE_TIER, tier=1, account=on_tier_3[2], by=sofia)
        )
        self.propose(kind=NominationKind.REMOVE, account=on_tier_3[3], by=marco)

        # Changes requested; one of them answered with a second round.
        for proposer, resubmit in ((maya, False), (sam, True), (marco, False)):
            n = self.propose(tier=2, by=proposer)
            n = services.nomination_sign_off(
                nomination=n,
                by=rng.choice(self.deciders(n, self.other_side(n))),
                decision=Decision.REQUEST_CHANGES,
                note="Add the buying committee we know of and why Tier 2 rather than 3.",
            )
            self.discuss(n, lines=1)
            if resubmit:
                services.nomination_resubmit(
                    nomination=n,
                    by=proposer,
                    tier=3,
                    rationale=n.rationale + " Two champions confirmed; Tier 3 to start.",
                    note="Moved to Tier 3 and listed the contacts.",
                )

        # Rejected by either side (a veto).
        for proposer in (sara, maya):
            n = self.propose(tier=1, by=proposer)
            self.discuss(n, lines=1)
            services.nomination_sign_off(
                nomination=n,
                by=rng.choice(self.deciders(n, self.other_side(n))),
                decision=Decision.REJECT,
                note="They signed a three-year deal with a competitor last month.",
            )

        # Drafts, and withdrawn ones.
        self.propose(tier=3, by=mei, submit=False)
        self.propose(tier=2, by=sara, submit=False)
        services.nomination_withdraw(
            nomination=self.propose(tier=3, by=marco),
            by=marco,
            note="Duplicate of the parent company's nomination.",
        )
        services.nomination_withdraw(
            nomination=self.propose(tier=2, by=sofia, submit=False), by=sofia
        )
        assert (
            TargetAccount.objects.filter(cycle=self.the_cycle, removed_at__isnull=True).count()
            == 42
        )
