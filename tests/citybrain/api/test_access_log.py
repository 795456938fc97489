"""The access log keeps acknowledge-link signatures out: uvicorn's own logging set-up,
its access logger called as uvicorn calls it, the filter the API installs at start."""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from uvicorn.config import LOGGING_CONFIG

from citybrain.api.app import create_app
from citybrain.kernel.http import access_log
from citybrain.kernel.settings import Settings

SIG = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
PATH = f"/api/v1/incidents/7/ack-link?who=Li+Na%7Cemail%7C0123456789abcdef&exp=1772500000&sig={SIG}"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    logging.config.dictConfig(LOGGING_CONFIG)         # what uvicorn.run does before the app starts
    logger = logging.getLogger(access_log.ACCESS_LOGGER)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter('%(message)s'))
    saved = logger.handlers[:], logger.filters[:]
    logger.handlers = [handler]
    # Start without the filter, whatever an earlier app in this process installed.
    logger.filters = [f for f in logger.filters if not isinstance(f, access_log.RedactLinkSecrets)]
    try:
        yield out
    finally:
        logger.handlers, logger.filters = saved


def _request_line(path: str) -> None:
    # As uvicorn's h11 and httptools protocols log each answered request.
    logging.getLogger(access_log.ACCESS_LOGGER).info('%s - "%s %s HTTP/%s" %d', "10.0.0.7:51234", "GET",
                                                     path, "1.1", 200)


def test_an_ack_link_signature_never_reaches_the_access_log(logged: io.StringIO) -> None:
    access_log.install()
    access_log.install()                               # idempotent: one filter
    assert sum(isinstance(f, access_log.RedactLinkSecrets)
               for f in logging.getLogger(access_log.ACCESS_LOGGER).filters) == 1
    _request_line(PATH)
    _request_line("/api/v1/incidents?status=triggered")
    lines = logged.getvalue().splitlines()
    assert SIG not in logged.getvalue()
    assert lines[0] == ('10.0.0.7:51234 - "GET /api/v1/incidents/7/ack-link'
                        '?who=Li+Na%7Cemail%7C0123456789abcdef&exp=1772500000&sig=*** HTTP/1.1" 200')
    assert lines[1] == '10.0.0.7:51234 - "GET /api/v1/incidents?status=triggered HTTP/1.1" 200'


def test_without_the_filter_the_signature_would_be_logged(logged: io.StringIO) -> None:
    # What the filter is for: uvicorn logs the query string as it came.
    _request_line(PATH)
    assert SIG in logged.getvalue()


@pytest.mark.parametrize(("path", "shown"), [
    ("/x?sig=abc", "/x?sig=***"),
    ("/x?a=1&sig=abc&b=2", "/x?a=1&sig=***&b=2"),
    ("/x?design=abc", "/x?design=abc"),               # a parameter merely ending in "sig" stays
])
def test_redacted(path: str, shown: str) -> None:
    assert access_log.redacted(path) == shown


def test_the_api_installs_the_filter_when_it_starts(logged: io.StringIO, database_url: str, schema: str,
                                                    tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, database_schema=schema, data_dir=tmp_path)
    with TestClient(create_app(settings, database_url)):
        _request_line(PATH)
    assert SIG not in logged.getvalue() and "sig=***" in logged.getvalue()
