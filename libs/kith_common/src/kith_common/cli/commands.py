"""The `kith` subcommands other than `dev`: each a small function returning an exit code."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any

import uvloop
from sqlalchemy import select

from kith_common.settings import Settings, SettingsError


def _say(text: str) -> None:
    print(text)  # CLI output


def serve(settings: Settings, service: str) -> int:
    from kith_common.cli.main import load_service
    from kith_common.logging import configure_logging

    try:
        settings.require_production_secret()
    except SettingsError as err:
        print(f"kith: {err}", file=sys.stderr)
        return 2
    configure_logging(service=service, log_format=settings.log_format, level=settings.log_level)
    build_app = load_service(service)
    runtime = build_app(settings)
    # uvloop: asyncpg and nats-py spend less CPU per round trip on it (docs/performance.md).
    uvloop.run(runtime.run_until_signalled())
    return 0


def migrate(settings: Settings) -> int:
    from kith_common.db.migrate import migrate as run_migrations

    head = asyncio.run(run_migrations(settings.database_url))
    _say(f"database at revision {head}")
    return 0


def probe(url: str, timeout: float) -> int:
    """Exit 0 when `url` answers 2xx; the image has no curl."""
    if not url.startswith(("http://", "https://")):
        _say(f"kith probe: not an http(s) URL: {url}")
        return 2
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310  # scheme checked above
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as err:
        print(f"kith probe: {url}: {err}", file=sys.stderr)
        return 1


def render_doc(document: str) -> int:
    from kith_common.bus.natsconf import render_accounts_file, render_helm_values
    from kith_common.events.asyncapi import render_asyncapi

    renderers = {
        "asyncapi": render_asyncapi,
        "nats-accounts": render_accounts_file,
        "nats-helm": render_helm_values,
    }
    sys.stdout.write(renderers[document]())
    return 0


async def admin(settings: Settings, args: argparse.Namespace) -> int:
    from kith_common.db.session import create_engine, session_factory

    engine = create_engine(settings.database_url)
    sessions = session_factory(engine, stream_prefix=settings.stream_prefix)
    try:
        match args.admin_command:
            case "create-account":
                from kith_common.accounts import create_account, issue_api_token

                async with sessions() as session, session.begin():
                    account, user = await create_account(
                        session, name=args.name, email=args.email, locale=args.locale
                    )
                    token = await issue_api_token(session, user, "cli")
                _say(f"account {account.id} created; admin token (shown once): {token}")
            case "create-operator":
                from kith_common.accounts import issue_operator_token

                async with sessions() as session, session.begin():
                    token = await issue_operator_token(session, args.name)
                _say(f"operator token (shown once): {token}")
            case "dedup-scan":
                count = await publish_scans_for_all_accounts(sessions)
                _say(f"dedup scan queued for {count} accounts")
            case "phones":
                count = await publish_renormalize_for_all_accounts(sessions)
                _say(
                    json.dumps({"accounts": count})
                    if args.json
                    else f"phone renormalize queued for {count} accounts"
                )
    finally:
        await engine.dispose()
    return 0


async def _accounts_not_resetting(session: Any) -> list[tuple[int, int]]:
    """(account id, generation) of every account with no reset running: work for the others
    would only be dropped by the reset's generation bump."""
    from kith_common.db.models import Account, AccountReset

    resetting = select(AccountReset.account_id).where(AccountReset.status == "running")
    query = select(Account.id, Account.generation).where(Account.id.not_in(resetting))
    return [(int(a), int(g)) for a, g in (await session.execute(query)).all()]


async def publish_renormalize_for_all_accounts(sessions: object) -> int:
    """One `kith.cmd.phones.renormalize` per account through the outbox; resets skipped.

    Renormalizing is idempotent (a phone whose form did not change is left alone), so a second
    run only repeats work; an account under reset is skipped, as the gateway's route does not
    (it refuses nothing) but its reset would drop the command anyway.
    """
    from kith_common.bus import outbox
    from kith_common.events.payloads.phones import RenormalizePhones
    from kith_common.events.registry import build_envelope
    from kith_common.events.subjects import PHONES_RENORMALIZE

    async with sessions() as session, session.begin():  # type: ignore[operator]
        rows = await _accounts_not_resetting(session)
        for account_id, generation in rows:
            envelope = build_envelope(
                PHONES_RENORMALIZE,
                RenormalizePhones(account_id=account_id),
                account_id=account_id,
                generation=generation,
            )
            await outbox.add(session, PHONES_RENORMALIZE, envelope)
    return len(rows)


def weekly_scan_id(account_id: int, when: dt.datetime, stream_prefix: str = "") -> uuid.UUID:
    """uuid5(account, ISO week of `when` in UTC): the envelope id of the weekly scan command.

    The CronJob (or host cron) may run twice in a week (a retry, a manual run): the repeat
    carries the same ids, so it is not queued again while the first is in the outbox, and
    otherwise JetStream's duplicate window or the dedup consumer's inbox (kept 8 days) drops
    it: each account is scanned once a week (dedup.md §3.5). The stream prefix (empty in
    production) is part of the name, so deployments sharing one database, like tests, each
    schedule their own.
    """
    year, week, _ = when.astimezone(dt.UTC).isocalendar()
    name = f"kith:dedup-scan:{stream_prefix}:{account_id}:{year}-W{week:02d}"
    return uuid.uuid5(uuid.NAMESPACE_URL, name)


async def publish_scans_for_all_accounts(sessions: object, now: dt.datetime | None = None) -> int:
    """One `kith.cmd.dedup.scan` per account through the outbox; accounts under reset skipped.

    Envelope ids are `weekly_scan_id`; an account whose command of this week is still in the
    outbox is skipped. Returns the number of commands queued by this call.
    """
    from kith_common.bus import outbox
    from kith_common.db.models import Outbox
    from kith_common.db.session import STREAM_PREFIX_INFO_KEY
    from kith_common.events.payloads.dedup import ScanDuplicates
    from kith_common.events.registry import build_envelope
    from kith_common.events.subjects import DEDUP_SCAN

    when = now or dt.datetime.now(dt.UTC)
    async with sessions() as session, session.begin():  # type: ignore[operator]
        rows = await _accounts_not_resetting(session)
        prefix = str(session.info.get(STREAM_PREFIX_INFO_KEY, ""))
        ids = {account_id: weekly_scan_id(account_id, when, prefix) for account_id, _ in rows}
        queued = set(
            (await session.scalars(select(Outbox.id).where(Outbox.id.in_(ids.values())))).all()
        )
        count = 0
        for account_id, generation in rows:
            if ids[account_id] in queued:
                continue
            envelope = build_envelope(
                DEDUP_SCAN,
                ScanDuplicates(account_id=account_id, trigger="schedule"),
                account_id=account_id,
                generation=generation,
                id=ids[account_id],
            )
            await outbox.add(session, DEDUP_SCAN, envelope)
            count += 1
    return count
