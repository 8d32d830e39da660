"""The CSV downloads of a cycle (coverage/export_views.py), under the cycle page's path."""

from django.urls import path

from coverage import export_views

app_name = "coverage_exports"

urlpatterns = [
    path(
        "cycles/<id:pk>/export/coverage-accounts.csv",
        export_views.coverage_accounts_csv,
        name="coverage_accounts",
    ),
    path(
        "cycles/<id:pk>/export/coverage-aggregates.csv",
        export_views.coverage_aggregates_csv,
        name="coverage_aggregates",
    ),
    path(
        "cycles/<id:pk>/export/agreed-list.csv",
        export_views.agreed_list_csv,
        name="agreed_list",
    ),
]
