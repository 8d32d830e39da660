from django.urls import path

from coverage import views

app_name = "coverage"

urlpatterns = [
    path("coverage/", views.index, name="index"),
    path("cycles/<id:pk>/coverage/", views.dashboard, name="dashboard"),
    path("cycles/<id:pk>/coverage/accounts/", views.accounts, name="accounts"),
    path("cycles/<id:pk>/coverage/snapshot/", views.snapshot_now, name="snapshot"),
]
