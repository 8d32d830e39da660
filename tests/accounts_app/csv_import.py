"""What the CSV import's tests share: the admin's URLs and the columns of a file."""

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
