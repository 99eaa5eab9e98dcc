"""Stored files (photos, documents, vCard uploads) behind one small protocol.

Keys are `a/<account_id>/{photos,documents,imports}/<uuid><ext>` (data-model.md §4). The
backend is chosen by `KITH_STORAGE_URL`: `file:///path` (LocalStorage) or
`s3://bucket/prefix` (S3Storage in `kith_common.storage.s3`, any S3-compatible server).
"""

from kith_common.storage.base import Storage, StorageError, account_prefix
from kith_common.storage.local import LocalStorage
from kith_common.storage.open import open_storage

__all__ = ["LocalStorage", "Storage", "StorageError", "account_prefix", "open_storage"]
