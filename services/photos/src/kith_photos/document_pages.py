"""Document pages (importer.md §9): `/api/documents` at limit 100, each `link` downloaded through
the SSRF guard (token only for Monica's origin), recorded by id and deduplicated by hash.

A page's requests are counted before its transaction: `documents.requests` holds every request
to Monica (listing pages and downloads from Monica's origin, retries included; what Monica's
rate limit sees), split in `documents.requests_by_purpose` (listing, relisting, download), and
`documents.downloads` every download request by origin, Monica's too. After the last page, the
torn tie groups of the list are re-listed (`kith_photos.relisting`), each window's documents
going through the same page path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Final

from kith_common.monica.client import MonicaClient
from kith_common.monica.errors import (
    MonicaError,
    MonicaUnavailable,
)
from kith_common.monica.relisting import Window
from kith_photos import queries, relisting
from kith_photos.downloads import Downloaded, Downloader
from kith_photos.media import document_extension
from kith_photos.phase import (
    MediaEnv,
    Run,
    Stored,
    commit_page,
    contact_of,
    discard,
    listing_error,
    monica_id_of,
    source_id_of,
    storage_key,
)
from kith_photos.photo_pages import LIMIT_LADDER
from kith_photos.summary import Entry
from kith_photos.summary import Outcome as Outcome_

__all__ = ["DOWNLOAD", "sync_documents"]

DOWNLOAD: Final = "download"  # the request purpose of a file from Monica's origin


@dataclass(frozen=True, slots=True)
class _Spent:
    """The clients' counters when a page began: the page is charged the difference."""

    requests: int
    waited: float
    downloads: Counter[str]


def _spent(client: MonicaClient, downloader: Downloader) -> _Spent:
    stats = client.stats
    return _Spent(
        stats.requests, stats.rate_limit_wait_seconds, Counter(downloader.requests_by_host)
    )


def _charge(
    run: Run,
    client: MonicaClient,
    downloader: Downloader,
    before: _Spent,
    *,
    purpose: str,
    listed: int,
) -> None:
    """Charge the page its requests: `listed` of them listed the documents (for `purpose`:
    listing or re-listing), the rest downloaded files from Monica's origin."""
    counts = run.summary.documents
    spent = client.stats.requests - before.requests
    counts.charge(purpose, listed)
    counts.charge(DOWNLOAD, spent - listed)
    for origin, requests in (downloader.requests_by_host - before.downloads).items():
        counts.downloads[origin] = counts.downloads.get(origin, 0) + requests
    waited = client.stats.rate_limit_wait_seconds - before.waited
    run.summary.rate_limit_wait_seconds += waited


async def _list(
    run: Run, client: MonicaClient, window: Window, where: str
) -> list[tuple[int, dict[str, Any]]] | None:
    """One page of `/api/documents` as (position, item); None when Monica refused it (recorded,
    skipped; 401, a web page or a refused host end the phase)."""
    try:
        result = await client.page("/documents", page=window.page, limit=window.limit)
    except MonicaUnavailable:
        raise
    except MonicaError as err:
        listing_error("documents", err)
        run.errors.append(f"{where}: {err.message}" if where else err.message)
        return None
    run.summary.documents.total = result.total
    if window.limit == LIMIT_LADDER[0]:
        run.checkpoint["last_page"] = result.last_page
    return [(window.first + i, d) for i, d in enumerate(result.data) if isinstance(d, dict)]


async def sync_documents(
    env: MediaEnv, run: Run, client: MonicaClient, downloader: Downloader
) -> None:
    """The list at limit 100 page by page, then its torn tie groups re-listed (`relisting`),
    each page or window one commit with its downloads."""
    counts = run.summary.documents
    while "relist" not in run.checkpoint:
        page = int(run.checkpoint.get("page", 1))
        last_page = run.checkpoint.get("last_page")
        if last_page is not None and page > int(last_page):
            break
        before = _spent(client, downloader)
        items = await _list(run, client, Window(limit=LIMIT_LADDER[0], page=page), "")
        listed = client.stats.requests - before.requests
        if items is None:
            run.checkpoint["last_page"] = max(page, int(last_page or 1))
        total = counts.total if items is not None else None
        relisting.trace(run.checkpoint, page, items, total)
        charge = partial(
            _charge, run, client, downloader, before, purpose=relisting.LISTING, listed=listed
        )
        await document_page(env, run, items or [], downloader, charge=charge)
    relisting.begin(run.checkpoint, counts.total)
    while (pending := relisting.next_window(run.checkpoint, counts.total)) is not None:
        before = _spent(client, downloader)
        where = f"GET /api/documents page {pending.window.page} at limit {pending.window.limit}"
        items = await _list(run, client, pending.window, where) or []
        listed = client.stats.requests - before.requests
        counts.recovered += relisting.take(run.checkpoint, items, _seen_key)
        charge = partial(
            _charge, run, client, downloader, before, purpose=relisting.RELISTING, listed=listed
        )
        await document_page(env, run, items, downloader, charge=charge)
    relisting.finish(run.checkpoint)


def _seen_key(item: dict[str, Any], position: int) -> str:
    """How `document_page` knows a document it has seen: by its source id."""
    return source_id_of("document", item, position)


async def document_page(
    env: MediaEnv,
    run: Run,
    items: list[tuple[int, dict[str, Any]]],
    downloader: Downloader,
    *,
    charge: Callable[[], None],
) -> None:
    seen: set[str] = set(run.checkpoint.get("seen", []))
    fresh: list[tuple[dict[str, Any], str]] = []
    for position, item in items:
        source_id = source_id_of("document", item, position)
        if source_id not in seen:
            seen.add(source_id)
            fresh.append((item, source_id))
    written: list[str] = []
    try:
        async with env.unit_of_work() as session:
            resolved = await queries.resolve_contacts(
                session,
                account_id=run.account_id,
                source=run.source,
                monica_ids=[c for i, _ in fresh if (c := contact_of(i)) is not None],
            )
            done = await queries.recorded(
                session,
                account_id=run.account_id,
                source=run.source,
                entity_type="document",
                source_ids=[s for _, s in fresh],
            )
        entries: list[Entry | Stored] = []
        taken: set[tuple[int, str]] = set()
        for item, source_id in fresh:
            monica_contact = contact_of(item)
            item_uuid = item.get("uuid") if isinstance(item.get("uuid"), str) else None
            base = Entry(
                "document", item_uuid, monica_id_of(item), None, monica_contact, "not_found"
            )
            if monica_contact is None:
                entries.append(replace(base, reason="no_contact"))
                continue
            resolution = resolved.get(monica_contact)
            if resolution is None or resolution.contact_id is None:
                reason = resolution.reason if resolution else "contact_not_found"
                entries.append(replace(base, reason=reason))
                continue
            base = replace(base, contact_id=resolution.contact_id)
            if source_id in done:
                entries.append(replace(base, status="synced", reason="already_synced"))
                continue
            mime = item.get("mime_type") if isinstance(item.get("mime_type"), str) else None
            fetched = await downloader.fetch(item.get("link"), document_type=mime)
            if not isinstance(fetched, Downloaded):
                status: Outcome_ = "not_found" if fetched.status == "not_found" else "failed"
                entries.append(
                    replace(base, status=status, reason=fetched.reason, message=fetched.message)
                )
                continue
            pair = (resolution.contact_id, fetched.content_hash)
            if pair in taken:
                entries.append(replace(base, status="duplicate"))
                continue
            async with env.unit_of_work() as session:
                if await queries.document_hashes(session, run.account_id, [pair]):
                    entries.append(replace(base, status="duplicate"))
                    continue
            taken.add(pair)
            name = item.get("original_filename")
            file_name = name if isinstance(name, str) else None
            key = storage_key(
                run,
                "document",
                source_id,
                document_extension(file_name, mime or fetched.content_type),
            )
            await env.storage.put(key, fetched.data)
            written.append(key)
            entries.append(
                Stored(
                    "document",
                    source_id,
                    item_uuid,
                    monica_id_of(item),
                    resolution.contact_id,
                    monica_contact,
                    key,
                    file_name,
                    mime or fetched.content_type,
                    len(fetched.data),
                    fetched.content_hash,
                )
            )
        run.checkpoint["seen"] = sorted(seen)
        charge()
        await commit_page(env, run, entries, written)
    except BaseException:
        await discard(env, written)
        raise
