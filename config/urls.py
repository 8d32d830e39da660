from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from core.ids import IdConverter

# Before the apps' URL modules are imported: their patterns use `<id:…>`.
register_converter(IdConverter, "id")

from accounts_app.urls import icp_patterns  # noqa: E402

urlpatterns = [
    path("", include("monitoring.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts_app.urls")),
    path("icp/", include(icp_patterns)),
    path("sync/", include("crm.urls")),
    path("coverage/definitions/", include("coverage.urls_definitions")),
    path("", include("coverage.urls")),
    path("", include("coverage.urls_exports")),
    path("", include("workflow.urls")),
]

# A database that cannot be reached answers 503 with a plain message, not a 500 (core/web.py).
handler500 = "core.web.server_error"
