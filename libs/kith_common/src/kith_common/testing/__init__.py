"""Test support shared by every Kith package (CONVENTIONS §9).

The fixtures (`nats_url`, `database_url`, `engine`, `session_factory`, `stream_prefix`) come
from the `kith` pytest plugin in `plugin.py`, which pytest loads through its entry point; test
modules import only helpers from here, such as `eventually`.
"""

from kith_common.testing.plugin import (
    DATABASE_URL_ENV,
    DEFAULT_TEST_DATABASE_URL,
    DEFAULT_TEST_NATS_URL,
    NATS_URL_ENV,
    eventually,
)

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_TEST_DATABASE_URL",
    "DEFAULT_TEST_NATS_URL",
    "NATS_URL_ENV",
    "eventually",
]
