from django.urls import path

from coverage import views

app_name = "coverage"

urlpatterns = [
    path("coverage/", views.index, name="index"),
    path("cycles/<int:pk>/coverage/", views.dashboard, name="dashboard"),
    path("cycles/<int:pk>/coverage/accounts/", views.accounts, name="accounts"),
    path("cycles/<int:pk>/coverage/snapshot/", views.snapshot_now, name="snapshot"),
]
