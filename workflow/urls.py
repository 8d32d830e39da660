from django.urls import path

from workflow import views

app_name = "workflow"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("nominations/<int:pk>/", views.nomination_detail, name="nomination"),
]
