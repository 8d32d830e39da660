"""Moved to core.text; this name stays until every caller imports core.text."""

from core.text import *  # noqa: F403
