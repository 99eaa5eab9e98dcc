"""The `kith` command: serve a service, migrate, administer, probe, and run the dev stack.

Services are found through the `kith.services` entry-point group, so kith_common never imports
a service. Every command reads settings once (`get_settings()`) and exits non-zero with a
readable message on a bad setting.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from kith_common.settings import Settings, SettingsError, get_settings

SERVICE_GROUP = "kith.services"


def service_names() -> list[str]:
    """The installed services, by entry-point name."""
    return sorted(ep.name for ep in entry_points(group=SERVICE_GROUP))


def load_service(name: str) -> Any:
    """The `build_app(settings)` factory of service `name`."""
    for ep in entry_points(group=SERVICE_GROUP):
        if ep.name == name:
            return ep.load()
    known = ", ".join(service_names()) or "none installed"
    msg = f"unknown service {name!r} (known: {known})"
    raise SystemExit(msg)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kith", description="Kith backend services and tools")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one service until SIGTERM")
    serve.add_argument("service", help="gateway, importer, dedup, photos or reset")

    sub.add_parser("migrate", help="apply database migrations (idempotent)")

    probe = sub.add_parser("probe", help="exit 0 if the URL answers 2xx (container healthchecks)")
    probe.add_argument("url")
    probe.add_argument("--timeout", type=float, default=3.0)

    dev = sub.add_parser("dev", help="the whole stack on this machine")
    dev.add_argument("--state-dir", default=".kith", help="embedded servers' data (default .kith)")
    dev.add_argument("--demo", action="store_true", help="also serve a seeded fake Monica")
    dev.add_argument(
        "--verbose", action="store_true", help="every service's log in this terminal, not a file"
    )

    docs = sub.add_parser("docs", help="render generated documents")
    docs.add_argument("document", choices=["asyncapi", "nats-accounts", "nats-helm"])

    admin = sub.add_parser("admin", help="accounts, tokens and operator tasks")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser("create-account", help="create an account and its admin")
    create.add_argument("--name", required=True)
    create.add_argument("--email", required=True)
    create.add_argument("--locale", default="en")
    operator = admin_sub.add_parser("create-operator", help="create an operator token")
    operator.add_argument("--name", default="operator")
    scan = admin_sub.add_parser("dedup-scan", help="publish a duplicate scan")
    scan.add_argument("--all-accounts", action="store_true", required=True)
    phones = admin_sub.add_parser("phones", help="phone number maintenance")
    phones_sub = phones.add_subparsers(dest="phones_command", required=True)
    renormalize = phones_sub.add_parser(
        "renormalize", help="re-derive every phone's E.164 form and match key (dedup.md §6.6)"
    )
    renormalize.add_argument("--all", action="store_true", required=True, help="every account")
    renormalize.add_argument("--json", action="store_true", help="print the count as JSON")

    from kith_common.cli import duplicates, imports, reset  # the HTTP client commands

    for client_commands in (imports, duplicates, reset):
        client_commands.add_parsers(sub)
    return parser


CLIENT_COMMANDS = ("import", "imports", "duplicates", "reset")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:  # they talk to the API: no server settings needed
        return _client(args)
    try:
        settings = get_settings()
    except SettingsError as err:
        print(f"kith: {err}", file=sys.stderr)  # CLI output
        return 2
    return _dispatch(args, settings)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from kith_common.cli import commands  # keep `kith --help` import-light

    match args.command:
        case "serve":
            return commands.serve(settings, args.service)
        case "migrate":
            return commands.migrate(settings)
        case "probe":
            return commands.probe(args.url, args.timeout)
        case "dev":
            from kith_common.cli import dev

            return dev.run(settings, state_dir=args.state_dir, demo=args.demo, verbose=args.verbose)
        case "docs":
            return commands.render_doc(args.document)
        case "admin":
            return asyncio.run(commands.admin(settings, args))
    return 2


def _client(args: argparse.Namespace) -> int:
    from kith_common.cli import duplicates, imports, reset

    match args.command:
        case "import" | "imports":
            return imports.run(args)
        case "duplicates":
            return duplicates.run(args)
    return reset.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
