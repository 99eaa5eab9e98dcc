"""The S3 backend against a real S3-compatible server (moto's standalone server, over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiobotocore.session
import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer

from kith_common.storage import StorageError, open_storage
from kith_common.storage.s3 import S3Storage

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # moto accepts any


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def store(s3_endpoint: str) -> AsyncIterator[S3Storage]:
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS
    ) as client:
        await client.create_bucket(Bucket="kith-files")
    storage = S3Storage.from_url(
        f"s3://kith-files/prod?endpoint_url={s3_endpoint}&addressing=path",
        credentials=CREDENTIALS,
    )
    yield storage
    await storage.delete_prefix("a/")
    await storage.close()


async def test_put_get_exists_delete_round_trip(store: S3Storage) -> None:
    await store.put("a/1/photos/x.png", b"\x89PNG bytes")
    assert await store.get("a/1/photos/x.png") == b"\x89PNG bytes"
    assert await store.exists("a/1/photos/x.png")
    assert await store.delete("a/1/photos/x.png") is True
    assert await store.delete("a/1/photos/x.png") is False  # missing, not an error
    assert not await store.exists("a/1/photos/x.png")
    with pytest.raises(FileNotFoundError):
        await store.get("a/1/photos/x.png")


async def test_prefix_listing_keeps_account_1_out_of_account_12(store: S3Storage) -> None:
    for key in ("a/1/photos/p.png", "a/1/documents/d.pdf", "a/12/photos/q.png"):
        await store.put(key, b"data")
    assert await store.list_prefix("a/1/") == ["a/1/documents/d.pdf", "a/1/photos/p.png"]
    assert await store.delete_prefix("a/1/") == 2
    assert await store.list_prefix("a/1/") == []
    assert await store.get("a/12/photos/q.png") == b"data"


async def test_keys_live_under_the_url_prefix(store: S3Storage, s3_endpoint: str) -> None:
    await store.put("a/3/photos/k.png", b"k")
    session = aiobotocore.session.get_session()
    async with session.create_client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS
    ) as client:
        listed = await client.list_objects_v2(Bucket="kith-files", Prefix="prod/a/3/")
    assert [o["Key"] for o in listed["Contents"]] == ["prod/a/3/photos/k.png"]


async def test_unsafe_keys_and_prefixes_are_refused(store: S3Storage) -> None:
    with pytest.raises(StorageError):
        await store.put("a/1/../2/x", b"")
    with pytest.raises(StorageError):
        await store.delete_prefix("a/1")  # not a directory-like prefix
    with pytest.raises(StorageError):
        await store.delete_prefix("/")


async def test_unreachable_server_is_a_storage_error() -> None:
    storage = S3Storage.from_url(
        "s3://b?endpoint_url=http://127.0.0.1:9&addressing=path",
        credentials=CREDENTIALS,
        max_attempts=1,
    )
    with pytest.raises(StorageError):
        await storage.put("a/1/x", b"x")
    await storage.close()


def test_open_storage_builds_s3_from_the_url() -> None:
    storage = open_storage("s3://bucket/some/prefix?region=eu-west-1")
    assert isinstance(storage, S3Storage)
    assert storage.options.bucket == "bucket"
    assert storage.options.prefix == "some/prefix/"
    assert storage.options.region == "eu-west-1"


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3://user:secret@bucket/p", "s3://bucket?colour=blue"],
)
def test_bad_s3_urls_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(StorageError, match="KITH_STORAGE_URL"):
        open_storage(url)
