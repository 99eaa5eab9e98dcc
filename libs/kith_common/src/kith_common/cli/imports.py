"""`kith import monica|vcard|show|cancel` (and `kith imports show`): imports from a terminal.

An import is told the way the console tells it (`kith_common.import_report`): what arrived, how
long it took and how much of that was Monica's rate limit, what went wrong and what to do.
`--json` prints the API's JSON instead, for scripts.

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
from kith_common.import_report import Report, report

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

    _add_show(kinds)
    cancel = kinds.add_parser("cancel", help="cancel a running import (what arrived stays)")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    add_connection_args(cancel)

    shown = sub.add_parser("imports", help="import history")
    _add_show(shown.add_subparsers(dest="imports_command", required=True))


def _add_show(verbs: Any) -> None:
    show_one = verbs.add_parser("show", help="one import in plain language")
    show_one.add_argument("id", type=int)
    show_one.add_argument("--follow", action="store_true", help="watch it until it finishes")
    show_one.add_argument("--json", action="store_true", help="print the API's JSON")
    add_connection_args(show_one)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except ApiError as err:
        return refused(err)


async def _run(args: argparse.Namespace) -> int:
    async with client(args) as http, following(http, "import.") as kick:
        if args.command == "imports" or args.import_kind == "show":
            item = await call(http, "GET", f"/v1/imports/{args.id}")
            if args.follow and not _finished(item):
                item = await _watch(http, kick, args.id, quiet=args.json)
            _print(item, as_json=args.json)
            return 0 if item["status"] != "failed" else 1
        if args.import_kind == "cancel":
            return await _cancel(http, args)
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


async def _cancel(http: Any, args: argparse.Namespace) -> int:
    accepted = await call(http, "POST", f"/v1/imports/{args.id}/cancel")
    if args.json:
        print(json.dumps(accepted))  # CLI output
    else:
        print(
            f"import {accepted['id']} is being cancelled; what arrived so far stays"
        )  # CLI output
    return 0


def _finished(item: dict[str, Any]) -> bool:
    return item["status"] in FINAL and not (
        item["status"] == "completed"
        and (item.get("misc_status") in BUSY or item.get("media_status") in BUSY)
    )


async def _watch(
    http: Any, kick: asyncio.Event, import_id: int, *, quiet: bool = False
) -> dict[str, Any]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[eta]}"),
        disable=quiet,
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
    told = report(item)
    if item["status"] == "completed":
        done = max(told.total or 0, told.current or 0, 1)
        bar.update(task, description=_phases(item), total=done, completed=done, eta="")
    else:
        phase = next((s.label for s in told.steps if s.state == "current"), item["status"])
        bar.update(
            task,
            description=phase,
            total=told.total,
            completed=told.current or 0,
            eta=told.eta or "",
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


def _print(item: dict[str, Any], *, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(item, indent=2))  # CLI output
        return
    console = Console(highlight=False)
    where = item.get("api_url") or item.get("file_name") or ""
    console.print(f"[bold]Import {item['id']}[/bold] ({item['source']} {where}): {_phases(item)}")
    for line in _lines(report(item), item):
        console.print(line, markup=False)


_MARKS = {"done": "✓", "current": "…", "waiting": "·", "skipped": "–", "failed": "✗"}


def _lines(told: Report, item: dict[str, Any]) -> list[str]:
    """The report as terminal lines: the story first, then steps, problems and advice."""
    lines = [told.headline + "."]
    lines += [line if line.endswith(".") else line + "." for line in told.lines]
    if told.timing:
        lines.append(told.timing + ".")
    lines.append("  ".join(f"{_MARKS[s.state]} {s.label}" for s in told.steps))
    if told.eta:
        lines.append(f"Now: {told.phase}, {told.eta}.")
    for key in ("error", "cancel_reason"):
        if item.get(key):
            lines.append(f"{'Failed' if key == 'error' else 'Cancelled'}: {item[key]}")
    if told.errors:
        lines.append(f"{len(told.errors)} problems:")
        lines += [f"  - {error}" for error in told.errors]
    for group in told.media:
        lines.append(f"{group.count} {group.kind}s: {group.reason}")
    lines += told.advice
    return lines
