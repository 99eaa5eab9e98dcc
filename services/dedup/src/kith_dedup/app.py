"""The dedup service process: `kith serve dedup`.

Only this module touches the broker: it builds the runtime, binds each handler to its
consumer, and on start queues the renormalize backfill for accounts whose match keys are of
another KEY_VERSION (dedup.md §2).
"""

from __future__ import annotations

from functools import partial

from kith_common.events.payloads.contacts import ContactUpdated, MergeContacts
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_common.events.payloads.imports import ImportCompleted
from kith_common.events.payloads.phones import RenormalizePhones
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_dedup import consumers
from kith_dedup.changes import Coalescer, accounts_with_changes, scan_changes
from kith_dedup.handlers.contacts import contact_change_handler
from kith_dedup.handlers.merge import handle_merge
from kith_dedup.handlers.phones import handle_renormalize
from kith_dedup.handlers.scan import import_scan_handler, scan_handler
from kith_dedup.renormalize import queue_renormalize_for_stale_accounts

SERVICE = "dedup"


async def _check_key_version(runtime: Runtime) -> None:
    async with runtime.sessions() as session, session.begin():
        await queue_renormalize_for_stale_accounts(session)


def build_app(settings: Settings) -> Runtime:
    """The dedup runtime with its five consumers; on start, the key-version check and the
    change scans a stop left undone."""
    runtime = Runtime(settings, SERVICE)
    coalescer = Coalescer(partial(scan_changes, runtime.sessions))

    async def resume_change_scans(runtime: Runtime) -> None:
        async with runtime.sessions() as session:
            for account_id in await accounts_with_changes(session):
                coalescer.poke(account_id)

    runtime.consume(consumers.SCAN, ScanDuplicates)(scan_handler(runtime.sessions))
    runtime.consume(consumers.IMPORT_SCAN, ImportCompleted)(import_scan_handler(runtime.sessions))
    runtime.consume(consumers.CONTACT_SCAN, ContactUpdated)(contact_change_handler(coalescer))
    runtime.consume(consumers.MERGE, MergeContacts)(handle_merge)
    runtime.consume(consumers.RENORMALIZE, RenormalizePhones)(handle_renormalize)
    runtime.on_start.append(_check_key_version)
    runtime.on_start.append(resume_change_scans)
    return runtime
