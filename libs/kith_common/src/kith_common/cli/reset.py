"""`kith reset --confirm RESET`: reset the account and watch each domain finish.

`kith reset status` shows the newest reset (or `--id N`), one line per domain; `--json` prints
the API's JSON. Exit 0 when the reset completed (or, for `status`, was read), 1 when it failed
(with the failing domain's message), 2 when the request was refused (no confirmation, not an
admin, a reset already running, no reset yet).
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
    reset = sub.add_parser(
        "reset", help="delete all of the account's data (admin), or show a reset's status"
    )
    reset.add_argument(
        "action", nargs="?", choices=["status"], help="status: show the newest reset and stop"
    )
    reset.add_argument("--confirm", help='to reset: must be exactly "RESET"')
    reset.add_argument("--no-wait", action="store_true", help="start it and return")
    reset.add_argument("--id", type=int, help="with status: this reset instead of the newest")
    reset.add_argument("--json", action="store_true", help="with status: print the API's JSON")
    add_connection_args(reset)


def run(args: argparse.Namespace) -> int:
    if args.action != "status" and args.confirm != "RESET":
        return fail("refusing to reset: pass --confirm RESET (in capitals)") + 1
    try:
        return asyncio.run(_status(args) if args.action == "status" else _run(args))
    except ApiError as err:
        return refused(err)


async def _status(args: argparse.Namespace) -> int:
    async with client(args) as http:
        if args.id is not None:
            view: dict[str, Any] = await call(http, "GET", f"/v1/account/resets/{args.id}")
        else:
            page = await call(http, "GET", "/v1/account/resets", params={"limit": 1})
            if not page["data"]:
                raise ApiError(404, "this account has never been reset")
            view = page["data"][0]
    if args.json:
        print(json.dumps(view, indent=2))  # CLI output
        return 0
    print(f"reset {view['id']} {view['status']} (stage {view['stage']})")  # CLI output
    for domain in view.get("domains") or []:
        counts = ", ".join(f"{k} {n}" for k, n in (domain.get("counts") or {}).items())
        print(f"  {domain['domain']}: {domain['status']} {counts}".rstrip())  # CLI output
    error = view.get("error") or {}
    if error.get("message"):
        print(f"  failed in {error.get('domain')}: {error.get('message')}")  # CLI output
    return 0


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
