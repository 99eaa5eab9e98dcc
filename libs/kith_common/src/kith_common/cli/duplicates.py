"""`kith duplicates list`: the account's duplicate pairs, a page at a time or all of them."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.table import Table

from kith_common.cli.api import ApiError, add_connection_args, call, client, refused

STATUSES = ("pending", "dismissed", "merged", "obsolete")


def add_parsers(sub: Any) -> None:
    dups = sub.add_parser("duplicates", help="duplicate contacts")
    verbs = dups.add_subparsers(dest="duplicates_command", required=True)
    listing = verbs.add_parser("list", help="list duplicate pairs")
    listing.add_argument("--status", choices=STATUSES, default="pending")
    listing.add_argument("--limit", type=int, default=50, help="pairs per page (1-100)")
    listing.add_argument("--all", action="store_true", help="follow every page")
    add_connection_args(listing)


def run(args: argparse.Namespace) -> int:
    try:
        rows = asyncio.run(_collect(args))
    except ApiError as err:
        return refused(err)
    table = Table(title=f"{args.status} duplicates")
    for column in ("id", "contact", "duplicate", "score", "reasons"):
        table.add_column(column)
    for c in rows:
        table.add_row(
            str(c["id"]),
            f"{c['contact']['display_name']} (#{c['contact']['id']})",
            f"{c['duplicate_contact']['display_name']} (#{c['duplicate_contact']['id']})",
            str(c["score"]),
            ", ".join(c["reasons"]),
        )
    Console().print(table)
    return 0


async def _collect(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"status": args.status, "limit": max(1, min(args.limit, 100))}
    async with client(args) as http:
        while True:
            page = await call(http, "GET", "/v1/duplicates", params=params)
            rows.extend(page["data"])
            cursor = page["meta"].get("next_cursor")
            if not (args.all and cursor):
                return rows
            params["cursor"] = cursor
