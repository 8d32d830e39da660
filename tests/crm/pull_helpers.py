"""Builders for the pull tests: seeding the sandboxes through their hooks."""

from crm.pull import services

LONG_AGO = "2025-01-01T00:00:00Z"


def seed_hubspot(sandbox, object_type: str, *rows: dict, modified_start: str = LONG_AGO) -> list:
    """Insert these records (their properties) into the HubSpot sandbox; returns their ids."""
    answer = sandbox.seed(
        **{object_type: [{"properties": row} for row in rows]},
        modified_start=modified_start,
        modified_step_ms=1000,
    )
    return answer["ids"][object_type]


def link_hubspot(sandbox, *links: tuple[str, str, str, str]) -> None:
    """Associate (from type, from id, to type, to id); a first company is the primary one."""
    sandbox.seed(
        associations=[
            {"from_type": a, "from_id": b, "to_type": c, "to_id": d} for a, b, c, d in links
        ]
    )


def seed_salesforce(sandbox, sobject: str, *rows: dict, modified_start: str = LONG_AGO) -> list:
    answer = sandbox.seed(
        **{sobject: list(rows)}, modified_start=modified_start, modified_step_ms=1000
    )
    return answer["ids"][sobject]


def pull(**kwargs):
    return services.pull(trigger="command", **kwargs)


def searches(sandbox, object_type: str) -> int:
    return sandbox.counters()["by_route"].get(f"POST /crm/v3/objects/{object_type}/search", 0)
