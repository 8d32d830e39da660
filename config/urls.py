from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts_app.urls import icp_patterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts_app.urls")),
    path("icp/", include(icp_patterns)),
    path("sync/", include("crm.urls")),
    path("", include("coverage.urls")),
    path("", include("workflow.urls")),
]
