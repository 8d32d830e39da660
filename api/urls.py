from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import coverage_views, sync_views, views
from crm import views as crm_views

app_name = "api"


@csrf_exempt  # it changes nothing; a JSON 404 beats an HTML CSRF page for a wrong URL
@login_not_required
def not_found(request, *args, **kwargs):
    return JsonResponse(
        {"detail": f"There is no API endpoint at {request.path}.", "code": "not_found"},
        status=404,
    )


v1 = [
    path("me/", views.MeView.as_view(), name="me"),
    path("accounts/", views.AccountListView.as_view(), name="accounts"),
    path("accounts/<id:pk>/", views.AccountDetailView.as_view(), name="account"),
    path("activities/", views.ActivityBatchView.as_view(), name="activities"),
    path("cycles/", views.CycleListView.as_view(), name="cycles"),
    path("cycles/<id:pk>/", views.CycleDetailView.as_view(), name="cycle"),
    path("cycles/<id:pk>/events/", views.CycleEventListView.as_view(), name="cycle-events"),
    path(
        "cycles/<id:pk>/target-accounts/",
        views.TargetAccountListView.as_view(),
        name="target-accounts",
    ),
    path("cycles/<id:pk>/coverage/", coverage_views.CoverageView.as_view(), name="coverage"),
    path(
        "cycles/<id:pk>/coverage/accounts/",
        coverage_views.CoverageAccountListView.as_view(),
        name="coverage-accounts",
    ),
    path("cycles/<id:pk>/versions/", views.VersionListView.as_view(), name="versions"),
    path(
        "cycles/<id:pk>/versions/<id:number>/",
        views.VersionDetailView.as_view(),
        name="version",
    ),
    path(
        "cycles/<id:pk>/versions/<id:number>/diff/",
        views.VersionDiffView.as_view(),
        name="version-diff",
    ),
    path("nominations/", views.NominationListView.as_view(), name="nominations"),
    path("nominations/<id:pk>/", views.NominationDetailView.as_view(), name="nomination"),
    path("nominations/<id:pk>/decisions/", views.DecisionListView.as_view(), name="decisions"),
    path("nominations/<id:pk>/comments/", views.CommentListView.as_view(), name="comments"),
    path("nominations/<id:pk>/events/", views.EventListView.as_view(), name="events"),
    path("nominations/<id:pk>/withdraw/", views.WithdrawView.as_view(), name="withdraw"),
    path("nominations/<id:pk>/resubmit/", views.ResubmitView.as_view(), name="resubmit"),
    path("service-accounts/", views.ServiceAccountListView.as_view(), name="service-accounts"),
    path(
        "service-accounts/<id:pk>/rotate/",
        views.ServiceAccountRotateView.as_view(),
        name="service-account-rotate",
    ),
    path(
        "service-accounts/<id:pk>/revoke/",
        views.ServiceAccountRevokeView.as_view(),
        name="service-account-revoke",
    ),
    path("sync-runs/", sync_views.SyncRunListView.as_view(), name="sync-runs"),
    path("sync-runs/<id:pk>/", sync_views.SyncRunDetailView.as_view(), name="sync-run"),
    # HubSpot's webhook: signed by HubSpot, no session or token (crm/webhooks.py).
    path("crm/hubspot/webhook/", crm_views.hubspot_webhook, name="hubspot-webhook"),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from ?script, not inline: the
    # Content-Security-Policy runs scripts from Accord's origin only.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    path("v1/", include(v1)),
    # Any other /api/v1/…/ answers a JSON 404 (paths without the final slash are redirected
    # to it first by APPEND_SLASH).
    re_path(r"^v1/(?:[\s\S]*/)?$", not_found),
]
