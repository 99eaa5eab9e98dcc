"""The dedup service process: `kith serve dedup`.

Only this module touches the broker: it builds the runtime, binds each handler to its
consumer, and on start queues the renormalize backfill for accounts whose match keys are of
another KEY_VERSION (dedup.md §2).
"""

from __future__ import annotations

from kith_common.events.payloads.contacts import MergeContacts
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.payloads.imports import ImportCompleted
from kith_common.events.payloads.phones import RenormalizePhones
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_dedup import consumers
from kith_dedup.handlers.merge import handle_merge
from kith_dedup.handlers.phones import handle_renormalize
from kith_dedup.handlers.scan import import_scan_handler, scan_handler
from kith_dedup.renormalize import queue_renormalize_for_stale_accounts

SERVICE = "dedup"


async def _check_key_version(runtime: Runtime) -> None:
    async with runtime.sessions() as session, session.begin():
        await queue_renormalize_for_stale_accounts(session)


def build_app(settings: Settings) -> Runtime:
    """The dedup runtime with its four consumers and the key-version check on start."""
    runtime = Runtime(settings, SERVICE)
    runtime.consume(consumers.SCAN, ScanDuplicates)(scan_handler(runtime.sessions))
    runtime.consume(consumers.IMPORT_SCAN, ImportCompleted)(import_scan_handler(runtime.sessions))
    runtime.consume(consumers.MERGE, MergeContacts)(handle_merge)
    runtime.consume(consumers.RENORMALIZE, RenormalizePhones)(handle_renormalize)
    runtime.on_start.append(_check_key_version)
    return runtime
