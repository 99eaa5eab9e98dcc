"""How a process authenticates to NATS: the options every connection of a service uses.

With `KITH_NATS_USER`/`KITH_NATS_PASSWORD` set, the service logs in as its own user of account
KITH (`bus.permissions`); without them it connects anonymously, as to the machine's NATS in
development and tests. Either way its reply inboxes are `_INBOX_<user>.*`, the only inboxes its
user may subscribe to, so no other user can read its replies. TLS is the URL's business
(`tls://host:4222`; the CA from `SSL_CERT_FILE` or the system store).
"""

from __future__ import annotations

from typing import Any

from faststream.nats import NatsUserPassword

from kith_common.bus.permissions import inbox_prefix
from kith_common.settings import Settings

__all__ = ["broker_options", "connect_options"]


def _user(settings: Settings, service: str) -> str:
    return settings.nats_user or service


def connect_options(settings: Settings, service: str) -> dict[str, Any]:
    """Keyword arguments for `nats.connect` (besides the URL)."""
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(_user(settings, service))}
    if settings.nats_user is not None and settings.nats_password is not None:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    return options


def broker_options(settings: Settings, service: str) -> dict[str, Any]:
    """Keyword arguments for FastStream's `NatsBroker` (besides the URL)."""
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(_user(settings, service))}
    if settings.nats_user is not None and settings.nats_password is not None:
        options["security"] = NatsUserPassword(
            settings.nats_user, settings.nats_password.get_secret_value()
        )
    return options
