"""The local-filesystem storage backend."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kith_common.storage import LocalStorage, StorageError, account_prefix, open_storage


async def test_put_get_delete_round_trip(tmp_path: Path) -> None:
    storage = open_storage(f"file://{tmp_path}")
    await storage.put("a/1/photos/x.jpg", b"bytes")
    assert await storage.get("a/1/photos/x.jpg") == b"bytes"
    assert await storage.delete("a/1/photos/x.jpg") is True
    assert await storage.delete("a/1/photos/x.jpg") is False
    assert not await storage.exists("a/1/photos/x.jpg")


async def test_delete_prefix_keeps_the_account_whose_id_shares_digits(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("a/1/photos/p.jpg", b"1")
    await storage.put("a/1/imports/u.vcf", b"1")
    await storage.put("a/12/photos/p.jpg", b"12")
    assert await storage.delete_prefix(account_prefix(1)) == 2
    assert await storage.list_prefix(account_prefix(1)) == []
    assert await storage.get("a/12/photos/p.jpg") == b"12"


async def test_keys_outside_the_root_are_refused(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(StorageError):
        await storage.put("../escape", b"x")
    with pytest.raises(StorageError):
        await storage.delete_prefix("")


def test_unknown_scheme_names_the_setting() -> None:
    with pytest.raises(StorageError, match="KITH_STORAGE_URL"):
        open_storage("gs://bucket/prefix")


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


async def test_a_killed_writers_partial_is_no_key_and_is_swept_once_stale(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("a/1/photos/kept.png", b"kept")
    folder = tmp_path / "a" / "1" / "photos"
    stale = folder / ".lost.png.0123abcd.partial"  # what a SIGKILL mid-put leaves
    stale.write_bytes(b"half")
    live = folder / ".writing.png.4567ef01.partial"  # another process is writing it now
    live.write_bytes(b"half")
    _age(stale, 3600)

    assert await storage.list_prefix("a/1/") == ["a/1/photos/kept.png"]
    assert await storage.sweep_partials(older_than=900) == 1
    assert not stale.exists()
    assert live.exists()
    assert await storage.get("a/1/photos/kept.png") == b"kept"
    _age(storage.path_of("a/1/photos/kept.png"), 3600)  # an old stored file is no partial
    assert await storage.sweep_partials(older_than=900) == 0
    assert await storage.exists("a/1/photos/kept.png")


async def test_sweeping_an_empty_or_missing_root_finds_nothing(tmp_path: Path) -> None:
    assert await LocalStorage(tmp_path / "never-created").sweep_partials(older_than=0) == 0
