"""The importer's plain-value configuration, built once from Settings in `build_app`."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from kith_common.settings import Settings
from kith_common.ssrf import AllowedHosts

__all__ = ["ImporterConfig", "owner_is_dead", "worker_id"]


def worker_id() -> str:
    """Names this process in `imports.lease_owner` (host, pid and a random suffix)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str, me: str) -> bool:
    """Whether a lease `owner` is a process of this host that no longer runs.

    Only same-host owners can be judged: their pid is gone, or it is ours under another
    suffix (a restarted container reuses pid 1). Another host's owner is never judged dead
    here; its lease goes stale after 60 s instead.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, suffix = rest.partition(":")
    my_host, _, my_rest = me.partition(":")
    if host != my_host or not pid_text.isdigit() or owner == me:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return suffix != my_rest.partition(":")[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class ImporterConfig:
    encryption_key: bytes
    allow_private_hosts: bool
    rate_limit_per_window: int
    rate_window_seconds: float
    max_response_bytes: int
    max_deliver: int = 8
    backoff_base: float = 1.0
    nack_delays: tuple[float, ...] = (5.0, 15.0, 60.0, 120.0, 300.0)
    # Refresh the planner's statistics when an import reaches this many contacts, then at
    # every doubling (kith_importer.statistics); 0 turns it off.
    analyze_after_contacts: int = 1000
    vcard_max_cards: int = 50_000
    request_deadline: float = 120.0
    max_retry_after: float = 120.0
    check_concurrency: int = 8
    # KITH_SECRET_KEY_PREVIOUS during a rotation: decrypts keys stored before it, never encrypts.
    previous_keys: tuple[bytes, ...] = ()
    allowed_hosts: AllowedHosts = ()  # KITH_IMPORT_ALLOWED_HOSTS
    owner: str = field(default_factory=worker_id)

    @property
    def decryption_keys(self) -> tuple[bytes, ...]:
        return (self.encryption_key, *self.previous_keys)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> ImporterConfig:
        values: dict[str, object] = {
            "encryption_key": settings.encryption_key(),
            "previous_keys": settings.decryption_keys()[1:],
            "allowed_hosts": settings.allowed_hosts(),
            "allow_private_hosts": settings.import_allow_private_hosts,
            "rate_limit_per_window": settings.monica_rate_limit_per_minute,
            "rate_window_seconds": settings.monica_rate_limit_window_seconds,
            "max_response_bytes": settings.monica_max_response_bytes,
            "vcard_max_cards": settings.vcard_max_cards,
            "request_deadline": settings.monica_request_deadline_seconds,
            "max_retry_after": settings.monica_max_retry_after_seconds,
            "check_concurrency": settings.connection_check_concurrency,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
