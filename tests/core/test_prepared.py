"""Queries compiled once per process (core/prepared.py): the same rows and objects as the ORM's
own evaluation, compiled only once, and refused when they cannot be prepared safely."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Prefetch
from django.db.models.sql.compiler import SQLCompiler

from accounts_app.models import Account
from core.prepared import Prepared
from tests.factories import AccountFactory
from workflow import selectors, services
from workflow.models import Nomination


@pytest.fixture
def nominations(people, the_cycle):
    made = []
    for i, (by, tier) in enumerate([(people.marketer, 1), (people.sales_approver, 2)]):
        account = AccountFactory(name=f"Account {i}", domain=f"account{i}.example")
        nomination = services.nomination_create(
            cycle=the_cycle,
            account=account,
            kind="add",
            tier=tier,
            rationale="Fits.",
            by=by,
        )
        services.comment_create(nomination=nomination, by=people.ops, body="Hello @milo and @sam")
        made.append(nomination)
    return made


@pytest.fixture
def compilations(monkeypatch):
    """How many times Django compiles a query into SQL (the outermost call of each)."""
    counted = [0]
    as_sql = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        counted[0] += 1
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    return counted


def _page_nomination(pk):
    return (
        Nomination.objects.select_related("account", "cycle", "proposer")
        .defer(*selectors.people_unshown("proposer"))
        .annotate(comment_count=Count("comments"))
        .filter(pk=pk)
    )


@pytest.mark.django_db
def test_it_fetches_what_the_orm_fetches_with_related_objects_and_annotations(
    nominations, django_assert_num_queries
):
    prepared = Prepared(_page_nomination, pk=int)
    for nomination in nominations:
        expected = list(_page_nomination(nomination.pk))
        with django_assert_num_queries(1):  # select_related filled in: no query for them
            fetched = prepared.fetch(pk=nomination.pk)
            names = (fetched[0].account.name, fetched[0].cycle.name, fetched[0].proposer.username)
        assert fetched == expected
        assert names == (
            expected[0].account.name,
            expected[0].cycle.name,
            nomination.proposer.username,
        )
        assert fetched[0].comment_count == 1
    assert prepared.fetch(pk=10**9) == []


@pytest.mark.django_db
def test_a_relation_keeps_its_owner_and_its_prefetches(nominations, django_assert_num_queries):
    prepared = Prepared(
        lambda nomination: nomination.comments.select_related("author").prefetch_related(
            Prefetch("mentions", selectors.people_named())
        ),
        nomination=Nomination,
    )
    nomination = nominations[1]
    with django_assert_num_queries(2):  # the comments, then their mentions
        comments = prepared.fetch(nomination=nomination)
        assert comments[0].nomination is nomination  # known already: no query
        mentioned = sorted(p.username for p in comments[0].mentions.all())
    assert mentioned == ["milo", "sam"]
    assert comments == list(nomination.comments.all())


@pytest.mark.django_db
def test_it_compiles_once_per_process(nominations, settings, compilations):
    settings.PREPARED_QUERIES_CHECK = False  # the check compiles on purpose
    prepared = Prepared(_page_nomination, pk=int)
    prepared.fetch(pk=nominations[0].pk)
    compilations[0] = 0

    for nomination in nominations * 3:
        assert prepared.fetch(pk=nomination.pk)[0].pk == nomination.pk

    assert compilations[0] == 0
    list(_page_nomination(nominations[0].pk))
    assert compilations[0] == 1  # the ORM's own evaluation compiles every time


@pytest.mark.django_db
def test_it_refuses_a_value_that_does_not_reach_the_parameters_unchanged(nominations):
    searched = Prepared(lambda q: Account.objects.filter(name__icontains=q), q=str)  # "%q%"

    with pytest.raises(ImproperlyConfigured, match="q does not reach the SQL's parameters"):
        searched.fetch(q="Account")


def test_it_refuses_a_value_of_a_kind_it_cannot_place():
    with pytest.raises(ImproperlyConfigured, match="an int, a str or a model"):
        Prepared(lambda when: Account.objects.filter(created_at__lt=when), when=object)


@pytest.mark.django_db
def test_the_check_catches_a_shape_that_depends_on_the_value(nominations):
    """Placeholder ids are negative (both compilations agree); a real id orders differently:
    other SQL than the kept one, which the check refuses."""
    prepared = Prepared(
        lambda pk: Nomination.objects.filter(pk__gte=pk).order_by("pk" if pk < 0 else "-pk"),
        pk=int,
    )
    assert prepared.fetch(pk=-1)  # negative, like the placeholders: the same SQL

    with pytest.raises(AssertionError, match="its shape depends on its values"):
        prepared.fetch(pk=1)


@pytest.mark.django_db
def test_a_string_value_is_placed(nominations, people):
    prepared = Prepared(
        lambda username: Nomination.objects.filter(proposer__username=username), username=str
    )

    assert prepared.fetch(username="sam") == [nominations[1]]
    assert prepared.fetch(username="mara") == [nominations[0]]
    assert prepared.fetch(username="nobody") == []


@pytest.mark.django_db
def test_a_relation_already_prefetched_is_read_from_its_prefetch(
    the_cycle, django_assert_num_queries
):
    from workflow.models import Cycle

    prepared = Prepared(lambda cycle: cycle.tiers.all(), cycle=Cycle)
    fresh = prepared.fetch(cycle=the_cycle)  # compiled, and one query
    cycle = Cycle.objects.prefetch_related("tiers").get(pk=the_cycle.pk)

    with django_assert_num_queries(0):
        tiers = prepared.fetch(cycle=cycle)

    assert [t.number for t in tiers] == [t.number for t in fresh] == [1, 2, 3]
    assert list(cycle.tiers.all()) == tiers  # the prefetch itself is left as it was


@pytest.mark.django_db
def test_it_refuses_a_parameter_derived_from_a_value(nominations):
    """Kept, `pk + 1` would stay the placeholder's plus one whatever pk is asked for."""
    prepared = Prepared(lambda pk: Nomination.objects.filter(pk__gte=pk, pk__lte=pk + 1), pk=int)

    with pytest.raises(ImproperlyConfigured, match="derives from pk"):
        prepared.fetch(pk=nominations[0].pk)


@pytest.mark.django_db
def test_a_value_derived_from_one_is_never_taken_for_another(nominations):
    """The placeholders are far apart: `b + 1` is not `a`'s placeholder, and is refused."""
    prepared = Prepared(
        lambda a, b: Nomination.objects.filter(pk__gte=a, pk__lte=b, id__lt=b + 1),
        a=int,
        b=int,
    )

    with pytest.raises(ImproperlyConfigured, match="derives from a, b"):
        prepared.fetch(a=nominations[0].pk, b=nominations[1].pk)
