"""Moved to core.roles; this name stays until every caller imports core.roles."""

from core.roles import *  # noqa: F403
