from django.urls import path

from crm import views

app_name = "crm"

urlpatterns = [
    path("", views.sync, name="sync"),
    path("progress/", views.sync_progress, name="progress"),
    path("push/", views.push_now, name="push"),
    path("pull/", views.pull_now, name="pull"),
    path("runs/<id:pk>/", views.sync_run, name="run"),
    path("runs/<id:pk>/retry/", views.run_retry, name="run_retry"),
    path("outbox/<id:pk>/retry/", views.outbox_retry, name="outbox_retry"),
]
