"""How the reset consumers pace and retry, and the test-only fault hook.

Production values come from reset.md §5/§7 and the KITH_RESET_* settings; tests shorten the
delays and inject failures through `faults` (the hook exists only when a test passes one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kith_common.settings import Settings
from kith_common.storage import Storage

Fault = Callable[[str, str, int], Awaitable[None]]
"""Called before each batch with (domain, table or file source, account id); raises to fail it."""


@dataclass(frozen=True, slots=True)
class Tuning:
    batch_size: int = 1000
    storage_page: int = 500
    progress_interval: float = 2.0
    import_poll_seconds: float = 2.0
    import_stop_timeout: float = 120.0
    cancelling_stale_seconds: int = 60
    ack_wait: float = 60.0
    max_deliver: int = 6
    nack_delays: tuple[float, ...] = (5.0, 15.0, 30.0, 60.0, 120.0)
    faults: Fault | None = None
    storage: Storage | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> Tuning:
        values: dict[str, object] = {
            "batch_size": settings.reset_batch_size,
            "import_stop_timeout": float(settings.reset_import_stop_timeout_seconds),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]  # overrides come from tests
