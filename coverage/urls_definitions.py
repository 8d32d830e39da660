from django.urls import path

from coverage import definitions_views

app_name = "coverage_definitions"

urlpatterns = [
    path("", definitions_views.definitions_list, name="list"),
    path("<id:pk>/sign-off/", definitions_views.definitions_sign_off, name="sign_off"),
]
