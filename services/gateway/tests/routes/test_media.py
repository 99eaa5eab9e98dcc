"""Photo and document bytes read back through the storage backend, with cache headers."""

from __future__ import annotations

import hashlib

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.settings import Settings
from kith_common.storage import open_storage
from kith_gateway.testing import TestAccount, seed_records


async def test_stored_bytes_read_back_with_etag_and_a_safe_file_name(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    storage = open_storage(settings.storage_url)
    h = acct.headers("admin")
    mine = (await client.post("/v1/contacts", json={"first_name": "M"}, headers=h)).json()["id"]
    theirs = (
        await client.post("/v1/contacts", json={"first_name": "T"}, headers=other.headers())
    ).json()["id"]
    seeded = await seed_records(sessions, acct.id, [mine], storage=storage)
    foreign = await seed_records(sessions, other.id, [theirs], storage=storage)
    viewer = acct.headers("viewer")

    photo_id = seeded.ids["photos"][0]
    photo = await client.get(f"/v1/photos/{photo_id}/content", headers=viewer)
    data = seeded.files[f"photos/{photo_id}"]
    assert photo.status_code == 200
    assert photo.content == data
    assert photo.headers["content-type"] == "image/png"
    assert photo.headers["content-length"] == str(len(data))
    assert photo.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert "private" in photo.headers["cache-control"]
    assert photo.headers["content-disposition"].startswith("inline;")
    again = await client.get(
        f"/v1/photos/{photo_id}/content", headers={**viewer, "If-None-Match": photo.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""

    document_id = seeded.ids["documents"][0]
    document = await client.get(f"/v1/documents/{document_id}/content", headers=viewer)
    assert document.content == seeded.files[f"documents/{document_id}"]
    assert document.headers["content-type"] == "application/pdf"
    assert document.headers["content-disposition"] == (
        "attachment; filename=\"report _0_.pdf\"; filename*=UTF-8''report%20%220%22.pdf"
    )

    for path in ("photos", "documents"):
        response = await client.get(f"/v1/{path}/{foreign.ids[path][0]}/content", headers=viewer)
        assert response.status_code == 404


async def test_a_file_missing_from_storage_is_404_logged_once_and_the_row_stays(
    client: httpx.AsyncClient,
    acct: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    h = acct.headers("viewer")
    contact = (
        await client.post("/v1/contacts", json={"first_name": "M"}, headers=acct.headers())
    ).json()["id"]
    seeded = await seed_records(sessions, acct.id, [contact])  # rows only, no files
    document_id = seeded.ids["documents"][0]
    with structlog.testing.capture_logs() as logs:
        response = await client.get(f"/v1/documents/{document_id}/content", headers=h)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "missing from storage" in response.json()["detail"]
    assert [e["event"] for e in logs].count("stored_file_missing") == 1
    assert (await client.get(f"/v1/documents/{document_id}", headers=h)).status_code == 200
