from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """What operators watch: /healthz, /metrics (docs/operations.md, "What to watch")."""

    name = "monitoring"
    verbose_name = "Monitoring"
