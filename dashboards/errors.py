"""The dashboards' errors: each says what failed and what to do about it."""

from __future__ import annotations

from citybrain.kernel.errors import CitybrainError


class DashboardError(CitybrainError):
    """A dashboard could not be built, expanded or pushed."""
