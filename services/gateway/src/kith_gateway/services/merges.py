"""Merges: the exact preview (same code as the merge), the queued merge, its outcome.

`POST /v1/merges` checks the pair with the preview first, so a contact already merged away
answers 409 at once; the merge itself runs in the dedup service (`kith.cmd.contacts.merge`,
merge id = envelope id) and `GET /v1/merges/{id}` reads its row in contact_merges.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kith_common import merge, phones
from kith_common.errors import NotFound
from kith_common.events import subjects
from kith_common.events.payloads.contacts import MergeContacts
from kith_gateway.deps import Principal
from kith_gateway.repositories import merges as repo
from kith_gateway.schemas.duplicates import MergeAccepted, MergeIn, MergeOut, MergeReportOut
from kith_gateway.services.accounts import load as load_account
from kith_gateway.services.guards import writable
from kith_gateway.services.publishing import publish


def _formatted(report: dict[str, Any], phone_format: str) -> dict[str, Any]:
    """dedup.md §6.7: a tel value in a report is shown formatted beside the stored value."""
    for item in report.get("fields", []):
        for side in ("from", "to"):
            value = item.get(side)
            if isinstance(value, str) and value.startswith("+"):
                item[f"{side}_formatted"] = phones.format_number(value, phone_format)
    return report


def _choices(body: MergeIn) -> dict[str, str]:
    return {str(k): str(v) for k, v in body.field_choices.items()}


async def preview(session: AsyncSession, principal: Principal, body: MergeIn) -> MergeReportOut:
    account = await load_account(session, principal.account_id)
    report = await merge.preview_merge(
        session,
        account_id=principal.account_id,
        survivor_id=body.survivor_id,
        loser_id=body.loser_id,
        field_choices=_choices(body),
        candidate_id=body.candidate_id,
    )
    return MergeReportOut(**_formatted(report.as_json(), account.phone_format))


async def request_merge(
    session: AsyncSession, principal: Principal, body: MergeIn
) -> MergeAccepted:
    generation = await writable(session, principal.account_id)
    await merge.preview_merge(
        session,
        account_id=principal.account_id,
        survivor_id=body.survivor_id,
        loser_id=body.loser_id,
        field_choices=_choices(body),
        candidate_id=body.candidate_id,
    )
    envelope = await publish(
        session,
        subjects.CONTACTS_MERGE,
        MergeContacts(
            survivor_id=body.survivor_id,
            loser_id=body.loser_id,
            field_choices=dict(body.field_choices),
            candidate_id=body.candidate_id,
            requested_by=principal.user_id,
        ),
        account_id=principal.account_id,
        generation=generation,
    )
    await session.commit()
    return MergeAccepted(id=envelope.id, status_url=f"/v1/merges/{envelope.id}")


async def get_merge(session: AsyncSession, principal: Principal, merge_id: uuid.UUID) -> MergeOut:
    row = await repo.get(session, principal.account_id, merge_id)
    if row is not None:
        return MergeOut(
            id=row.merge_id,
            status=row.status,  # type: ignore[arg-type]  # CHECK-constrained column
            survivor_id=row.survivor_id,
            loser_id=row.loser_id,
            source=row.source,
            error_code=row.error_code,
            report=row.report,
            created_at=row.created_at,
        )
    if await repo.queued(session, principal.account_id, merge_id):
        return MergeOut(
            id=merge_id,
            status="pending",
            survivor_id=None,
            loser_id=None,
            source="api",
            error_code=None,
            report=None,
            created_at=None,
        )
    raise NotFound("no such merge", code="merge-not-found")
