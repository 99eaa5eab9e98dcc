"""`kith import monica|vcard` and `kith imports show`: start an import and watch it finish.

Exit codes: 0 when the import completed, 1 when it failed or was cancelled (the reason is
printed), 2 for a refused request (bad input, no token, gateway unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

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
from kith_common.progress import eta_text

FINAL = ("completed", "failed", "cancelled")
BUSY = ("pending", "processing", "cancelling")
# importer.md §6, as command-line switches: (option, default).
TOGGLES: dict[str, bool] = {
    "auto_merge_duplicates": True,
    "notes": True,
    "photos": False,
    "documents": False,
    "pets": True,
    "calls": True,
    "activities": True,
    "gifts": True,
    "debts": True,
    "tasks": True,
    "reminders": True,
    "conversations": True,
    "life_events": True,
    "journal_entries": True,
}


def add_parsers(sub: Any) -> None:
    """`kith import ...` and `kith imports ...` (main.py's parser stays the one entry point)."""
    start = sub.add_parser("import", help="import contacts through the API and follow progress")
    kinds = start.add_subparsers(dest="import_kind", required=True)
    monica = kinds.add_parser("monica", help="import from a Monica instance")
    monica.add_argument("--url", required=True, help="Monica base URL")
    monica.add_argument("--key", required=True, help="Monica API key")
    monica.add_argument("--region", default=None, help="phone region, e.g. US (default: locale)")
    for name, default in TOGGLES.items():
        flag = name.replace("_", "-")
        monica.add_argument(
            f"--{flag}" if not default else f"--no-{flag}",
            dest=name,
            action="store_false" if default else "store_true",
            default=default,
            help=("skip " if default else "include ") + name.replace("_", " "),
        )
    monica.add_argument("--skip-check", action="store_true", help="skip the connection check")
    monica.add_argument("--no-wait", action="store_true", help="start it and return")
    add_connection_args(monica)
    vcard = kinds.add_parser("vcard", help="import a .vcf file")
    vcard.add_argument("file", type=Path)
    vcard.add_argument("--no-wait", action="store_true", help="start it and return")
    add_connection_args(vcard)

    shown = sub.add_parser("imports", help="import history")
    verbs = shown.add_subparsers(dest="imports_command", required=True)
    show_one = verbs.add_parser("show", help="one import: status, phases, summary")
    show_one.add_argument("id", type=int)
    show_one.add_argument("--follow", action="store_true", help="watch it until it finishes")
    add_connection_args(show_one)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except ApiError as err:
        return refused(err)


async def _run(args: argparse.Namespace) -> int:
    async with client(args) as http, following(http, "import.") as kick:
        if args.command == "imports":
            item = await call(http, "GET", f"/v1/imports/{args.id}")
            if args.follow and not _finished(item):
                item = await _watch(http, kick, args.id)
            _print(item)
            return 0 if item["status"] != "failed" else 1
        if args.import_kind == "monica":
            if not args.skip_check:
                checked = await call(
                    http,
                    "POST",
                    "/v1/imports/monica/check",
                    json={"api_url": args.url, "api_key": args.key},
                )
                if not checked["ok"]:
                    return fail(
                        f"connection check failed: {checked['message']} ({checked['code']})"
                    )
            options: dict[str, Any] = {name: getattr(args, name) for name in TOGGLES}
            if args.region:
                options["phone_default_region"] = args.region.upper()
            body = {"api_url": args.url, "api_key": args.key, "options": options}
            accepted = await call(http, "POST", "/v1/imports", json=body)
        else:
            data = args.file.read_bytes()
            files = {"file": (args.file.name, data, "text/vcard")}
            accepted = await call(
                http, "POST", "/v1/imports", files=files, data={"options": json.dumps({})}
            )
        print(f"import {accepted['id']} started")  # CLI output
        if args.no_wait:
            return 0
        item = await _watch(http, kick, accepted["id"])
        return _verdict(item)


def _finished(item: dict[str, Any]) -> bool:
    return item["status"] in FINAL and not (
        item["status"] == "completed"
        and (item.get("misc_status") in BUSY or item.get("media_status") in BUSY)
    )


async def _watch(http: Any, kick: asyncio.Event, import_id: int) -> dict[str, Any]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[eta]}"),
    ) as bar:
        task = bar.add_task("pending", total=None, eta="")

        def show(item: dict[str, Any]) -> bool:
            _advance(bar, task, item)
            return _finished(item)

        async def read() -> dict[str, Any]:
            result: dict[str, Any] = await call(http, "GET", f"/v1/imports/{import_id}")
            return result

        item: dict[str, Any] = await follow(kick, read, show)
    return item


def _advance(bar: Progress, task: TaskID, item: dict[str, Any]) -> None:
    progress = item.get("progress") or {}
    phase = progress.get("phase") or item["status"]
    total, current = progress.get("total"), progress.get("current") or 0
    if item["status"] == "completed":
        done = max(total or 0, current, 1)
        bar.update(task, description=_phases(item), total=done, completed=done, eta="")
    else:
        if total is not None:
            current = min(current, total)
        bar.update(
            task, description=str(phase), total=total, completed=current, eta=eta_text(progress)
        )


def _phases(item: dict[str, Any]) -> str:
    extra = [f"{k} {item[k]}" for k in ("misc_status", "media_status") if item.get(k)]
    return ", ".join([item["status"], *extra])


def _verdict(item: dict[str, Any]) -> int:
    _print(item)
    if item["status"] == "completed":
        return 0
    reason = item.get("error") or item.get("cancel_reason") or item["status"]
    return fail(f"import {item['id']} {item['status']}: {reason}")


def _print(item: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"Import {item['id']} ({item['source']})", show_header=False)
    table.add_row("status", _phases(item))
    for key in ("api_url", "file_name", "error", "cancel_reason"):
        if item.get(key):
            table.add_row(key, str(item[key]))
    for key, value in (item.get("summary") or {}).items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    if item.get("sync_summary"):
        table.add_row("sync_summary", json.dumps(item["sync_summary"]))
    console.print(table)
