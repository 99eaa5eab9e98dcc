"""Duplicate review and merges over HTTP (dedup.md §4, §5.4)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import Outbox
from kith_gateway.testing import TestAccount


async def _contacts(client: httpx.AsyncClient, acct: TestAccount, n: int) -> list[int]:
    ids = []
    for i in range(n):
        r = await client.post(
            "/v1/contacts", json={"first_name": f"P{i}"}, headers=acct.headers("editor")
        )
        ids.append(r.json()["id"])
    return ids


async def _candidate(
    sessions: async_sessionmaker[AsyncSession],
    account_id: int,
    a: int,
    b: int,
    score: str,
    status: str = "pending",
) -> int:
    low, high = sorted((a, b))
    async with sessions() as session, session.begin():
        return int(
            await session.scalar(
                text(
                    "INSERT INTO duplicate_candidates (account_id, contact_id,"
                    " duplicate_contact_id, score, reasons, status)"
                    " VALUES (:acc, :l, :h, :s, ARRAY['name_match'], :st) RETURNING id"
                ),
                {"acc": account_id, "l": low, "h": high, "s": Decimal(score), "st": status},
            )
            or 0
        )


async def test_list_orders_by_score_and_hides_pairs_with_a_deleted_contact(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _contacts(client, acct, 4)
    low = await _candidate(sessions, acct.id, c[0], c[1], "0.70")
    high = await _candidate(sessions, acct.id, c[2], c[3], "0.95")
    gone = await _candidate(sessions, acct.id, c[0], c[2], "0.99")
    await client.delete(f"/v1/contacts/{c[2]}", headers=acct.headers("editor"))
    await client.post(f"/v1/contacts/{c[2]}/restore", headers=acct.headers("editor"))
    await client.delete(f"/v1/contacts/{c[3]}", headers=acct.headers("editor"))
    page = (
        await client.get("/v1/duplicates", params={"sort": "score"}, headers=acct.headers("viewer"))
    ).json()
    assert [item["id"] for item in page["data"]] == [gone, low]
    assert high not in [item["id"] for item in page["data"]]
    assert page["data"][0]["contact"]["display_name"] == "P0"
    counts = (await client.get("/v1/duplicates/counts", headers=acct.headers("viewer"))).json()
    assert counts == {
        "pending": 2,
        "dismissed": 0,
        "merged": 0,
        "obsolete": 0,
        "by_confidence": {"high": 0, "medium": 0, "low": 2},
    }
    mine = (
        await client.get(f"/v1/contacts/{c[1]}/duplicates", headers=acct.headers("viewer"))
    ).json()
    assert [item["id"] for item in mine["data"]] == [low]


async def test_list_orders_by_confidence_with_evidence_and_both_sides_decision_fields(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    c = await _contacts(client, acct, 4)
    await client.patch(
        f"/v1/contacts/{c[0]}", json={"job_title": "Designer", "company": "Acme"}, headers=h
    )
    for kind, value in (("email", "p0@example.com"), ("phone", "+442079460958")):
        r = await client.post(
            f"/v1/contacts/{c[0]}/fields", json={"type": kind, "value": value}, headers=h
        )
        assert r.status_code == 201, r.text
    sure = await _candidate(sessions, acct.id, c[0], c[1], "0.60")
    unsure = await _candidate(sessions, acct.id, c[2], c[3], "0.95")
    evidence = {
        "name": {"outcome": "agree", "level": "exact", "weight": 12.5},
        "email": {"outcome": "missing", "level": "missing", "weight": 0.0},
        "phone": {"outcome": "missing", "level": "missing", "weight": 0.0},
        "address": {"outcome": "missing", "level": "missing", "weight": 0.0},
        "birthday": {"outcome": "missing", "level": "missing", "weight": 0.0},
        "company": {"outcome": "disagree", "level": "disagree", "weight": -1.5},
    }
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE duplicate_candidates SET confidence = :c, evidence = CAST(:e AS jsonb)"
                " WHERE id = :i"
            ),
            [
                {"i": sure, "c": 0.97, "e": json.dumps(evidence)},
                {"i": unsure, "c": 0.2, "e": None},
            ],
        )
        await session.execute(
            text("UPDATE accounts SET phone_format = 'national' WHERE id = :a"), {"a": acct.id}
        )
        await session.execute(
            text("INSERT INTO notes (account_id, contact_id, body) VALUES (:a, :c, 'met')"),
            {"a": acct.id, "c": c[0]},
        )
    page = (await client.get("/v1/duplicates", headers=acct.headers("viewer"))).json()
    assert [item["id"] for item in page["data"]] == [sure, unsure]
    first = page["data"][0]
    assert first["confidence"] == 0.97
    assert first["evidence"]["name"] == {"outcome": "agree", "level": "exact", "weight": 12.5}
    assert first["evidence"]["company"]["outcome"] == "disagree"
    side = first["contact"]
    assert side["emails"] == ["p0@example.com"]
    assert side["phones"] == [{"value": "+442079460958", "formatted": "020 7946 0958"}]
    assert (side["job_title"], side["company"]) == ("Designer", "Acme")
    assert side["counts"] == {"notes": 1, "calls": 0, "photos": 0}
    assert side["origin"]["kind"] == "manual"
    assert side["origin"]["at"]
    assert first["duplicate_contact"]["emails"] == []
    assert page["data"][1]["evidence"] is None
    counts = (await client.get("/v1/duplicates/counts", headers=h)).json()
    assert counts["by_confidence"] == {"high": 1, "medium": 0, "low": 1}
    walk = await client.get("/v1/duplicates", params={"limit": 1}, headers=h)
    after = await client.get(
        "/v1/duplicates",
        params={"limit": 1, "cursor": walk.json()["meta"]["next_cursor"]},
        headers=h,
    )
    assert [i["id"] for i in after.json()["data"]] == [unsure]
    by_score = await client.get("/v1/duplicates", params={"sort": "score"}, headers=h)
    assert [i["id"] for i in by_score.json()["data"]] == [unsure, sure]


async def test_dismiss_publishes_event_with_request_id_and_is_idempotent(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _contacts(client, acct, 2)
    cid = await _candidate(sessions, acct.id, c[0], c[1], "0.80")
    request_id = str(uuid.uuid4())
    first = await client.post(
        f"/v1/duplicates/{cid}/dismiss",
        headers={**acct.headers("editor"), "X-Request-Id": request_id},
    )
    assert first.status_code == 200
    assert first.json()["status"] == "dismissed"
    second = await client.post(f"/v1/duplicates/{cid}/dismiss", headers=acct.headers("editor"))
    assert second.status_code == 200
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(Outbox.envelope).where(
                        Outbox.account_id == acct.id,
                        Outbox.subject == "kith.evt.dedup.candidate.dismissed",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(rows) == 1
    assert rows[0]["correlation_id"] == request_id
    assert rows[0]["data"]["candidate_id"] == cid

    merged = await _candidate(
        sessions, acct.id, c[0], (await _contacts(client, acct, 1))[0], "0.5", "merged"
    )
    refused = await client.post(f"/v1/duplicates/{merged}/dismiss", headers=acct.headers("editor"))
    assert refused.status_code == 409


async def test_bad_or_foreign_status_cursor_is_400(
    client: httpx.AsyncClient, acct: TestAccount
) -> None:
    h = acct.headers("viewer")
    assert (
        await client.get("/v1/duplicates", params={"cursor": "%%%"}, headers=h)
    ).status_code == 400
    from kith_gateway.pagination import encode

    other_status = encode("duplicates", status="dismissed", score="0.5", id=1)
    response = await client.get("/v1/duplicates", params={"cursor": other_status}, headers=h)
    assert response.status_code == 400
    score_cursor = encode("duplicates", status="pending", score="0.5", id=1)
    response = await client.get("/v1/duplicates", params={"cursor": score_cursor}, headers=h)
    assert response.status_code == 400  # a score-order cursor does not continue confidence order
    ok = {"cursor": score_cursor, "sort": "score"}
    assert (await client.get("/v1/duplicates", params=ok, headers=h)).status_code == 200
    assert (await client.get("/v1/duplicates", params={"limit": 201}, headers=h)).status_code == 422


async def test_merge_is_previewed_queued_and_followed(
    client: httpx.AsyncClient, acct: TestAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    h = acct.headers("editor")
    survivor = (await client.post("/v1/contacts", json={"first_name": "Ann"}, headers=h)).json()[
        "id"
    ]
    loser = (
        await client.post(
            "/v1/contacts",
            json={"first_name": "Ann", "last_name": "Lee", "company": "ACME"},
            headers=h,
        )
    ).json()["id"]
    body = {"survivor_id": survivor, "loser_id": loser, "field_choices": {"last_name": "loser"}}
    preview = await client.post("/v1/merges/preview", json=body, headers=acct.headers("viewer"))
    assert preview.status_code == 200, preview.text
    report = preview.json()
    assert report["survivor"]["display_name_after"] == "Ann Lee"
    assert {"field": "last_name", "from": None, "to": "Lee"} in report["fields"]

    accepted = await client.post("/v1/merges", json=body, headers=h)
    assert accepted.status_code == 202
    merge_id = accepted.json()["id"]
    assert accepted.json()["status_url"] == f"/v1/merges/{merge_id}"
    async with sessions() as session:
        row = await session.scalar(select(Outbox).where(Outbox.id == uuid.UUID(merge_id)))
    assert row is not None
    assert row.subject == "kith.cmd.contacts.merge"
    assert row.envelope["data"]["requested_by"] == acct.user_ids["editor"]
    pending = await client.get(f"/v1/merges/{merge_id}", headers=h)
    assert pending.json()["status"] == "pending"

    # The loser was merged away meanwhile (as the dedup service would do).
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE contacts SET deleted_at = now(), merged_into_id = :s WHERE id = :l"),
            {"s": survivor, "l": loser},
        )
        await session.execute(
            text(
                "INSERT INTO contact_merges (merge_id, account_id, survivor_id, loser_id, source,"
                " status, report) VALUES (:m, :a, :s, :l, 'api', 'done', '{}')"
            ),
            {"m": uuid.UUID(merge_id), "a": acct.id, "s": survivor, "l": loser},
        )
    done = await client.get(f"/v1/merges/{merge_id}", headers=h)
    assert done.json()["status"] == "done"
    again = await client.post("/v1/merges", json=body, headers=h)
    assert again.status_code == 409
    restore = await client.post(f"/v1/contacts/{loser}/restore", headers=h)
    assert restore.status_code == 409
    assert restore.json()["type"] == "/problems/contact-merged"
