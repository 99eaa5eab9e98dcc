"""The NATS permissions of each Kith user, generated from the bus's own declarations.

One user per service, in account `KITH`, may publish exactly the subjects the registry declares
it produces (`events.parties`), the dead letters of its own durables, and the JetStream API
calls its streams and durables need; it subscribes only its own reply inbox
(`_INBOX_<user>.>`), the request subjects it answers and, for the gateway, the live event
stream. The `events` user, for other systems, reads `kith.evt.>` and manages durables of its own
on `KITH_EVT`, never Kith's. nats-server enforces all of it (ARCHITECTURE §6); nothing here is a
home-made check on the wire.

Durables come from each service's `ConsumerSpec`s (the runtime built by `build_app`), subjects
from the registry: a service that starts publishing an undeclared subject is refused by
`bus.outbox` in every test of that service, and by the server in production.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.streams import StreamLayout
from kith_common.events import subjects as s
from kith_common.events.parties import SERVICES, consumed_by, publishes
from kith_common.events.registry import SUBJECTS

__all__ = [
    "ACCOUNT",
    "EVENTS_USER",
    "Permissions",
    "all_users",
    "events_permissions",
    "inbox_prefix",
    "replayable",
    "service_permissions",
]

ACCOUNT: Final = "KITH"
"""The NATS account of Kith's streams and users (KEDA's triggers name it)."""
EVENTS_USER: Final = "events"
"""The read-only user other systems subscribe with (docs/events.md)."""

# ARCHITECTURE §10: the gateway's live stream (`GET /v1/events`) is a core-NATS subscription to
# every event, not a durable, so no registry entry lists it as a consumer.
_CORE_SUBSCRIPTIONS: Final[Mapping[str, tuple[str, ...]]] = {"gateway": (s.EVT_ALL,)}
# The operator API (gateway): bus state, the DLQ listing and its replay (kith_gateway.admin).
_OPERATOR_SERVICE: Final = "gateway"


def inbox_prefix(user: str) -> str:
    """The reply-inbox prefix of `user`: no other user may subscribe to its replies."""
    return f"_INBOX_{user.replace('.', '_')}"


@dataclass(frozen=True, slots=True)
class Permissions:
    """One user's permissions, as nats-server's `permissions` block."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = field(default=())
    allow_responses: bool = False

    def server_config(self) -> dict[str, Any]:
        publish: dict[str, Any] = {"allow": list(self.publish)}
        if self.publish_deny:
            publish["deny"] = list(self.publish_deny)
        config: dict[str, Any] = {"publish": publish, "subscribe": {"allow": list(self.subscribe)}}
        if self.allow_responses:
            config["allow_responses"] = True
        return config


def _api(*tokens: str) -> str:
    return ".".join(("$JS.API", *tokens))


def _durable_api(stream: str, durable: str) -> tuple[str, ...]:
    """What binding, reading and acking one durable takes (nats-py and FastStream)."""
    return (
        _api("CONSUMER.CREATE", stream, durable),
        _api("CONSUMER.CREATE", stream, durable, ">"),
        _api("CONSUMER.DURABLE.CREATE", stream, durable),
        _api("CONSUMER.INFO", stream, durable),
        _api("CONSUMER.MSG.NEXT", stream, durable),
        f"$JS.ACK.{stream}.{durable}.>",
    )


def replayable() -> frozenset[str]:
    """Subjects a dead letter can be replayed to: commands and events some durable reads."""
    return frozenset(
        spec.subject
        for spec in SUBJECTS.values()
        if spec.kind in ("command", "event") and consumed_by(spec)
    )


def service_permissions(
    service: str, durables: Iterable[ConsumerSpec], layout: StreamLayout
) -> Permissions:
    """The permissions of `service`'s user, for its declared subjects and its `durables`."""
    specs = list(durables)
    streams = [layout.name_for(name) for name in s.STREAMS]
    publish: list[str] = [layout.subject(subject) for subject in sorted(publishes(service))]
    publish += [layout.subject(s.dlq_subject(spec.durable)) for spec in specs]
    publish.append(_api("INFO"))
    # Every service declares the streams on start (bus.streams.ensure_streams).
    for stream in streams:
        publish += [
            _api(verb, stream) for verb in ("STREAM.INFO", "STREAM.CREATE", "STREAM.UPDATE")
        ]
    for spec in specs:
        publish += _durable_api(layout.name_for(spec.stream), spec.durable)
    subscribe = [f"{inbox_prefix(service)}.>"]
    subscribe += [layout.subject(subject) for subject in _CORE_SUBSCRIPTIONS.get(service, ())]
    answers = sorted(
        spec.subject
        for spec in SUBJECTS.values()
        if spec.kind == "rpc" and service in consumed_by(spec)
    )
    subscribe += [layout.subject(subject) for subject in answers]
    if service == _OPERATOR_SERVICE:
        dlq = layout.dlq
        publish += [layout.subject(subject) for subject in sorted(replayable())]
        publish += [_api("CONSUMER.LIST", stream) for stream in streams]
        publish += [_api(verb, dlq) for verb in ("STREAM.MSG.GET", "STREAM.MSG.DELETE")]
        publish.append(_api("DIRECT.GET", dlq))
    return Permissions(
        publish=tuple(dict.fromkeys(publish)),
        subscribe=tuple(dict.fromkeys(subscribe)),
        allow_responses=bool(answers),
    )


def events_permissions(kith_durables: Iterable[ConsumerSpec], layout: StreamLayout) -> Permissions:
    """The `events` user: read `kith.evt.>` and run its own durables on KITH_EVT, nothing else.

    Its durables share KITH_EVT with Kith's own, and NATS wildcards cannot say "only names
    that are not Kith's", so every Kith durable on the stream is denied by name: the user can
    neither read from, delete nor re-create one of them.
    """
    evt = layout.evt
    publish = [
        _api("INFO"),
        _api("STREAM.NAMES"),
        _api("STREAM.INFO", evt),
        _api("CONSUMER.CREATE", evt),
        _api("CONSUMER.CREATE", evt, ">"),
        _api("CONSUMER.DURABLE.CREATE", evt, ">"),
        _api("CONSUMER.INFO", evt, ">"),
        _api("CONSUMER.DELETE", evt, ">"),
        _api("CONSUMER.MSG.NEXT", evt, ">"),
        _api("CONSUMER.NAMES", evt),
        _api("CONSUMER.LIST", evt),
        f"$JS.ACK.{evt}.>",
        f"$JS.FC.{evt}.>",
    ]
    deny: list[str] = []
    for spec in sorted(kith_durables, key=lambda spec: spec.durable):
        if layout.name_for(spec.stream) != evt:
            continue
        deny += [
            _api("CONSUMER.*", evt, spec.durable),
            _api("CONSUMER.*", evt, spec.durable, ">"),
            _api("CONSUMER.*.*", evt, spec.durable),
            f"$JS.ACK.{evt}.{spec.durable}.>",
        ]
    return Permissions(
        publish=tuple(publish),
        subscribe=(layout.subject(s.EVT_ALL), "_INBOX.>"),
        publish_deny=tuple(dict.fromkeys(deny)),
    )


def all_users(
    durables: Mapping[str, Sequence[ConsumerSpec]], layout: StreamLayout
) -> dict[str, Permissions]:
    """Every user of account KITH: one per service, then `events`."""
    users = {
        service: service_permissions(service, durables.get(service, ()), layout)
        for service in SERVICES
    }
    every = [spec for specs in durables.values() for spec in specs]
    users[EVENTS_USER] = events_permissions(every, layout)
    return users
