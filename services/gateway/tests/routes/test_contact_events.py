"""contact.created / updated / deleted / restored go out through the outbox (issue 18)."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Outbox
from kith_gateway.testing import TestAccount


async def test_every_change_through_the_api_queues_its_contact_event(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    cid = (await client.post("/v1/contacts", json={"first_name": "Ann"}, headers=h)).json()["id"]
    await client.patch(f"/v1/contacts/{cid}", json={"company": "Acme"}, headers=h)
    await client.post(
        f"/v1/contacts/{cid}/fields", json={"type": "email", "value": "a@x.io"}, headers=h
    )
    await client.delete(f"/v1/contacts/{cid}", headers=h)
    await client.post(f"/v1/contacts/{cid}/restore", headers=h)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Outbox.subject, Outbox.envelope)
                .where(Outbox.account_id == acct.id, Outbox.subject.like("kith.evt.contact.%"))
                .order_by(Outbox.seq)
            )
        ).all()
    assert [(subject, env["data"]) for subject, env in rows] == [
        ("kith.evt.contact.created", {"contact_id": cid}),
        ("kith.evt.contact.updated", {"contact_id": cid, "changed": ["company"]}),
        ("kith.evt.contact.updated", {"contact_id": cid, "changed": ["fields"]}),
        ("kith.evt.contact.deleted", {"contact_id": cid}),
        ("kith.evt.contact.restored", {"contact_id": cid}),
    ]
    assert all(env["generation"] is not None for _, env in rows)
