"""nats-server configuration of account KITH and its users, rendered from `bus.permissions`.

One generator feeds every place NATS runs: `kith dev`'s embedded server (literal passwords,
kept in its state directory), docker-compose (`deploy/nats/accounts.conf`) and the Helm chart
(`deploy/k8s/nats/values-auth.yaml`), the last two reading each password from an environment
variable (`NATS_<USER>_PASSWORD`) that a Secret fills. The committed files are this
module's output and a test fails when they drift (`kith docs nats-accounts`, `kith docs
nats-helm`). The durables come from each installed service's `build_app`, exactly what
`kith serve <service>` binds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any, Final

import yaml

from kith_common.bus.consumers import ConsumerSpec
from kith_common.bus.permissions import ACCOUNT, EVENTS_USER, all_users
from kith_common.bus.streams import StreamLayout
from kith_common.events.parties import SERVICES

__all__ = [
    "HELM_SECRET",
    "USERS",
    "Raw",
    "accounts_config",
    "helm_values",
    "password_variable",
    "render_conf",
    "service_durables",
]

USERS: Final = (*SERVICES, EVENTS_USER)
"""Every user of account KITH, in a fixed order."""
HELM_SECRET: Final = "nats-kith-users"  # noqa: S105  # a Secret's name, not a password
"""The Secret (namespace `nats`) holding one password per user, keyed by user name."""
_SERVICE_GROUP: Final = "kith.services"
_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Raw(str):
    """A value written unquoted: a `$VARIABLE` reference that nats-server expands."""

    __slots__ = ()


def password_variable(user: str) -> str:
    """The environment variable that holds `user`'s password for nats-server."""
    return f"NATS_{user.upper()}_PASSWORD"


def service_durables() -> dict[str, list[ConsumerSpec]]:
    """Each installed service's durables, read from the runtime its `build_app` returns.

    Building a runtime touches no network (kith_common.service), so this costs only imports.
    """
    from kith_common.settings import Settings

    durables: dict[str, list[ConsumerSpec]] = {}
    for entry in sorted(entry_points(group=_SERVICE_GROUP), key=lambda ep: ep.name):
        runtime = entry.load()(Settings())
        durables[entry.name] = [consumer.spec for consumer in runtime.consumers]
    return durables


def accounts_config(
    passwords: Mapping[str, str],
    *,
    layout: StreamLayout | None = None,
    durables: Mapping[str, Sequence[ConsumerSpec]] | None = None,
) -> dict[str, Any]:
    """The `accounts` block: account KITH with JetStream, its users and their permissions.

    Args:
        passwords: user → password (a `Raw("$VAR")` for a reference); every user of `USERS`.
        layout: the stream layout (tests use a prefix); production's by default.
        durables: service → its durables; the installed services' by default.
    """
    users = all_users(
        durables if durables is not None else service_durables(), layout or StreamLayout()
    )
    return {
        "accounts": {
            ACCOUNT: {
                "jetstream": "enabled",
                "users": [
                    {
                        "user": user,
                        "password": passwords[user],
                        "permissions": users[user].server_config(),
                    }
                    for user in USERS
                ],
            }
        }
    }


def _render(value: Any, indent: int) -> str:
    pad = "  " * (indent + 1)
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        lines = [
            f"{pad}{key if _BARE_KEY.match(key) else json.dumps(key)}: {_render(item, indent + 1)}"
            for key, item in value.items()
        ]
        return "{\n" + "\n".join(lines) + "\n" + "  " * indent + "}"
    if isinstance(value, list):
        items = [f"{pad}{_render(item, indent + 1)}" for item in value]
        return "[\n" + "\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value)


def render_conf(config: Mapping[str, Any], header: str = "") -> str:
    """`config` in nats-server's configuration syntax (`$VAR` references unquoted)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    body = [f"{key}: {_render(value, 0)}" for key, value in config.items()]
    return "\n".join([*lines, *body]) + "\n"


def _helm_raw(node: Any) -> Any:
    """The chart writes `<< value >>` unquoted into nats.conf: how a `$VAR` survives Helm."""
    if isinstance(node, Raw):
        return f"<< {node} >>"
    if isinstance(node, Mapping):
        return {key: _helm_raw(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_helm_raw(value) for value in node]
    return node


def helm_values(durables: Mapping[str, Sequence[ConsumerSpec]] | None = None) -> dict[str, Any]:
    """Values for the `nats/nats` chart: the accounts, and each password from `HELM_SECRET`."""
    passwords = {user: Raw(f"${password_variable(user)}") for user in USERS}
    return {
        "config": {"merge": _helm_raw(accounts_config(passwords, durables=durables))},
        "container": {
            "env": {
                password_variable(user): {
                    "valueFrom": {"secretKeyRef": {"name": HELM_SECRET, "key": user}}
                }
                for user in USERS
            }
        },
    }


_GENERATED = (
    "Generated by `kith docs {what}` from kith_common.bus.permissions (the registry's\n"
    "producers and consumers, and each service's durables); do not edit: a test compares.\n"
)


def render_accounts_file() -> str:
    """`deploy/nats/accounts.conf`: passwords from `NATS_<USER>_PASSWORD` variables."""
    passwords = {user: Raw(f"${password_variable(user)}") for user in USERS}
    return render_conf(accounts_config(passwords), _GENERATED.format(what="nats-accounts"))


def render_helm_values() -> str:
    """`deploy/k8s/nats/values-auth.yaml`, as YAML."""
    header = "".join(f"# {line}\n" for line in _GENERATED.format(what="nats-helm").splitlines())
    return header + yaml.safe_dump(helm_values(), sort_keys=False, width=100)
