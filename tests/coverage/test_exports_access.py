"""Who may download the exports: people on a side and ops; someone on no side is refused and
an anonymous visitor is sent to sign in. The file name is built from a slug and a date."""

import pytest

from coverage.services import snapshot_take
from tests.coverage.exports import client_of, url
from tests.factories import cycle, person

EXPORTS = ["coverage_accounts", "coverage_aggregates", "agreed_list"]


@pytest.fixture
def snapshot(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("who", ["marketing_member", "sales_member", "ops"])
def test_members_download(people, snapshot, export, who):
    response = client_of(getattr(people, who)).get(url(export, snapshot.cycle))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; ")


@pytest.mark.parametrize("export", EXPORTS)
def test_someone_on_no_side_is_refused(snapshot, export):
    response = client_of(person("nora", side=None)).get(url(export, snapshot.cycle))
    assert response.status_code == 403


@pytest.mark.parametrize("export", EXPORTS)
def test_an_anonymous_visitor_is_sent_to_sign_in(snapshot, export):
    path = url(export, snapshot.cycle)
    response = client_of(None).get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("export", EXPORTS)
def test_a_post_is_refused(people, snapshot, export):
    assert client_of(people.ops).post(url(export, snapshot.cycle)).status_code == 405


def test_an_unknown_cycle_answers_404(people, db):
    client = client_of(people.ops)
    assert client.get("/cycles/999999/export/agreed-list.csv").status_code == 404


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ('FY27 "H1"; filename=evil.exe', "fy27-h1-filenameevilexe"),
        ("../../etc/passwd", "etcpasswd"),
        ("Планы 2027", None),  # nothing ASCII but the year: still a safe name
        ("Ω", None),
    ],
)
def test_the_file_name_is_a_slug_and_a_date(people, name, slug):
    hostile = cycle(name)
    snapshot = snapshot_take(cycle=hostile)
    client = client_of(people.ops)
    for export, what, on in (
        ("coverage_accounts", "coverage-accounts", snapshot.taken_on),
        ("agreed_list", "agreed-list", snapshot.taken_on),
    ):
        disposition = client.get(url(export, hostile))["Content-Disposition"]
        prefix, _, filename = disposition.partition("filename=")
        assert prefix == "attachment; "
        filename = filename.strip('"')
        assert filename.endswith(f"-{what}-{on:%Y-%m-%d}.csv")
        assert all(c.isascii() and (c.isalnum() or c in "-.") for c in filename), filename
        if slug:
            assert filename == f"accord-{slug}-{what}-{on:%Y-%m-%d}.csv"
