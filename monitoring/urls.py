from django.contrib.auth.decorators import login_not_required
from django.urls import path

from monitoring.health import HealthView
from monitoring.metrics import metrics

# Public by their own rules (tests/security/test_anonymous_access.py): /healthz tells anyone
# only "OK" or "failed" per check; /metrics answers allowed networks and the token only.
urlpatterns = [
    path("healthz", login_not_required(HealthView.as_view()), name="healthz"),
    path("metrics", metrics, name="metrics"),
]
