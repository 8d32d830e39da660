"""Creating and editing accounts: one account per normalised domain, fit scored."""

import pytest
from django.db import IntegrityError, transaction

from accounts_app import services
from accounts_app.models import Account, IcpState, IcpVersion, Source
from core.errors import Conflict, Invalid, NotAllowed
from tests.factories import AccountFactory, person


@pytest.fixture
def effective_icp(db):
    return IcpVersion.objects.create(
        number=1,
        name="Mid-market software",
        criteria={"industries": {"values": ["Software"], "weight": 1}},
        state=IcpState.EFFECTIVE,
    )


def create(by=None, **kw):
    fields = {"name": "Globex", "domain": "https://www.Globex.example/", **kw}
    return services.account_create(by=by, **fields)


def test_it_creates_an_account_with_a_normalised_domain(people):
    account = create(by=people.marketing_member, industry="Software", country="de")

    account = Account.objects.get(pk=account.pk)
    assert (account.name, account.domain, account.country) == ("Globex", "globex.example", "DE")
    assert account.source == Source.MANUAL


def test_it_refuses_a_second_account_with_the_same_domain(people):
    create(by=people.marketing_member)

    with pytest.raises(Conflict) as error:
        create(by=people.sales_member, name="Globex Corp", domain="GLOBEX.example")

    assert error.value.message == "Globex already uses the domain globex.example."
    assert error.value.field == "domain"
    assert Account.objects.count() == 1


def test_the_database_refuses_a_duplicate_domain(db):
    AccountFactory(domain="globex.example")

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(name="Copy", domain="globex.example")


def test_it_scores_a_new_account_against_the_effective_profile(people, effective_icp):
    fits = create(by=people.marketing_member, industry="software")
    misses = create(by=people.marketing_member, name="Initech", domain="initech.example")

    assert Account.objects.get(pk=fits.pk).fit_score == 100
    assert Account.objects.get(pk=misses.pk).fit_score == 0


def test_it_leaves_the_score_empty_without_an_effective_profile(people):
    assert create(by=people.marketing_member).fit_score is None


def test_it_lets_the_system_create_accounts(db):
    account = create(by=None, source=Source.CSV)

    assert account.source == Source.CSV


def test_it_refuses_someone_without_a_side(db):
    with pytest.raises(NotAllowed):
        create(by=person("ola", side=None))

    assert not Account.objects.exists()


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"name": "  "}, "name"),
        ({"domain": "not a domain"}, "domain"),
        ({"country": "Germany"}, "country"),
        ({"employee_count": -5}, "employee_count"),
        ({"annual_revenue": "-1"}, "annual_revenue"),
    ],
)
def test_it_explains_invalid_fields(people, fields, field):
    with pytest.raises(Invalid) as error:
        create(by=people.marketing_member, **fields)

    assert error.value.field == field
    assert not Account.objects.exists()


def test_only_ops_edit_accounts(people):
    account = create(by=people.marketing_member)

    with pytest.raises(NotAllowed):
        services.account_update(account=account, by=people.marketing_member, name="Globex AG")

    services.account_update(account=account, by=people.ops, name="Globex AG")
    assert Account.objects.get(pk=account.pk).name == "Globex AG"


def test_an_edit_keeps_domains_unique_and_rescoring(people, effective_icp):
    account = create(by=people.marketing_member, industry="Retail")
    AccountFactory(name="Initech", domain="initech.example")

    with pytest.raises(Conflict, match=r"initech\.example"):
        services.account_update(account=account, by=people.ops, domain="WWW.initech.example")

    services.account_update(
        account=account, by=people.ops, domain="globex.example", industry="Software"
    )
    account = Account.objects.get(pk=account.pk)
    assert (account.domain, account.fit_score) == ("globex.example", 100)
