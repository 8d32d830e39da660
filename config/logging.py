"""Logs as structured events (structlog, through the standard library's logging): one JSON
object a line in production, readable text in development; LOG_FORMAT=json|text overrides.

django-structlog binds a request id (and the user's id and address) to every line a request
logs, including the lines of the standard library's loggers (Django's, Celery's, Accord's), and
hands it to the Celery tasks the request queues, whose lines carry it too.
"""

from __future__ import annotations

import structlog

# Every line, from structlog or the standard library: the request's context, the logger, the
# level, the time.
_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
_RENDERERS = {
    "json": [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()],
    # Plain tracebacks: rich's (the default when it is installed) print every local variable.
    "text": [
        structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    ],
}
FORMATS = tuple(_RENDERERS)


def formatter(log_format: str) -> dict:
    """The `logging` formatter for LOGGING["formatters"]."""
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
        + _RENDERERS[log_format],
        "foreign_pre_chain": _SHARED,
    }


def configure_structlog() -> None:
    """structlog's own loggers hand their events to the standard library's handlers."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
