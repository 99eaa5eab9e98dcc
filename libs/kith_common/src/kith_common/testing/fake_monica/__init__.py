"""The fake Monica v4 server (monica-api-v4.md §12, importer.md §14).

Ships with kith_common so tests, `kith dev --demo` and `bench/` can all use it:

    world = generate(contacts=300, seed=7)
    fake = FakeMonica(world, rate_limit=0)
    with FakeMonicaServer(fake) as server:
        ...  # server.url, token "test-token"; fake.count("/api/contacts"), fake.log

Standalone: `python -m kith_common.testing.fake_monica --seed 7 --contacts 300 --port 8080`.
"""

from kith_common.testing.fake_monica.app import FakeMonica, Fault, LogEntry
from kith_common.testing.fake_monica.generator import GeneratorOptions, generate, png_bytes
from kith_common.testing.fake_monica.server import FakeMonicaServer
from kith_common.testing.fake_monica.world import Contact, World

__all__ = [
    "Contact",
    "FakeMonica",
    "FakeMonicaServer",
    "Fault",
    "GeneratorOptions",
    "LogEntry",
    "World",
    "generate",
    "png_bytes",
]
