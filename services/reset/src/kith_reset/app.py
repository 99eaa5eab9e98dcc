"""The reset service process: `kith serve reset`.

Only this module touches the broker: it builds the runtime and registers the orchestrator,
one cleanup consumer per registry domain, the fan-in and the DLQ listener.
"""

from __future__ import annotations

from kith_common.events.payloads.dlq import DeadLetter
from kith_common.events.payloads.resets import (
    AccountResetContactsStarted,
    AccountResetDomainDone,
    AccountResetStarted,
    AccountResetStorageStarted,
    ResetAccount,
)
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.storage import open_storage
from kith_reset import consumers, handlers
from kith_reset.domains import DOMAINS
from kith_reset.tuning import Tuning

SERVICE = "reset"
STAGE_PAYLOADS = {
    "storage": AccountResetStorageStarted,
    "domains": AccountResetStarted,
    "contacts": AccountResetContactsStarted,
}


def build_app(settings: Settings, tuning: Tuning | None = None) -> Runtime:
    """The reset runtime; `tuning` defaults to the spec's numbers and the KITH_RESET_* settings."""
    tuning = tuning or Tuning.from_settings(settings)
    storage = tuning.storage or open_storage(settings.storage_url)
    runtime = Runtime(settings, SERVICE)
    runtime.consume(consumers.orchestrator(tuning), ResetAccount)(handlers.orchestrate(tuning))
    for domain in DOMAINS:
        runtime.consume(consumers.cleanup(domain, tuning), STAGE_PAYLOADS[domain.stage])(
            handlers.clean_domain(domain, tuning, storage)
        )
    runtime.consume(consumers.fanin(tuning), AccountResetDomainDone)(handlers.fan_in)
    runtime.consume(consumers.dead_letters(tuning), DeadLetter)(handlers.dead_letter)
    return runtime
