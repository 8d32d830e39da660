"""What the CSV import's tests share: the admin's URLs and the columns of a file, of accounts
and of activities."""

IMPORT_URL = "/admin/accounts_app/account/import/"
CONFIRM_URL = "/admin/accounts_app/account/import/confirm/"
EXPORT_URL = "/admin/accounts_app/account/export/"
HEADER = (
    "name,domain,industry,employee_count,annual_revenue,country,region,"
    "sales_owner,marketing_owner,parent_domain\n"
)


def status_url(pk) -> str:
    return f"/admin/accounts_app/account/import/{pk}/"


def progress_url(pk) -> str:
    return f"/admin/accounts_app/account/import/{pk}/progress/"


def rows(count: int, *, start: int = 0) -> str:
    """`count` valid rows, company<i>.example."""
    return "".join(
        f"Company {i},company{i}.example,Software,{10 + i % 900},,DE,EMEA,,,\n"
        for i in range(start, start + count)
    )


ACTIVITY_IMPORT_URL = "/admin/accounts_app/activity/import/"
ACTIVITY_CONFIRM_URL = "/admin/accounts_app/activity/import/confirm/"
ACTIVITY_HEADER = (
    "account,account_key,domain,contact_email,kind,side,occurred_at,subject,external_id\n"
)


def activity_status_url(pk) -> str:
    return f"/admin/accounts_app/activity/import/{pk}/"


def activity_progress_url(pk) -> str:
    return f"/admin/accounts_app/activity/import/{pk}/progress/"


def activity_rows(account, count: int, *, start: int = 0) -> str:
    """`count` valid rows of web visits to `account` (by id), external ids visit-<i>."""
    return "".join(
        f"{account.pk},,,,web_visit,marketing,2026-11-{1 + i % 28:02d}T10:00:00Z,/pricing {i},"
        f"visit-{i}\n"
        for i in range(start, start + count)
    )
