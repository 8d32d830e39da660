from django.urls import path

from workflow import views

app_name = "workflow"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("cycles/", views.cycle_list, name="cycles"),
    path("cycles/<int:pk>/", views.cycle_detail, name="cycle"),
    path("cycles/<int:pk>/nominate/", views.nominate, name="nominate"),
    path("cycles/<int:pk>/versions/", views.versions, name="versions"),
    path("cycles/<int:pk>/versions/compare/", views.version_compare, name="version_compare"),
    path("cycles/<int:pk>/versions/<int:number>/", views.version_detail, name="version"),
    path("nominations/<int:pk>/", views.nomination_detail, name="nomination"),
    path("nominations/<int:pk>/decide/", views.nomination_decide, name="decide"),
    path("nominations/<int:pk>/withdraw/", views.nomination_withdraw, name="withdraw"),
    path("nominations/<int:pk>/submit/", views.nomination_submit, name="submit"),
    path("nominations/<int:pk>/edit/", views.nomination_edit, name="edit"),
    path("nominations/<int:pk>/comments/", views.comment_create, name="comment"),
]
