from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """What operators watch: /healthz, /metrics, the request's context in the logs
    (docs/operations.md, "Running Accord in production")."""

    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        from django_structlog import signals

        signals.bind_extra_request_metadata.connect(
            bind_client_ip, dispatch_uid="monitoring.client_ip"
        )


def bind_client_ip(request, **kwargs):
    """The client's address on a request's log lines, as the sign-in lockout and /metrics see
    it (config.client_ip, behind TRUSTED_PROXY_COUNT proxies): django-structlog's own would take
    whatever the client put in X-Forwarded-For."""
    import structlog

    from config.client_ip import client_ip

    structlog.contextvars.bind_contextvars(ip=client_ip(request))
