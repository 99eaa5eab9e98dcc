"""Choosing the backend from `KITH_STORAGE_URL`."""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from kith_common.storage.base import Storage, StorageError
from kith_common.storage.local import LocalStorage


def open_storage(url: str) -> Storage:
    """The backend for `url`: `file:///path` → LocalStorage, `s3://bucket/prefix` → S3Storage.

    Raises:
        StorageError: a scheme without a backend, or a malformed s3:// URL.
    """
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(unquote(parsed.path))
    if parsed.scheme == "s3":
        # Imported here: aiobotocore is only loaded by deployments that use S3.
        from kith_common.storage.s3 import S3Storage

        return S3Storage.from_url(url)
    msg = f"KITH_STORAGE_URL: no storage backend for {parsed.scheme}:// in this build"
    raise StorageError(msg)
