"""The storage protocol every backend implements, and the key helpers."""

from __future__ import annotations

from typing import Protocol


class StorageError(RuntimeError):
    """The backend failed (I/O, permissions, network); the caller may retry."""


def account_prefix(account_id: int) -> str:
    """`a/<id>/`: the trailing slash keeps account 1 out of account 12's files."""
    return f"a/{account_id}/"


class Storage(Protocol):
    """A flat key → bytes store.

    `delete` returns False when the key had no file (a reset counts it as `missing`, not an
    error); every other failure raises `StorageError`. `sweep_partials` removes what killed
    writers left half-written (a backend whose writes are atomic has none and returns 0).
    """

    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> bool: ...

    async def list_prefix(self, prefix: str) -> list[str]: ...

    async def delete_prefix(self, prefix: str) -> int: ...

    async def sweep_partials(self, older_than: float) -> int: ...
