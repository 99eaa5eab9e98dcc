"""The S3-compatible backend (`KITH_STORAGE_URL=s3://bucket/prefix`).

Built on aiobotocore (botocore's signing, retries and endpoint handling, on asyncio), so any
S3-compatible server works: AWS, MinIO, Ceph, Garage, R2. The URL names the bucket and an
optional key prefix; non-secret options ride in its query:

    s3://kith-files/prod?endpoint_url=https://minio.internal:9000&region=eu-west-1&addressing=path

Credentials never go in the URL (it is logged as configuration): botocore's standard chain
supplies them (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a profile, or the pod's IAM role).

Semantics match `LocalStorage`: `get` of a missing key raises FileNotFoundError, `delete`
returns False when there was nothing to delete, every other failure is a `StorageError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import parse_qs, urlparse

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from kith_common.storage.base import StorageError

__all__ = ["S3Options", "S3Storage"]

_DELETE_BATCH: Final = 1000
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Options:
    """Where the files live; parsed from `KITH_STORAGE_URL` by `S3Storage.from_url`."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    path_style: bool = False


def _parse(url: str) -> S3Options:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        msg = f"KITH_STORAGE_URL: {url!r} is not s3://bucket[/prefix]"
        raise StorageError(msg)
    if parsed.username or parsed.password:
        msg = "KITH_STORAGE_URL: put S3 credentials in AWS_* variables, not in the URL"
        raise StorageError(msg)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    known = {"endpoint_url", "region", "addressing"}
    unknown = sorted(set(query) - known)
    if unknown:
        msg = f"KITH_STORAGE_URL: unknown s3 option(s) {', '.join(unknown)}"
        raise StorageError(msg)
    prefix = parsed.path.strip("/")
    return S3Options(
        bucket=parsed.netloc,
        prefix=f"{prefix}/" if prefix else "",
        endpoint_url=query.get("endpoint_url"),
        region=query.get("region"),
        path_style=query.get("addressing", "") == "path",
    )


def _check_key(key: str) -> None:
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or ".." in parts:
        msg = f"invalid storage key {key!r}"
        raise StorageError(msg)


class S3Storage:
    """Objects under `s3://bucket/prefix/`, one per key; one client per process, opened lazily.

    `credentials` is for tests and embedding only (`{"aws_access_key_id": ...,
    "aws_secret_access_key": ...}`); services rely on botocore's credential chain.
    """

    def __init__(
        self,
        options: S3Options,
        *,
        credentials: dict[str, str] | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.options = options
        self._credentials = credentials or {}
        self._max_attempts = max_attempts
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(
        cls, url: str, *, credentials: dict[str, str] | None = None, max_attempts: int = 5
    ) -> S3Storage:
        return cls(_parse(url), credentials=credentials, max_attempts=max_attempts)

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack, self._client = None, None

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                stack = AsyncExitStack()
                config = AioConfig(
                    s3={"addressing_style": "path" if self.options.path_style else "auto"},
                    retries={"max_attempts": self._max_attempts, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=60,
                )
                self._client = await stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=self.options.endpoint_url,
                        region_name=self.options.region or "us-east-1",
                        config=config,
                        **self._credentials,
                    )
                )
                self._stack = stack
            return self._client

    def _full(self, key: str) -> str:
        _check_key(key)
        return self.options.prefix + key

    @contextlib.asynccontextmanager
    async def _errors(self, what: str) -> AsyncIterator[None]:
        try:
            yield
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise FileNotFoundError(what) from None
            raise StorageError(f"{what}: S3 answered {code or 'an error'}") from err
        except BotoCoreError as err:
            raise StorageError(f"{what}: {type(err).__name__}") from err

    async def put(self, key: str, data: bytes) -> None:
        s3 = await self._s3()
        async with self._errors(f"put {key}"):
            await s3.put_object(Bucket=self.options.bucket, Key=self._full(key), Body=data)

    async def get(self, key: str) -> bytes:
        s3 = await self._s3()
        async with self._errors(f"get {key}"):
            response = await s3.get_object(Bucket=self.options.bucket, Key=self._full(key))
            async with response["Body"] as body:
                data: bytes = await body.read()
                return data

    async def exists(self, key: str) -> bool:
        s3 = await self._s3()
        try:
            async with self._errors(f"head {key}"):
                await s3.head_object(Bucket=self.options.bucket, Key=self._full(key))
        except FileNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> bool:
        """S3's DELETE succeeds for a missing key, so a HEAD first tells `missing` apart."""
        if not await self.exists(key):
            return False
        s3 = await self._s3()
        async with self._errors(f"delete {key}"):
            await s3.delete_object(Bucket=self.options.bucket, Key=self._full(key))
        return True

    async def list_prefix(self, prefix: str) -> list[str]:
        return sorted([key async for key in self._iter(prefix)])

    async def _iter(self, prefix: str) -> AsyncIterator[str]:
        if prefix:
            _check_key(prefix)
        s3 = await self._s3()
        base = self.options.prefix
        async with self._errors(f"list {prefix}"):
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.options.bucket, Prefix=base + prefix):
                for item in page.get("Contents", []):
                    yield str(item["Key"])[len(base) :]

    async def sweep_partials(self, older_than: float) -> int:
        """A single PutObject is atomic: a killed writer leaves no object behind."""
        del older_than
        return 0

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` (a directory-like prefix ending in `/`)."""
        if not prefix.endswith("/") or not prefix.strip("/"):
            msg = f"refusing to delete prefix {prefix!r}: it must name a directory"
            raise StorageError(msg)
        keys = await self.list_prefix(prefix)
        s3 = await self._s3()
        deleted = 0
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            async with self._errors(f"delete prefix {prefix}"):
                result = await s3.delete_objects(
                    Bucket=self.options.bucket,
                    Delete={"Objects": [{"Key": self._full(k)} for k in batch], "Quiet": True},
                )
            errors = result.get("Errors") or []
            if errors:
                msg = f"delete prefix {prefix}: {len(errors)} object(s) could not be deleted"
                raise StorageError(msg)
            deleted += len(batch)
        return deleted
