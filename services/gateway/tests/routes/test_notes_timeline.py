"""Notes written and a task marked done through the API; a contact's counts and timeline."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_gateway.pagination import encode
from kith_gateway.testing import TestAccount, seed_records

TIMELINE_KINDS = {
    "note",
    "call",
    "activity",
    "conversation",
    "life_event",
    "gift",
    "debt",
    "task",
    "reminder",
}


async def _contact(client: httpx.AsyncClient, account: TestAccount, name: str) -> int:
    response = await client.post(
        "/v1/contacts", json={"first_name": name}, headers=account.headers()
    )
    return int(response.json()["id"])


async def test_an_editor_writes_notes_and_marks_a_task_done(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    editor = acct.headers("editor")
    contact = await _contact(client, acct, "Nora")
    created = await client.post(
        "/v1/notes", json={"contact_id": contact, "body": "Likes tea"}, headers=editor
    )
    assert created.status_code == 201, created.text
    note = created.json()
    assert note["author_id"] == acct.user_ids["editor"]
    edited = await client.patch(
        f"/v1/notes/{note['id']}",
        json={"body": "Likes green tea", "favorite": True},
        headers=editor,
    )
    assert edited.json()["body"] == "Likes green tea"
    assert edited.json()["favorite"] is True
    listed = await client.get(f"/v1/notes?contact_id={contact}", headers=editor)
    assert [n["body"] for n in listed.json()["data"]] == ["Likes green tea"]
    nul = await client.patch(f"/v1/notes/{note['id']}", json={"body": "a\u0000"}, headers=editor)
    assert nul.status_code == 422
    assert nul.json()["errors"][0]["field"] == "body"
    assert (await client.delete(f"/v1/notes/{note['id']}", headers=editor)).status_code == 204
    assert (await client.get(f"/v1/notes/{note['id']}", headers=editor)).status_code == 404

    foreign = await _contact(client, other, "Far")
    refused = await client.post(
        "/v1/notes", json={"contact_id": foreign, "body": "x"}, headers=editor
    )
    assert refused.status_code == 404
    await client.delete(f"/v1/contacts/{contact}", headers=editor)
    trashed = await client.post(
        "/v1/notes", json={"contact_id": contact, "body": "x"}, headers=editor
    )
    assert trashed.status_code == 409

    task_contact = await _contact(client, acct, "Tess")
    seeded = await seed_records(sessions, acct.id, [task_contact])
    task_id = seeded.ids["tasks"][0]
    done = await client.patch(f"/v1/tasks/{task_id}", json={"status": "completed"}, headers=editor)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["completed_at"] is not None
    reopened = await client.patch(
        f"/v1/tasks/{task_id}", json={"status": "pending"}, headers=editor
    )
    assert reopened.json()["completed_at"] is None


async def test_contact_counts_and_a_timeline_paged_newest_first(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    h = acct.headers("viewer")
    people = [await _contact(client, acct, f"P{i}") for i in range(3)]
    seeded = await seed_records(sessions, acct.id, people)
    middle = people[1]
    for body in ("first", "second"):
        await client.post(
            "/v1/notes", json={"contact_id": middle, "body": body}, headers=acct.headers("editor")
        )
    counts = (await client.get(f"/v1/contacts/{middle}", headers=h)).json()["counts"]
    assert counts["notes"] == 3
    assert counts["relationships"] == 2  # its own and the previous contact's, to it
    assert all(counts[name] == 1 for name in counts if name not in {"notes", "relationships"}), (
        counts
    )

    seen: list[tuple[str, int]] = []
    moments: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(f"/v1/contacts/{middle}/timeline", params=params, headers=h)
        ).json()
        seen += [(e["kind"], e["id"]) for e in page["data"]]
        moments += [e["at"] for e in page["data"]]
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 11  # 3 notes + one of each other kind
    assert {kind for kind, _ in seen} == TIMELINE_KINDS
    assert moments == sorted(moments, reverse=True)
    newest = (await client.get("/v1/notes", params={"contact_id": middle}, headers=h)).json()
    assert seen[:2] == [("note", n["id"]) for n in newest["data"][:2]]  # written just now
    assert ("call", seeded.by_contact["calls"][middle][0]) in seen

    stamp = "2024-01-01T00:00:00+00:00"
    bad = [
        encode("timeline", t=stamp, n="pet", i=1),
        encode("notes", t=stamp, i=1),
        encode("timeline", t=stamp, n="note", i=2**64),
    ]
    for cursor in bad:
        url = f"/v1/contacts/{middle}/timeline"
        assert (await client.get(url, params={"cursor": cursor}, headers=h)).status_code == 400
    foreign = await _contact(client, other, "Far")
    assert (await client.get(f"/v1/contacts/{foreign}/timeline", headers=h)).status_code == 404
    assert (await client.get(f"/v1/contacts/{2**64}/timeline", headers=h)).status_code == 404
