import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from accounts_app.models import Account, Contact, ContactRole
from workflow.models import Cycle, CycleState, Tier

User = get_user_model()


def sign_off_permission() -> Permission:
    return Permission.objects.get(codename="sign_off", content_type__app_label="workflow")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-accord-test")


def person(username: str | None = None, *, side: str | None, approver: bool = False, **kw):
    """A person on `side` ("marketing", "sales", "ops" or None), optionally an approver."""
    user = UserFactory(**({"username": username} if username else {}), **kw)
    if side:
        user.groups.add(Group.objects.get_or_create(name=side)[0])
    if approver:
        user.user_permissions.add(sign_off_permission())
    # Permissions and groups are cached on the instance; hand back a fresh one.
    return User.objects.get(pk=user.pk)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    industry = "Software"
    employee_count = 500
    country = "DE"
    region = "EMEA"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")

    @factory.post_generation
    def roles(self, create, roles, **kwargs):
        """`ContactFactory(roles=["champion", "budget_holder"])`: the buying roles it holds."""
        if create and roles:
            ContactRole.objects.bulk_create(ContactRole(contact=self, role=r) for r in roles)


def cycle(name: str = "FY27 H1", *, capacities=(50, 100, 200), **kw) -> Cycle:
    """A cycle with three tiers of the given capacities."""
    c = Cycle.objects.create(
        name=name,
        starts_on=kw.pop("starts_on", dt.date(2027, 1, 1)),
        ends_on=kw.pop("ends_on", dt.date(2027, 6, 30)),
        state=kw.pop("state", CycleState.ACTIVE),
        **kw,
    )
    for number, capacity in enumerate(capacities, start=1):
        Tier.objects.create(cycle=c, number=number, capacity=capacity)
    return c
