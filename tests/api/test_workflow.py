"""The whole agreement workflow through the API, as a script would run it."""

import time

from django.core import mail

from tests.api.conftest import client_for

NOMINATIONS = "/api/v1/nominations/"


def _targets(client, cycle, **params):
    return client.get(f"/api/v1/cycles/{cycle.pk}/target-accounts/", params)


def test_it_runs_the_whole_workflow_and_the_crm_job_sees_every_change(
    people, the_cycle, account, clients, django_capture_on_commit_callbacks
):
    proposer = clients["proposer"]
    sales = clients["other_side_approver"]
    crm = clients["integration"]

    # The CRM-side job reads the empty list and remembers its ETag.
    empty = _targets(crm, the_cycle)
    assert empty.status_code == 200
    assert empty.json()["results"] == []
    first_etag = empty["ETag"]

    # Propose: 201 with the nomination in review; the proposer's approval counts for marketing.
    created = proposer.post(
        NOMINATIONS,
        {
            "cycle": the_cycle.pk,
            "account_domain": "https://www.Globex.example/about",
            "kind": "add",
            "tier": 1,
            "rationale": "Expanding in EMEA",
            "evidence_links": ["https://globex.example/news"],
        },
    )
    assert created.status_code == 201, created.json()
    nomination = created.json()
    assert nomination["state"] == "in_review"
    assert nomination["account"]["domain"] == "globex.example"
    assert nomination["proposer"]["username"] == people.marketer.username
    assert nomination["proposer_side"] == "marketing"
    assert nomination["sign_off_status"]["marketing"]["reached"] is True
    assert nomination["sign_off_status"]["sales"]["reached"] is False
    assert created["Location"].endswith(f"{NOMINATIONS}{nomination['id']}/")
    url = f"{NOMINATIONS}{nomination['id']}/"

    # Discuss, with a mention that e-mails the person named.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        comment = sales.post(f"{url}comments/", {"body": "@mara what is the budget?"})
    assert comment.status_code == 201
    assert comment.json()["mentions"] == ["mara"]
    assert any(people.marketer.email in m.to for m in mail.outbox)

    # Sales asks for changes; the proposer answers with a new round.
    asked = sales.post(
        f"{url}decisions/", {"decision": "request_changes", "note": "Make it Tier 2"}
    )
    assert asked.status_code == 201
    assert asked.json()["decision"]["side"] == "sales"
    assert asked.json()["nomination"]["state"] == "changes_requested"

    resubmitted = proposer.post(
        f"{url}resubmit/", {"tier": 2, "note": "Tier 2 it is", "rationale": "Budget confirmed"}
    )
    assert resubmitted.status_code == 200, resubmitted.json()
    assert resubmitted.json()["state"] == "in_review"
    assert resubmitted.json()["round"] == 2
    assert resubmitted.json()["tier"] == 2

    # Both sides approve (another marketing approver too): it is agreed.
    same_side = clients["same_side_approver"].post(f"{url}decisions/", {"decision": "approve"})
    assert same_side.status_code == 201
    assert same_side.json()["nomination"]["state"] == "in_review"
    approved = sales.post(f"{url}decisions/", {"decision": "approve", "note": "Agreed"})
    assert approved.status_code == 201
    assert approved.json()["nomination"]["state"] == "approved"
    assert approved.json()["nomination"]["sign_off_status"]["sales"]["reached"] is True

    # The CRM job: its old ETag no longer matches, and the account is on the list.
    changed = _targets(crm, the_cycle, HTTP_IF_NONE_MATCH=first_etag)
    listed = _targets(crm, the_cycle)
    assert changed.status_code == 200
    assert [e["account"]["domain"] for e in listed.json()["results"]] == ["globex.example"]
    entry = listed.json()["results"][0]
    assert entry["tier"] == 2 and entry["active"] is True and entry["removed_at"] is None
    assert entry["nomination"] == nomination["id"]

    # Polling again with the ETag: 304 while nothing changes.
    etag = listed["ETag"]
    not_modified = crm.get(
        f"/api/v1/cycles/{the_cycle.pk}/target-accounts/", HTTP_IF_NONE_MATCH=etag
    )
    assert not_modified.status_code == 304
    assert not_modified["ETag"] == etag
    since = listed.json()["next_updated_since"]
    assert since is not None

    # The events tell the story, in order.
    events = clients["non_approver"].get(f"{url}events/").json()["results"]
    assert [e["action"] for e in events] == [
        "created",
        "submitted",
        "request_changes",
        "resubmitted",
        "approve",
        "approve",
        "agreed",
    ]

    # A removal nomination, approved by both sides, takes it off the list...
    time.sleep(0.01)
    removal = clients["same_side_approver"].post(
        NOMINATIONS,
        {
            "cycle": the_cycle.pk,
            "account": account.pk,
            "kind": "remove",
            "rationale": "Went with a competitor",
        },
    )
    assert removal.status_code == 201, removal.json()
    removal_url = f"{NOMINATIONS}{removal.json()['id']}/decisions/"
    assert (
        client_for(people.sales_approver_2)
        .post(removal_url, {"decision": "approve"})
        .json()["nomination"]["state"]
        == "approved"
    )

    # ...and the removal shows up in updated_since, with the list now empty.
    update = _targets(crm, the_cycle, updated_since=since)
    assert update.status_code == 200
    [removed] = update.json()["results"]
    assert removed["account"]["domain"] == "globex.example"
    assert removed["active"] is False and removed["removed_at"] is not None
    assert _targets(crm, the_cycle).json()["results"] == []
    assert _targets(crm, the_cycle, HTTP_IF_NONE_MATCH=etag).status_code == 200
