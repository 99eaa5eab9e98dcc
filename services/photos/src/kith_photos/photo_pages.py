"""Photo pages (importer.md §9): `/api/photos` at limit 100, refetched over the same offsets at
25 → 5 → 1 when a page is too big or times out, each photo decoded from its dataUrl, checked
against the contact's images by sha256 and written before its row. After the last page, the
torn tie groups of the list are re-listed (`kith_photos.relisting`), each window's photos
going through the same page path.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from kith_common.monica.client import MonicaClient, Page
from kith_common.monica.errors import (
    MonicaError,
    MonicaTooLarge,
    MonicaUnavailable,
)
from kith_common.monica.relisting import Window
from kith_photos import queries, relisting
from kith_photos.media import Decoded, decode_data_url
from kith_photos.phase import (
    MediaEnv,
    Run,
    Stored,
    commit_page,
    contact_of,
    discard,
    listing_error,
    monica_id_of,
    progress_edge,
    source_id_of,
    storage_key,
)
from kith_photos.summary import Entry

__all__ = ["LIMIT_LADDER", "PHOTO_PAGE_RETRIES", "fetch_photo_span", "sync_photos"]

LIMIT_LADDER: Final = (100, 25, 5, 1)
PHOTO_PAGE_RETRIES: Final = 1


async def fetch_photo_span(
    client: MonicaClient, first: int, count: int, ladder: tuple[int, ...] = LIMIT_LADDER
) -> tuple[list[tuple[int, dict[str, Any] | None]], int | None]:
    """Positions [first, first + count) at limit `ladder[0]`, a page that is too big or times
    out refetched over the same offsets at the ladder's next limit (importer.md §9). Returns
    (position, item or None if still too big at the last limit) and Monica's total."""
    found: list[tuple[int, dict[str, Any] | None]] = []
    meta: dict[str, int] = {}

    async def fetch(offset: int, span: int, level: int) -> bool:
        """Fetch [offset, offset + span) at the ladder's `level`; True once past the end."""
        limit = ladder[level]
        for number in range(offset // limit + 1, (offset + span - 1) // limit + 2):
            try:
                result: Page = await client.page("/photos", page=number, limit=limit)
            except (MonicaTooLarge, MonicaUnavailable) as err:
                if isinstance(err, MonicaUnavailable) and err.status is not None:
                    raise
                if level + 1 < len(ladder):
                    if await fetch((number - 1) * limit, limit, level + 1):
                        return True
                else:
                    found.append(((number - 1) * limit, None))
                continue
            meta["total"] = result.total
            for index, item in enumerate(result.data):
                if isinstance(item, dict):
                    found.append(((number - 1) * limit + index, item))
            if len(result.data) < limit:
                return True
        return False

    await fetch(first, count, 0)
    return found, meta.get("total")


async def fetch_photo_page(
    client: MonicaClient, page: int
) -> tuple[list[tuple[int, dict[str, Any] | None]], int | None, int | None]:
    """Page `page` at limit 100 through the whole ladder. Returns the positions and items,
    Monica's total and the last page at limit 100."""
    found, total = await fetch_photo_span(client, (page - 1) * LIMIT_LADDER[0], LIMIT_LADDER[0])
    last_page = None if total is None else max(1, -(-total // LIMIT_LADDER[0]))
    return found, total, last_page


async def fetch_photo_window(
    client: MonicaClient, window: Window
) -> list[tuple[int, dict[str, Any] | None]]:
    """A re-listing window: one page at the window's limit. If that is too big or times out,
    its positions are refetched down the rest of the ladder (25 → 5 → 1 below its limit):
    several queries no longer hold the tie group whole, so they may recover only part of it,
    and what stays unseen is counted missing."""
    ladder = (window.limit, *(limit for limit in LIMIT_LADDER if limit < window.limit))
    found, _ = await fetch_photo_span(client, window.first, window.limit, ladder)
    return found


async def sync_photos(env: MediaEnv, run: Run, client: MonicaClient) -> None:
    """The list at limit 100 page by page, then its torn tie groups re-listed (`relisting`),
    each page or window one commit; then the phase moves on to documents."""
    counts = run.summary.photos
    while "relist" not in run.checkpoint:
        page = int(run.checkpoint.get("page", 1))
        last_page = run.checkpoint.get("last_page")
        if last_page is not None and page > int(last_page):
            break
        before, waited = client.stats.requests, client.stats.rate_limit_wait_seconds
        listed: list[tuple[int, dict[str, Any] | None]] | None
        try:
            listed, total, last = await fetch_photo_page(client, page)
        except MonicaUnavailable:
            raise
        except MonicaError as err:
            listing_error("photos", err)
            run.errors.append(err.message)
            listed, total, last = None, None, None
        counts.charge(relisting.LISTING, client.stats.requests - before)
        run.summary.rate_limit_wait_seconds += client.stats.rate_limit_wait_seconds - waited
        if total is not None:
            counts.total = total
        run.checkpoint["last_page"] = last if last is not None else max(page, int(last_page or 1))
        relisting.trace(run.checkpoint, page, listed, total)
        await photo_page(env, run, listed or [])
    relisting.begin(run.checkpoint, counts.total)
    while (pending := relisting.next_window(run.checkpoint, counts.total)) is not None:
        before, waited = client.stats.requests, client.stats.rate_limit_wait_seconds
        where = f"GET /api/photos page {pending.window.page} at limit {pending.window.limit}"
        try:
            items = await fetch_photo_window(client, pending.window)
        except MonicaUnavailable:
            raise
        except MonicaError as err:
            listing_error("photos", err)
            run.errors.append(f"{where}: {err.message}")
            items = []
        counts.charge(relisting.RELISTING, client.stats.requests - before)
        run.summary.rate_limit_wait_seconds += client.stats.rate_limit_wait_seconds - waited
        counts.recovered += relisting.take(run.checkpoint, items, _seen_key)
        await photo_page(env, run, items)
    relisting.finish(run.checkpoint)
    await progress_edge(env, run)
    run.checkpoint.update(phase="documents", page=1, last_page=None, seen=[])
    if run.want_documents:
        await progress_edge(env, run)


def _seen_key(item: dict[str, Any], position: int) -> str:
    """How `photo_page` knows a photo it has seen: by id, else by its source id."""
    monica_id = monica_id_of(item)
    return str(monica_id) if monica_id is not None else source_id_of("photo", item, position)


async def photo_page(
    env: MediaEnv, run: Run, items: list[tuple[int, dict[str, Any] | None]]
) -> None:
    limits = env.limits
    seen: set[str] = set(run.checkpoint.get("seen", []))
    fresh: list[tuple[int, dict[str, Any], str]] = []
    entries: list[Entry | Stored] = []
    for position, item in items:
        if item is None:
            if f"@{position}" in seen:
                continue  # a re-listing window reached the same position: reported once
            seen.add(f"@{position}")
            entries.append(
                Entry(
                    "photo",
                    None,
                    None,
                    None,
                    None,
                    "failed",
                    "too_large",
                    f"the photo at position {position + 1} is too large even alone",
                )
            )
            continue
        source_id = source_id_of("photo", item, position)
        seen_key = _seen_key(item, position)
        if seen_key in seen:
            continue  # listed twice (API §11.1): processed once
        seen.add(seen_key)
        fresh.append((position, item, source_id))
    written: list[str] = []
    try:
        async with env.unit_of_work() as session:
            resolved = await queries.resolve_contacts(
                session,
                account_id=run.account_id,
                source=run.source,
                monica_ids=[c for _, i, _ in fresh if (c := contact_of(i)) is not None],
            )
            done = await queries.recorded(
                session,
                account_id=run.account_id,
                source=run.source,
                entity_type="photo",
                source_ids=[s for _, _, s in fresh],
            )
        planned: list[tuple[dict[str, Any], str, int, Decoded]] = []
        for _position, item, source_id in fresh:
            monica_contact = contact_of(item)
            base = Entry(
                "photo",
                item.get("uuid") if isinstance(item.get("uuid"), str) else None,
                monica_id_of(item),
                None,
                monica_contact,
                "not_found",
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
            decoded = decode_data_url(item.get("dataUrl"), max_bytes=limits.photo_max_bytes)
            if not isinstance(decoded, Decoded):
                entries.append(replace(base, status="failed", reason=decoded.reason))
                continue
            planned.append((item, source_id, resolution.contact_id, decoded))
            entries.append(base)  # placeholder, replaced below in order
        async with env.unit_of_work() as session:
            existing = await queries.photo_hashes(
                session, run.account_id, [(c, d.content_hash) for _, _, c, d in planned]
            )
        taken: set[tuple[int, str]] = set(existing)
        stored: dict[str, Stored] = {}
        for item, source_id, contact_id, decoded in planned:
            pair = (contact_id, decoded.content_hash)
            if pair in taken:
                continue
            taken.add(pair)
            key = storage_key(run, "photo", source_id, decoded.extension)
            await env.storage.put(key, decoded.data)
            written.append(key)
            name = item.get("original_filename")
            stored[source_id] = Stored(
                "photo",
                source_id,
                item.get("uuid") if isinstance(item.get("uuid"), str) else None,
                monica_id_of(item),
                contact_id,
                contact_of(item),
                key,
                name if isinstance(name, str) else None,
                decoded.content_type,
                len(decoded.data),
                decoded.content_hash,
            )
        # Fill the placeholders in listing order: stored, or a duplicate of an earlier one.
        plan_iter = iter(planned)
        ordered: list[Entry | Stored] = []
        for entry in entries:
            if isinstance(entry, Entry) and entry.status == "not_found" and entry.reason is None:
                _item, source_id, _cid, _decoded = next(plan_iter)
                ordered.append(stored.get(source_id) or replace(entry, status="duplicate"))
            else:
                ordered.append(entry)
        run.checkpoint["seen"] = sorted(seen)
        await commit_page(env, run, ordered, written)
    except BaseException:
        await discard(env, written)
        raise
