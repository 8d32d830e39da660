from django.urls import path

from accounts_app import views

app_name = "accounts_app"

urlpatterns = [
    path("", views.account_search, name="accounts"),
    path("<id:pk>/", views.account_detail, name="account"),
]

# Mounted at /icp/ by config/urls.py, in the `icp` namespace.
icp_patterns = (
    [
        path("", views.icp_list, name="list"),
        path("<id:pk>/sign-off/", views.icp_sign_off, name="sign_off"),
    ],
    "icp",
)
