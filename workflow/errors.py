"""Moved to core.errors; this name stays until every caller imports core.errors."""

from core.errors import *  # noqa: F403
