"""`kith duplicates list|scan|dismiss|merge`: review the account's duplicate pairs.

`list` pages through the pairs, most likely first (`--sort score` for the seed's order);
`scan` asks for a full scan and waits for its `dedup.scan.completed`; `dismiss ID` says a
pair is not one person; `merge SURVIVOR LOSER` shows the merge's preview (the same report
`POST /v1/merges/preview` gives), asks for confirmation (`--yes` skips it) and follows the
merge to its end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from typing import Any

import httpx
from rich.console import Console
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

STATUSES = ("pending", "dismissed", "merged", "obsolete")
SCAN_TIMEOUT = 600.0


def add_parsers(sub: Any) -> None:
    dups = sub.add_parser("duplicates", help="duplicate contacts")
    verbs = dups.add_subparsers(dest="duplicates_command", required=True)
    listing = verbs.add_parser("list", help="list duplicate pairs")
    listing.add_argument("--status", choices=STATUSES, default="pending")
    listing.add_argument(
        "--sort", choices=("confidence", "score"), default="confidence", help="order"
    )
    listing.add_argument("--limit", type=int, default=50, help="pairs per page (1-100)")
    listing.add_argument("--all", action="store_true", help="follow every page")
    add_connection_args(listing)
    scan = verbs.add_parser("scan", help="scan the account now and wait for the result")
    add_connection_args(scan)
    dismiss = verbs.add_parser("dismiss", help="mark a pair as not a duplicate")
    dismiss.add_argument("id", type=int, help="the pair's id (from `list`)")
    add_connection_args(dismiss)
    merge = verbs.add_parser("merge", help="merge LOSER into SURVIVOR, after a preview")
    merge.add_argument("survivor", type=int, help="the contact that stays")
    merge.add_argument("loser", type=int, help="the contact merged into it")
    merge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_connection_args(merge)


def run(args: argparse.Namespace) -> int:
    command = {"list": _list, "scan": _scan, "dismiss": _dismiss, "merge": _merge}
    try:
        return asyncio.run(command[args.duplicates_command](args))
    except ApiError as err:
        return refused(err)


async def _list(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "status": args.status,
        "sort": args.sort,
        "limit": max(1, min(args.limit, 100)),
    }
    async with client(args) as http:
        while True:
            page = await call(http, "GET", "/v1/duplicates", params=params)
            rows.extend(page["data"])
            cursor = page["meta"].get("next_cursor")
            if not (args.all and cursor):
                break
            params["cursor"] = cursor
    table = Table(title=f"{args.status} duplicates")
    for column in ("id", "contact", "duplicate", "confidence", "score", "evidence"):
        table.add_column(column)
    for c in rows:
        table.add_row(
            str(c["id"]),
            f"{c['contact']['display_name']} (#{c['contact']['id']})",
            f"{c['duplicate_contact']['display_name']} (#{c['duplicate_contact']['id']})",
            f"{c['confidence']:.0%}",
            str(c["score"]),
            _evidence(c.get("evidence")),
        )
    Console().print(table)
    return 0


def _evidence(evidence: dict[str, Any] | None) -> str:
    """'name ✓ exact, email ✗' — agreeing and disagreeing fields; missing ones left out."""
    if not evidence:
        return ""
    marks = {"agree": "✓", "disagree": "✗"}
    return ", ".join(
        f"{name} {marks[e['outcome']]}" + (f" {e['level']}" if name == "name" else "")
        for name, e in evidence.items()
        if e["outcome"] in marks
    )


async def _scans_completed(
    http: httpx.AsyncClient, seen: dict[str, dict[str, Any]], kick: asyncio.Event
) -> None:
    """Collect every dedup.scan.completed on the account's stream by scan id."""
    async with http.stream("GET", "/v1/events", timeout=None) as response:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "dedup.scan.completed":
                body = json.loads(line[5:])
                data = body.get("data", body)
                seen[str(data.get("scan_id"))] = data
                kick.set()


async def _scan(args: argparse.Namespace) -> int:
    seen: dict[str, dict[str, Any]] = {}
    kick = asyncio.Event()
    async with client(args) as http:
        # Listening before asking: a quick scan's event is not missed.
        listener = asyncio.create_task(_scans_completed(http, seen, kick))
        try:
            await asyncio.sleep(0.2)
            accepted = await call(http, "POST", "/v1/duplicates/scan")
            scan_id = str(accepted["id"])
            print(f"scan {scan_id} requested; waiting for it to finish")  # CLI output
            async with asyncio.timeout(SCAN_TIMEOUT):
                while scan_id not in seen:
                    await kick.wait()
                    kick.clear()
        except TimeoutError:
            return fail(f"scan did not finish in {SCAN_TIMEOUT:.0f} s")
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await listener
    data = seen[scan_id]
    print(  # CLI output
        f"scan completed: {data['pairs_found']} pairs, {data['new_candidates']} new, "
        f"{data['reopened']} reopened, {data['obsoleted']} obsolete"
    )
    return 0


async def _dismiss(args: argparse.Namespace) -> int:
    async with client(args) as http:
        pair = await call(http, "POST", f"/v1/duplicates/{args.id}/dismiss")
    print(  # CLI output
        f"pair {pair['id']} dismissed: {pair['contact']['display_name']} and "
        f"{pair['duplicate_contact']['display_name']} are not duplicates"
    )
    return 0


def _preview(report: dict[str, Any]) -> None:
    survivor, loser = report["survivor"], report["loser"]
    console = Console()
    console.print(
        f"{loser['display_name']} (#{loser['id']}) will be merged into "
        f"{survivor['display_name_before']} (#{survivor['id']}), shown afterwards as "
        f"{survivor['display_name_after']}."
    )
    table = Table(title="What changes")
    for column in ("what", "from", "to"):
        table.add_column(column)
    for field in report["fields"]:
        table.add_row(field["field"], str(field.get("from")), str(field.get("to")))
    for kind, n in report["moved"].items():
        if n:
            table.add_row(f"{kind} moved", "", str(n))
    for kind, ids in report["dropped"].items():
        if ids:
            table.add_row(f"{kind} dropped as duplicates", "", str(len(ids)))
    console.print(table)


async def _merge(args: argparse.Namespace) -> int:
    body = {"survivor_id": args.survivor, "loser_id": args.loser}
    async with client(args) as http:
        report = await call(http, "POST", "/v1/merges/preview", json=body)
        _preview(report)
        if not args.yes:
            answer = await asyncio.to_thread(input, "Merge? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("not merged")  # CLI output
                return 1
        async with following(http, "contacts.merge") as kick:
            accepted = await call(http, "POST", "/v1/merges", json=body)

            async def read() -> Any:
                return await call(http, "GET", f"/v1/merges/{accepted['id']}")

            state = await follow(kick, read, lambda s: s["status"] in ("done", "failed"))
    if state["status"] != "done":
        return fail(f"merge {accepted['id']} failed: {state.get('error_code')}")
    print(f"merged: contact {args.loser} is now part of contact {args.survivor}")  # CLI output
    return 0
