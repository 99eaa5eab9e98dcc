"""Duplicate review: pages by status, counts, one contact's pairs, dismissal and scans.

Reads, cursors and the dismissal are kith_common.dedup's (`candidate_rows`,
`count_candidates`, `encode_cursor`/`decode_cursor`, `dismiss_candidate`: pending → dismissed
plus `kith.evt.dedup.candidate.dismissed` through the outbox), shared with the console.

A page is validated once, as one nested dict in one pydantic-core call (half the cost of
building 150 models one by one; `model_construct` is slower still); FastAPI then only checks
the instance and serialises it in Rust.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.dedup.candidates import (
    CandidateView,
    ContactSummary,
    candidate_rows,
    count_bands,
    count_candidates,
    decode_position,
    dismiss_candidate,
    last_full_scan,
    next_cursor,
    prev_cursor,
)
from kith_common.dedup.sides import ContactSide, side_fields, sides_of
from kith_common.events import subjects
from kith_common.events.payloads.dedup import ScanDuplicates
from kith_gateway import pagination
from kith_gateway.deps import Principal
from kith_gateway.middleware import correlation_id
from kith_gateway.schemas.common import Page
from kith_gateway.schemas.duplicates import (
    CandidateCounts,
    CandidateOut,
    CandidateStatus,
    PairContact,
    ScanAccepted,
)
from kith_gateway.services.accounts import load as load_account
from kith_gateway.services.contact_rows import load as load_contact
from kith_gateway.services.guards import writable
from kith_gateway.services.publishing import publish

_PAGE = Page[CandidateOut]


def _pair_contact(c: ContactSummary) -> PairContact:
    return PairContact(
        id=c.id,
        display_name=c.display_name,
        first_name=c.first_name,
        last_name=c.last_name,
        company=c.company,
    )


def view_out(view: CandidateView) -> CandidateOut:
    return CandidateOut(
        id=view.id,
        score=view.score,
        confidence=view.confidence,
        evidence=view.evidence,  # type: ignore[arg-type]  # validated by pydantic
        reasons=list(view.reasons),
        status=cast(CandidateStatus, view.status),
        detected_at=view.detected_at,
        resolved_at=view.resolved_at,
        contact=_pair_contact(view.contact),
        duplicate_contact=_pair_contact(view.duplicate_contact),
    )


def _row_fields(row: Row[Any], sides: dict[int, ContactSide]) -> dict[str, Any]:
    """A `candidate_rows` row (candidate + both contacts' summaries) in the API's nested shape,
    each side with its decision fields."""
    return {
        "id": row.id,
        "score": row.score,
        "confidence": row.confidence,
        "evidence": row.evidence,
        "reasons": row.reasons,
        "status": row.status,
        "detected_at": row.detected_at,
        "resolved_at": row.resolved_at,
        "contact": {
            "id": row.a_id,
            "display_name": row.a_display_name,
            "first_name": row.a_first_name,
            "last_name": row.a_last_name,
            "company": row.a_company,
            **side_fields(sides.get(row.a_id)),
        },
        "duplicate_contact": {
            "id": row.b_id,
            "display_name": row.b_display_name,
            "first_name": row.b_first_name,
            "last_name": row.b_last_name,
            "company": row.b_company,
            **side_fields(sides.get(row.b_id)),
        },
    }


async def list_candidates(
    session: AsyncSession,
    principal: Principal,
    status: str,
    cursor: str | None,
    limit: int,
    sort: str = "confidence",
) -> Page[CandidateOut]:
    return await _page(session, principal, status, cursor, limit, sort=sort)


async def page_rows(
    session: AsyncSession,
    account_id: int,
    status: str,
    cursor: str | None,
    limit: int,
    *,
    sort: str = "confidence",
    contact_id: int | None = None,
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """One page as the API's nested dicts (both sides' decision fields), the next cursor and
    the previous page's cursor (None on the first page).

    Shared with the console, which renders the same cards.
    """
    key, back = decode_position(cursor, status, sort) if cursor else (None, False)

    async def after(k: dict[str, Any] | None) -> Sequence[Row[Any]]:
        start = k["key"] if k else None
        return await candidate_rows(
            session, account_id, status, start, limit, contact_id=contact_id, sort=sort
        )

    async def before(k: dict[str, Any]) -> Sequence[Row[Any]]:
        return await candidate_rows(
            session,
            account_id,
            status,
            None,
            limit,
            contact_id=contact_id,
            sort=sort,
            before=k["key"],
        )

    position = None if key is None else {"key": key, "b": 1 if back else 0}
    found = await pagination.window(position, limit, after, before)
    rows = found.rows
    account = await load_account(session, account_id)
    sides = await sides_of(
        session, account_id, [c for r in rows for c in (r.a_id, r.b_id)], account.phone_format
    )
    next_out = next_cursor(status, sort, rows[-1]) if found.has_next and rows else None
    prev_out = prev_cursor(status, sort, rows[0]) if found.has_prev and rows else None
    return [_row_fields(r, sides) for r in rows], next_out, prev_out


async def _page(
    session: AsyncSession,
    principal: Principal,
    status: str,
    cursor: str | None,
    limit: int,
    *,
    sort: str = "confidence",
    contact_id: int | None = None,
) -> Page[CandidateOut]:
    data, next_out, prev_out = await page_rows(
        session, principal.account_id, status, cursor, limit, sort=sort, contact_id=contact_id
    )
    meta = {"next_cursor": next_out, "has_more": next_out is not None, "prev_cursor": prev_out}
    return _PAGE.model_validate({"data": data, "meta": meta})


async def counts(session: AsyncSession, principal: Principal) -> CandidateCounts:
    return CandidateCounts.model_validate(
        {
            **await count_candidates(session, principal.account_id),
            "by_confidence": await count_bands(session, principal.account_id),
        }
    )


async def of_contact(
    session: AsyncSession, principal: Principal, contact_id: int, cursor: str | None, limit: int
) -> Page[CandidateOut]:
    """One contact's pending pairs (the contact-page banner), paged like the full list."""
    await load_contact(session, principal.account_id, contact_id)
    return await _page(session, principal, "pending", cursor, limit, contact_id=contact_id)


async def dismiss(session: AsyncSession, principal: Principal, candidate_id: int) -> CandidateOut:
    """pending → dismissed (event); dismissed → unchanged; merged or obsolete → 409."""
    generation = await writable(session, principal.account_id)
    view = await dismiss_candidate(
        session,
        principal.account_id,
        candidate_id,
        user_id=principal.user_id,
        generation=generation,
        correlation_id=correlation_id(),
    )
    await session.commit()
    return view_out(view)


async def scan(session: AsyncSession, principal: Principal) -> ScanAccepted:
    generation = await writable(session, principal.account_id)
    envelope = await publish(
        session,
        subjects.DEDUP_SCAN,
        ScanDuplicates(
            account_id=principal.account_id, trigger="api", requested_by=principal.user_id
        ),
        account_id=principal.account_id,
        generation=generation,
    )
    await session.commit()
    # The scan has no row of its own: its outcome arrives on /v1/events as
    # `dedup.scan.completed` with scan_id = this id, and shows in the lists.
    return ScanAccepted(id=envelope.id, status_url="/v1/events")


async def scan_finished_since(
    session: AsyncSession, principal: Principal, since: dt.datetime
) -> bool:
    """Whether a full scan of the caller's account wrote its results after `since`."""
    finished = await last_full_scan(session, principal.account_id)
    return finished is not None and finished >= since
