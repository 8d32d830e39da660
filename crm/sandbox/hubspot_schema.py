"""HubSpot's object types, default properties and association types, as the sandbox knows them.

Sources (HubSpot developer docs, CRM v3/v4):
- object type ids: companies 0-2, contacts 0-1, deals 0-3, calls 0-48, emails 0-49,
  meetings 0-47 ("Understanding the CRM: object type IDs");
- the properties each object returns by default ("CRM objects API: Properties returned by
  default"); contacts keep `lastmodifieddate`, the other objects `hs_lastmodifieddate`;
- HubSpot-defined association type ids ("Associations v4: association type id values"); the
  contact→company and deal→company pairs also carry the labelled "Primary" type.
"""

from __future__ import annotations

from dataclasses import dataclass

DEAL_STAGES = [
    ("appointmentscheduled", "Appointment scheduled"),
    ("qualifiedtobuy", "Qualified to buy"),
    ("presentationscheduled", "Presentation scheduled"),
    ("decisionmakerboughtin", "Decision maker bought-in"),
    ("contractsent", "Contract sent"),
    ("closedwon", "Closed won"),
    ("closedlost", "Closed lost"),
]
BUYING_ROLES = [
    ("BLOCKER", "Blocker"),
    ("BUDGET_HOLDER", "Budget holder"),
    ("CHAMPION", "Champion"),
    ("DECISION_MAKER", "Decision maker"),
    ("END_USER", "End user"),
    ("EXECUTIVE_SPONSOR", "Executive sponsor"),
    ("INFLUENCER", "Influencer"),
    ("LEGAL_AND_COMPLIANCE", "Legal and compliance"),
    ("OTHER", "Other"),
]
TIERS = [("tier_1", "Tier 1"), ("tier_2", "Tier 2"), ("tier_3", "Tier 3")]
LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing qualified lead"),
    ("salesqualifiedlead", "Sales qualified lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]

# Read-only properties the API fills in; writes to them are ignored.
READ_ONLY = {
    "hs_object_id",
    "hs_lastmodifieddate",
    "lastmodifieddate",
    "hs_createdate",
    "hs_is_closed",
    "hs_is_closed_won",
    # Contacts' marketing analytics: HubSpot fills them in from its tracking code, marketing
    # e-mails and forms.
    "hs_analytics_last_visit_timestamp",
    "hs_analytics_last_url",
    "hs_email_last_click_date",
    "hs_email_last_email_name",
    "recent_conversion_date",
    "recent_conversion_event_name",
}


@dataclass(frozen=True)
class ObjectType:
    name: str  # path name: "companies"
    type_id: str  # "0-2"
    upper: str  # "COMPANY", as in "Could not get some COMPANY objects"
    singular: str  # "company", as in "No company is associated with ..."
    created: str  # property holding the creation time
    modified: str  # property holding the last modification time
    defaults: tuple[str, ...]  # properties returned when none are asked for


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType(
            "companies",
            "0-2",
            "COMPANY",
            "company",
            "createdate",
            "hs_lastmodifieddate",
            ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        ),
        ObjectType(
            "contacts",
            "0-1",
            "CONTACT",
            "contact",
            "createdate",
            "lastmodifieddate",
            ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
        ),
        ObjectType(
            "deals",
            "0-3",
            "DEAL",
            "deal",
            "createdate",
            "hs_lastmodifieddate",
            (
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ),
        ),
        ObjectType(
            "calls",
            "0-48",
            "CALL",
            "call",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ),
        ObjectType(
            "meetings",
            "0-47",
            "MEETING",
            "meeting",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ),
        ObjectType(
            "emails",
            "0-49",
            "EMAIL",
            "email",
            "hs_createdate",
            "hs_lastmodifieddate",
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ),
    )
}
# HubSpot accepts the object type id and the singular name in paths too.
TYPE_ALIASES = {t.type_id: t.name for t in OBJECT_TYPES.values()} | {
    t.singular: t.name for t in OBJECT_TYPES.values()
}
ENGAGEMENTS = ("calls", "meetings", "emails")

# (from, to) -> (unlabelled type id, "Primary" type id or None)
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("calls", "contacts"): (194, None),
    ("contacts", "calls"): (193, None),
    ("calls", "companies"): (182, None),
    ("companies", "calls"): (181, None),
    ("calls", "deals"): (206, None),
    ("deals", "calls"): (205, None),
    ("meetings", "contacts"): (200, None),
    ("contacts", "meetings"): (199, None),
    ("meetings", "companies"): (188, None),
    ("companies", "meetings"): (187, None),
    ("meetings", "deals"): (212, None),
    ("deals", "meetings"): (211, None),
    ("emails", "contacts"): (198, None),
    ("contacts", "emails"): (197, None),
    ("emails", "companies"): (186, None),
    ("companies", "emails"): (185, None),
    ("emails", "deals"): (210, None),
    ("deals", "emails"): (209, None),
}
# type id -> (from, to, is primary)
ASSOCIATION_TYPE_IDS: dict[int, tuple[str, str, bool]] = {}
for (_from, _to), (_plain, _primary) in ASSOCIATION_TYPES.items():
    ASSOCIATION_TYPE_IDS[_plain] = (_from, _to, False)
    if _primary is not None:
        ASSOCIATION_TYPE_IDS[_primary] = (_from, _to, True)


def _options(pairs: list[tuple[str, str]]) -> list[dict]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False, "description": ""}
        for i, (value, label) in enumerate(pairs)
    ]


FIELD_TYPES = {
    "string": {"text", "textarea", "phonenumber", "html", "file"},
    "number": {"number", "calculation_equation"},
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "phone_number": {"phonenumber"},
}


def _p(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str | None = None,
    group: str = "",
    options: list[tuple[str, str]] | None = None,
    *,
    unique: bool = False,
    calculated: bool = False,
) -> dict:
    field_type = (
        field_type
        or {
            "string": "text",
            "number": "number",
            "bool": "booleancheckbox",
            "enumeration": "select",
            "datetime": "date",
            "date": "date",
        }[type_]
    )
    if type_ == "bool" and options is None:
        options = [("true", "Yes"), ("false", "No")]
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": _options(options or []),
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": True,
        "formField": not calculated,
        "archived": False,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": name in READ_ONLY or calculated,
        },
    }


def _common(group: str, created: str, modified: str) -> list[dict]:
    return [
        _p("hs_object_id", "Record ID", "number", group=group, calculated=True),
        _p(created, "Create date", "datetime", group=group),
        _p(modified, "Last modified date", "datetime", group=group, calculated=True),
        _p("hubspot_owner_id", "Owner", "enumeration", group=group),
    ]


def _engagement(group: str, prefix: str, extra: list[dict]) -> list[dict]:
    return [
        *_common(group, "hs_createdate", "hs_lastmodifieddate"),
        _p("hs_timestamp", "Activity date", "datetime", group=group),
        *extra,
    ]


DEFAULT_GROUPS = {
    "companies": "companyinformation",
    "contacts": "contactinformation",
    "deals": "dealinformation",
    "calls": "call",
    "meetings": "meeting",
    "emails": "email",
}


def default_properties() -> dict[str, dict[str, dict]]:
    """A fresh copy of every object's HubSpot-defined properties."""
    g = DEFAULT_GROUPS
    props = {
        "companies": [
            *_common(g["companies"], "createdate", "hs_lastmodifieddate"),
            _p("name", "Company name", group=g["companies"]),
            _p("domain", "Company domain name", group=g["companies"]),
            _p("website", "Website URL", group=g["companies"]),
            _p("industry", "Industry", group=g["companies"]),
            _p("country", "Country/Region", group=g["companies"]),
            _p("city", "City", group=g["companies"]),
            _p("numberofemployees", "Number of employees", "number", group=g["companies"]),
            _p("annualrevenue", "Annual revenue", "number", group=g["companies"]),
            _p("description", "Description", field_type="textarea", group=g["companies"]),
            _p(
                "lifecyclestage",
                "Lifecycle stage",
                "enumeration",
                "radio",
                g["companies"],
                LIFECYCLE_STAGES,
            ),
            _p("hs_is_target_account", "Target account", "bool", group=g["companies"]),
            _p(
                "hs_ideal_customer_profile",
                "Ideal customer profile tier",
                "enumeration",
                "radio",
                g["companies"],
                TIERS,
            ),
            _p("hs_parent_company_id", "Parent company", "number", group=g["companies"]),
        ],
        "contacts": [
            *_common(g["contacts"], "createdate", "lastmodifieddate"),
            # Contacts are unique by e-mail address: it can be the idProperty of an upsert.
            _p("email", "Email", group=g["contacts"], unique=True),
            _p("firstname", "First name", group=g["contacts"]),
            _p("lastname", "Last name", group=g["contacts"]),
            _p("jobtitle", "Job title", group=g["contacts"]),
            _p("company", "Company name", group=g["contacts"]),
            _p("phone", "Phone number", group=g["contacts"]),
            _p(
                "hs_buying_role",
                "Buying role",
                "enumeration",
                "checkbox",
                g["contacts"],
                BUYING_ROLES,
            ),
            _p(
                "lifecyclestage",
                "Lifecycle stage",
                "enumeration",
                "radio",
                g["contacts"],
                LIFECYCLE_STAGES,
            ),
            _p(
                "associatedcompanyid",
                "Primary associated company ID",
                "number",
                group=g["contacts"],
            ),
            _p("notes_last_contacted", "Last contacted", "datetime", group=g["contacts"]),
            _p("notes_last_updated", "Last activity date", "datetime", group=g["contacts"]),
            _p(
                "hs_last_sales_activity_timestamp",
                "Last engagement date",
                "datetime",
                group=g["contacts"],
            ),
            _p(
                "hs_analytics_last_visit_timestamp",
                "Time of last session",
                "datetime",
                group="analyticsinformation",
                calculated=True,
            ),
            _p(
                "hs_analytics_last_url",
                "Last page seen",
                group="analyticsinformation",
                calculated=True,
            ),
            _p(
                "hs_email_last_click_date",
                "Last marketing email click date",
                "datetime",
                group="emailinformation",
                calculated=True,
            ),
            _p(
                "hs_email_last_email_name",
                "Last marketing email name",
                group="emailinformation",
                calculated=True,
            ),
            _p(
                "recent_conversion_date",
                "Recent conversion date",
                "datetime",
                group="conversioninformation",
                calculated=True,
            ),
            _p(
                "recent_conversion_event_name",
                "Recent conversion",
                group="conversioninformation",
                calculated=True,
            ),
        ],
        "deals": [
            *_common(g["deals"], "createdate", "hs_lastmodifieddate"),
            _p("dealname", "Deal name", group=g["deals"]),
            _p("dealstage", "Deal stage", "enumeration", "radio", g["deals"], DEAL_STAGES),
            _p("pipeline", "Pipeline", "enumeration", "select", g["deals"], [("default", "Sales")]),
            _p("amount", "Amount", "number", group=g["deals"]),
            _p("deal_currency_code", "Currency", group=g["deals"]),
            _p("closedate", "Close date", "datetime", group=g["deals"]),
            _p("hs_is_closed", "Is deal closed?", "bool", group=g["deals"], calculated=True),
            _p("hs_is_closed_won", "Is closed won", "bool", group=g["deals"], calculated=True),
        ],
        "calls": _engagement(
            g["calls"],
            "call",
            [
                _p("hs_call_title", "Call title", group=g["calls"]),
                _p("hs_call_body", "Call notes", field_type="textarea", group=g["calls"]),
                _p("hs_call_direction", "Call direction", group=g["calls"]),
                _p("hs_call_status", "Call status", group=g["calls"]),
                _p("hs_call_duration", "Call duration", "number", group=g["calls"]),
            ],
        ),
        "meetings": _engagement(
            g["meetings"],
            "meeting",
            [
                _p("hs_meeting_title", "Meeting name", group=g["meetings"]),
                _p("hs_meeting_body", "Meeting description", "string", "textarea", g["meetings"]),
                _p("hs_meeting_start_time", "Start time", "datetime", group=g["meetings"]),
                _p("hs_meeting_end_time", "End time", "datetime", group=g["meetings"]),
                _p("hs_meeting_outcome", "Meeting outcome", group=g["meetings"]),
            ],
        ),
        "emails": _engagement(
            g["emails"],
            "email",
            [
                _p("hs_email_subject", "Email subject", group=g["emails"]),
                _p("hs_email_text", "Email body", field_type="textarea", group=g["emails"]),
                _p("hs_email_direction", "Email direction", group=g["emails"]),
                _p("hs_email_status", "Email send status", group=g["emails"]),
            ],
        ),
    }
    return {object_type: {p["name"]: p for p in items} for object_type, items in props.items()}


EXTRA_GROUPS = {
    "contacts": {
        "analyticsinformation": "Web analytics history",
        "emailinformation": "Email information",
        "conversioninformation": "Conversion information",
    }
}


def default_groups() -> dict[str, dict[str, dict]]:
    groups = {
        object_type: {
            name: {"name": name, "label": name.title(), "displayOrder": -1, "archived": False}
        }
        for object_type, name in DEFAULT_GROUPS.items()
    }
    for object_type, extra in EXTRA_GROUPS.items():
        for name, label in extra.items():
            groups[object_type][name] = {
                "name": name,
                "label": label,
                "displayOrder": -1,
                "archived": False,
            }
    return groups
