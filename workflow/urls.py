from django.urls import path

from workflow import views

app_name = "workflow"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("cycles/", views.cycle_list, name="cycles"),
    path("cycles/<id:pk>/", views.cycle_detail, name="cycle"),
    path("cycles/<id:pk>/nominate/", views.nominate, name="nominate"),
    path("cycles/<id:pk>/versions/", views.versions, name="versions"),
    path("cycles/<id:pk>/versions/compare/", views.version_compare, name="version_compare"),
    path("cycles/<id:pk>/versions/<id:number>/", views.version_detail, name="version"),
    path("nominations/<id:pk>/", views.nomination_detail, name="nomination"),
    path("nominations/<id:pk>/decide/", views.nomination_decide, name="decide"),
    path("nominations/<id:pk>/withdraw/", views.nomination_withdraw, name="withdraw"),
    path("nominations/<id:pk>/submit/", views.nomination_submit, name="submit"),
    path("nominations/<id:pk>/edit/", views.nomination_edit, name="edit"),
    path("nominations/<id:pk>/comments/", views.comment_create, name="comment"),
]
