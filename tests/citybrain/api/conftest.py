"""Fixtures the API's test modules share."""

from tests.citybrain.api.test_api import city  # noqa: F401  (two departments, one device each)
