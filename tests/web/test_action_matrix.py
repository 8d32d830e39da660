"""Every action, for every role. Allowed actions succeed and change what the person sees;
refused ones answer 403 with the reason in plain words (or send anonymous visitors to sign
in) and change nothing at all."""

from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from tests.factories import AccountFactory
from tests.web.conftest import ROLES, everything

APPROVERS_NOT_PROPOSER = {"same_side_approver", "other_side_approver"}
ON_A_SIDE = {"proposer", "same_side_approver", "other_side_approver", "non_approver"}
MEMBERS = ON_A_SIDE | {"ops"}
ONLY_PROPOSER = "Only the proposer can"


@dataclass
class Action:
    setup: str  # the fixture that builds what the action works on
    url: str  # a URL name taking the setup object's pk (or the cycle's)
    data: dict
    allowed: set
    sees: dict  # role → what the page says afterwards ("*" for any allowed role)
    refusals: dict = field(default_factory=dict)  # role → the reason shown ("*" for others)


DECISION_REFUSALS = {
    "proposer": "You proposed this nomination, so you cannot decide on it.",
    "non_approver": "you are not an approver for sales",
    "ops": "Only people on the marketing or sales side can sign off nominations.",
}

ACTIONS = {
    "approve": Action(
        "in_review",
        "workflow:decide",
        {"decision": "approve"},
        APPROVERS_NOT_PROPOSER,
        {
            "same_side_approver": "Your approval is recorded",
            "other_side_approver": "Both sides agreed: Globex joins Tier 1 of the FY27 H1 list.",
        },
        DECISION_REFUSALS,
    ),
    "reject": Action(
        "in_review",
        "workflow:decide",
        {"decision": "reject", "note": "Not a fit this half."},
        APPROVERS_NOT_PROPOSER,
        {"*": "You rejected this nomination."},
        DECISION_REFUSALS,
    ),
    "request changes": Action(
        "in_review",
        "workflow:decide",
        {"decision": "request_changes", "note": "Tier 2 fits better."},
        APPROVERS_NOT_PROPOSER,
        {"*": "You asked for changes."},
        DECISION_REFUSALS,
    ),
    "withdraw": Action(
        "in_review",
        "workflow:withdraw",
        {"note": "Lost the deal."},
        {"proposer"},
        {"*": "You withdrew this nomination."},
        {"*": f"{ONLY_PROPOSER} withdraw this nomination."},
    ),
    "submit a draft": Action(
        "draft",
        "workflow:submit",
        {},
        {"proposer"},
        {"*": "Submitted: it now waits for both sides"},
        {
            "*": f"{ONLY_PROPOSER} submit this nomination.",
            "ops": "Only people on the marketing or sales side can submit nominations.",
        },
    ),
    "edit a draft": Action(
        "draft",
        "workflow:edit",
        {"step": "save", "tier": "3", "rationale": "Sharper rationale.", "evidence_links": ""},
        {"proposer"},
        {"*": "Sharper rationale."},
        {"*": f"{ONLY_PROPOSER} edit this nomination."},
    ),
    "resubmit": Action(
        "changes_requested",
        "workflow:edit",
        {
            "step": "resubmit",
            "tier": "2",
            "rationale": "Tier 2 as asked.",
            "evidence_links": "",
            "note": "Moved.",
        },
        {"proposer"},
        {"*": "Resubmitted: a new round of sign-offs begins."},
        {
            "*": f"{ONLY_PROPOSER} resubmit this nomination.",
            "ops": "Only people on the marketing or sales side can resubmit nominations.",
        },
    ),
    "comment": Action(
        "in_review",
        "workflow:comment",
        {"body": "What is their renewal date?"},
        MEMBERS,
        {"*": "What is their renewal date?"},
    ),
    "publish a list version": Action(
        "the_cycle",
        "workflow:versions",
        {"note": "Kick-off list"},
        {"ops"},
        {"*": "Version 1 of the FY27 H1 list is published."},
        {"*": "Only revenue operations can publish list versions."},
    ),
    "nominate": Action(
        "the_cycle",
        "workflow:nominate",
        {"step": "submit", "kind": "add", "tier": "2", "rationale": "Fits the ICP."},
        ON_A_SIDE,
        {"*": "Submitted: Initech now waits for both sides"},
        {"ops": "Only people on the marketing or sales side can propose accounts."},
    ),
    "add an account": Action(
        "the_cycle",
        "workflow:nominate",
        {"step": "create_account", "new-name": "Vandelay", "new-domain": "vandelay.example"},
        ON_A_SIDE,
        {"*": "Vandelay was added to the accounts."},
        {"ops": "Only people on the marketing or sales side can propose accounts."},
    ),
    "sign off a profile": Action(
        "icp_in_review",
        "icp:sign_off",
        {"decision": "approve"},
        {"proposer", "same_side_approver", "other_side_approver"},
        {"*": "Your approval is recorded"},
        {
            "non_approver": "you are not an approver for sales",
            "ops": "Only people on the marketing or sales side can sign off an ideal customer",
        },
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ACTIONS))
def test_it_allows_each_action_only_to_its_roles(name, role, request, people, role_user, as_):
    action = ACTIONS[name]
    target = request.getfixturevalue(action.setup)
    data = dict(action.data)
    if name == "nominate":
        data["account"] = AccountFactory(name="Initech", domain="initech.example").pk
    url = reverse(action.url, args=[target.pk])
    before = everything()

    client = as_(role_user(role))
    response = client.post(url, data)

    if role in action.allowed:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert everything() != before
        page = client.get(response["Location"]).content.decode()
        assert action.sees.get(role, action.sees.get("*")) in page
        return
    assert everything() == before
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        return
    assert response.status_code == 403
    page = response.content.decode()
    if role == "no_side":
        assert "not on the marketing or the sales side" in page
    else:
        assert action.refusals.get(role, action.refusals.get("*")) in page
