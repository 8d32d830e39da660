"""What the pages of agreed definitions (the ideal customer profile, the coverage definitions)
show of each version: each side's sign-offs and whether the viewer may still decide. Both
pages sign off through core.agreements."""

from core.models import AgreementState
from core.roles import SIDE_GROUPS, is_approver


def agreement_rows(versions, *, viewer, form_class, bound_form=None, bound_for=None) -> list:
    """One dict per version (with `sign_offs__person` prefetched): the version, its sign-offs
    by side, the viewer's own and, for an approver who has not decided a version in review,
    a form (the bound one, with its errors, for the version it was posted to)."""
    rows = []
    for version in versions:
        sign_offs = list(version.sign_offs.all())
        mine = next((s for s in sign_offs if s.person_id == viewer.pk), None)
        rows.append(
            {
                "version": version,
                "sides": {side: [s for s in sign_offs if s.side == side] for side in SIDE_GROUPS},
                "mine": mine,
                "can_sign": version.state == AgreementState.IN_REVIEW
                and is_approver(viewer)
                and mine is None,
                "form": bound_form if bound_for == version.pk else form_class(),
            }
        )
    return rows
