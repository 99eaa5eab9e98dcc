"""`kith reset --confirm RESET`: reset the account and watch each domain finish.

Exit 0 when the reset completed, 1 when it failed (with the failing domain's message), 2 when
the request was refused (no confirmation, not an admin, a reset already running).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn

from kith_common.cli.api import (
    ApiError,
    add_connection_args,
    call,
    client,
    fail,
    follow,
    following,
    refused,
)


def add_parsers(sub: Any) -> None:
    reset = sub.add_parser("reset", help="delete all of the account's data (admin)")
    reset.add_argument("--confirm", required=True, help='must be exactly "RESET"')
    reset.add_argument("--no-wait", action="store_true", help="start it and return")
    add_connection_args(reset)


def run(args: argparse.Namespace) -> int:
    if args.confirm != "RESET":
        return fail("refusing to reset: pass --confirm RESET (in capitals)") + 1
    try:
        return asyncio.run(_run(args))
    except ApiError as err:
        return refused(err)


async def _run(args: argparse.Namespace) -> int:
    async with client(args) as http, following(http, "account.reset") as kick:
        accepted = await call(http, "POST", "/v1/account/reset", json={"confirm": args.confirm})
        print(f"reset {accepted['id']} started")  # CLI output
        if args.no_wait:
            return 0
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[note]}")
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def show(view: dict[str, Any]) -> bool:
                _advance(bar, tasks, view)
                return bool(view["status"] != "running")

            async def read() -> dict[str, Any]:
                view: dict[str, Any] = await call(http, "GET", accepted["status_url"])
                return view

            view = await follow(kick, read, show)
    if view["status"] == "completed":
        print(f"reset {view['id']} completed")  # CLI output
        return 0
    error = view.get("error") or {}
    return fail(f"reset {view['id']} failed in {error.get('domain')}: {error.get('message')}")


def _advance(bar: Progress, tasks: dict[str, TaskID], view: dict[str, Any]) -> None:
    for domain in view.get("domains") or []:
        name = domain["domain"]
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=1, note="")
        counts = ", ".join(f"{k} {n}" for k, n in (domain.get("counts") or {}).items())
        finished = 1 if domain["status"] in ("done", "completed") else 0
        bar.update(tasks[name], completed=finished, note=f"{domain['status']} {counts}".strip())
