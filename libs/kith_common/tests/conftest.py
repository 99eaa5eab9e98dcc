"""Fixtures shared by kith_common's tests (the database and bus ones come from the plugin)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from kith_common.logging import configure_logging


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The JSON log lines of service `testsvc`, captured for one test."""
    stream = io.StringIO()
    configure_logging(service="testsvc", log_format="json", level="info", stream=stream)
    yield stream
    logging.getLogger().handlers.clear()
