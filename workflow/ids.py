"""Moved to core.ids; this name stays until every caller imports core.ids."""

from core.ids import *  # noqa: F403
