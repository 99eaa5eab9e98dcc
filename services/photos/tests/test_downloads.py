"""Document downloads against real HTTP hosts: where each request takes its turn, and how a
link is resolved (importer.md §5, §9)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.monica.client import MonicaClient, origin_of
from kith_common.monica.ratelimit import RateLimiter, bucket_key
from kith_common.monica.urls import api_root
from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer
from kith_common.testing.fake_monica.media import FileHost, HostedFile
from kith_photos.downloads import Downloaded, Downloader, Failed, resolve_link
from kith_photos.hosts import FOREIGN_HOST_CONCURRENCY, HostGates
from kith_photos.testing import FAKE_TOKEN as TOKEN

Sessions = async_sessionmaker[AsyncSession]


async def test_foreign_host_skips_monicas_bucket_honours_retry_after_and_bounds_concurrency(
    fake: FakeMonica, monica: FakeMonicaServer, session_factory: Sessions
) -> None:
    host = FileHost()
    host.files["busy.pdf"] = HostedFile(b"%PDF busy", "application/pdf", throttled=1)
    host.files["slow.pdf"] = HostedFile(b"%PDF slow", "application/pdf", delay=0.3)
    limiter = RateLimiter(
        session_factory, bucket_key(origin_of(api_root(monica.url)), TOKEN), per_window=55
    )
    # Monica's bucket is blocked for an hour: a download that waited for it would never end.
    await limiter.block(3600)
    with FakeMonicaServer(host) as cdn:  # type: ignore[arg-type]  # any ASGI app serves
        async with (
            MonicaClient(monica.url, TOKEN, limiter=limiter, allow_private=True) as client,
            Downloader(
                monica=client,
                monica_url=monica.url,
                api_key=TOKEN,
                hosts=HostGates(),
                allow_private=True,
                max_bytes=1024,
            ) as downloader,
        ):
            busy = await asyncio.wait_for(
                downloader.fetch(f"{cdn.url}/files/busy.pdf", document_type="application/pdf"),
                timeout=30,
            )
            many = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        downloader.fetch(f"{cdn.url}/files/slow.pdf", document_type=None)
                        for _ in range(10)
                    )
                ),
                timeout=30,
            )

    assert isinstance(busy, Downloaded)
    assert busy.data == b"%PDF busy"
    [(refused_at, _, refused), (served_at, _, served)] = [e for e in host.log if e[1] == "busy.pdf"]
    assert (refused, served) == (429, 200)
    assert served_at - refused_at >= 1.0  # the host's Retry-After: 1, then one retry
    assert all(isinstance(m, Downloaded) for m in many)
    assert host.max_in_flight == FOREIGN_HOST_CONCURRENCY
    assert downloader.requests_by_host == {origin_of(cdn.url): 12}
    assert host.authorized_requests() == 0
    assert client.stats.requests == 0
    assert fake.stats()["total"] == 0


def test_relative_links_resolve_against_monica_and_other_schemes_are_refused() -> None:
    base = "https://monica.example/crm"
    assert resolve_link("/storage/a.pdf", base) == "https://monica.example/storage/a.pdf"
    assert resolve_link("storage/a.pdf", base) == "https://monica.example/crm/storage/a.pdf"
    assert resolve_link(" https://cdn.example/a.pdf ", base) == "https://cdn.example/a.pdf"
    assert resolve_link("//cdn.example/a.pdf", base) == "https://cdn.example/a.pdf"
    assert resolve_link(None, base) == Failed(
        "failed", "no_link", "Monica gave no download link for this document"
    )
    refused = resolve_link("file:///etc/passwd", base)
    assert isinstance(refused, Failed)
    assert refused.reason == "refused_host"
