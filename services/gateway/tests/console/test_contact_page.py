"""The console's contact page shows everything a contact has; the merge review, each side's."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.settings import Settings
from kith_common.storage import open_storage
from kith_gateway.testing import TestAccount, console_sign_in, seed_records


async def _sign_in(client: httpx.AsyncClient, token: str) -> None:
    client.cookies.clear()
    signed = await console_sign_in(client, token)
    client.cookies.set("kith_console", signed.cookies["kith_console"], path="/console")


async def test_contact_page_timeline_relationships_files_and_review_counts(
    client: httpx.AsyncClient,
    acct: TestAccount,
    other: TestAccount,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    h = acct.headers()
    ann, bob = [
        (await client.post("/v1/contacts", json={"first_name": n}, headers=h)).json()["id"]
        for n in ("Ann", "Bob")
    ]
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE contacts SET is_partial = true WHERE id = :i"), {"i": bob}
        )
    storage = open_storage(settings.storage_url)
    for _ in range(3):  # 27 timeline entries for Ann: more than one page
        seeded = await seed_records(sessions, acct.id, [ann, bob], storage=storage)
    theirs = (
        await client.post("/v1/contacts", json={"first_name": "T"}, headers=other.headers())
    ).json()["id"]
    foreign = await seed_records(sessions, other.id, [theirs], storage=storage)

    await _sign_in(client, acct.tokens["viewer"])
    page = (await client.get(f"/console/contacts/{ann}")).text
    assert page.count('<li data-kind="') == 20
    assert re.search(r'data-count="notes">3<', page)
    assert re.search(rf'<a href="/console/contacts/{bob}">Bob</a>: [^<]+ <span class="badge"', page)
    photo = seeded.by_contact["photos"][ann][0]
    assert f'<img src="/console/photos/{photo}/content"' in page
    assert 'loading="lazy"' in page
    document = seeded.by_contact["documents"][ann][0]
    assert f'href="/console/documents/{document}/content"' in page
    older = re.search(r'id="timeline-older" href="([^"]+)"', page)
    assert older is not None
    rest = (await client.get(older.group(1).replace("&amp;", "&"))).text
    assert rest.count('<li data-kind="') == 7
    assert "timeline-older" not in rest

    image = await client.get(f"/console/photos/{photo}/content")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == seeded.files[f"photos/{photo}"]
    download = await client.get(f"/console/documents/{document}/content")
    assert download.content == seeded.files[f"documents/{document}"]
    assert download.headers["content-disposition"].startswith("attachment;")
    stolen = await client.get(f"/console/photos/{foreign.ids['photos'][0]}/content")
    assert stolen.status_code == 404

    await _sign_in(client, acct.tokens["editor"])
    review = await client.get(f"/console/merge/review?survivor={ann}&loser={bob}")
    assert review.status_code == 200, review.text
    table = re.search(r'<table id="side-counts">.*?</table>', review.text, re.S)
    assert table is not None
    assert re.search(r"<td>notes</td><td>3</td><td>3</td>", table.group(0))
    assert re.search(r"<td>relationships</td><td>6</td><td>6</td>", table.group(0))
    client.cookies.clear()
