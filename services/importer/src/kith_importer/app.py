"""The importer service process: `kith serve importer`.

Only this module touches the broker: it builds the runtime and registers the consumers and
the connection-check responder (core-NATS request/reply in a queue group).
"""

from __future__ import annotations

import dataclasses

from kith_common.events import subjects
from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.payloads.imports import CancelImport, ImportCompleted, StartImport
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.storage import open_storage
from kith_importer.config import ImporterConfig
from kith_importer.consumers import (
    CHECK_QUEUE,
    IMPORT_CANCEL,
    IMPORT_DLQ,
    IMPORT_MISC,
    IMPORT_START,
)
from kith_importer.handlers.dead_letters import make_dead_letters
from kith_importer.handlers.imports import make_cancel, make_check, make_start
from kith_importer.handlers.misc import make_misc
from kith_importer.sweeper import Sweeper

SERVICE = "importer"


def build_app(settings: Settings, config: ImporterConfig | None = None) -> Runtime:
    """The importer runtime; `config` lets tests shorten backoffs and retries."""
    runtime = Runtime(settings, SERVICE)
    config = config or ImporterConfig.from_settings(settings)
    start = dataclasses.replace(
        IMPORT_START, max_deliver=config.max_deliver, nack_delays=config.nack_delays
    )
    storage = open_storage(settings.storage_url)  # vCard uploads (importer.md §12)
    runtime.consume(start, StartImport)(make_start(config, runtime.sessions, storage))
    runtime.consume(IMPORT_CANCEL, CancelImport)(make_cancel())
    misc = dataclasses.replace(IMPORT_MISC, max_deliver=config.max_deliver)
    runtime.consume(misc, ImportCompleted)(make_misc(config, runtime.sessions))
    runtime.consume(IMPORT_DLQ, DeadLetter)(make_dead_letters())
    runtime.respond(
        subjects.RPC_IMPORT_CHECK_CONNECTION, CHECK_QUEUE, make_check(config, runtime.sessions)
    )
    sweeper = Sweeper(
        runtime.sessions,
        key_ttl_hours=settings.import_key_ttl_hours,
        rate_window=settings.monica_rate_limit_window_seconds,
    )

    async def start_sweeper(_: Runtime) -> None:
        sweeper.start()

    async def stop_sweeper(_: Runtime) -> None:
        await sweeper.stop()

    runtime.on_start.append(start_sweeper)
    runtime.on_stop.append(stop_sweeper)
    return runtime
