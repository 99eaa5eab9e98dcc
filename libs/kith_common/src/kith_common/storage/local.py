"""The local-filesystem backend (`KITH_STORAGE_URL=file:///var/lib/kith`).

Writes go to a partial file (`.<name>.<random>.partial`) renamed into place, so a reader
never sees half a file. A process killed mid-write leaves its partial behind: listings never
count partials as keys, and `sweep_partials` (run by the photos service at start) removes the
ones no live writer can still own. Keys are relative paths; one that would escape the root
(`..`, absolute) is refused.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from pathlib import Path

from kith_common.storage.base import StorageError

PARTIAL_SUFFIX = ".partial"


def is_partial(path: Path) -> bool:
    """A write in progress, or the remains of one whose process died."""
    return path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX)


class LocalStorage:
    """Files under `root`, one per key."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_of(self, key: str) -> Path:
        """The file of `key`; refuses keys that leave the root."""
        parts = Path(key).parts
        if not key or Path(key).is_absolute() or ".." in parts:
            msg = f"invalid storage key {key!r}"
            raise StorageError(msg)
        return self.root.joinpath(*parts)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, key, data)

    def _put(self, key: str, data: bytes) -> None:
        path = self.path_of(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as err:
            raise StorageError(f"put {key}: {err}") from err

    async def get(self, key: str) -> bytes:
        path = self.path_of(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise
        except OSError as err:
            raise StorageError(f"get {key}: {err}") from err

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_of(key).is_file)

    async def delete(self, key: str) -> bool:
        return await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> bool:
        path = self.path_of(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as err:
            raise StorageError(f"delete {key}: {err}") from err
        return True

    async def list_prefix(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._list, prefix)

    def _list(self, prefix: str) -> list[str]:
        base = self.path_of(prefix.rstrip("/")) if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in base.rglob("*")
            if path.is_file() and not is_partial(path)
        )

    async def sweep_partials(self, older_than: float) -> int:
        """Remove partial files untouched for `older_than` seconds; returns how many.

        A live write rewrites its partial within one `put` (files are capped at tens of MB),
        so one older than a few minutes belongs to a writer that was killed.
        """
        return await asyncio.to_thread(self._sweep_partials, older_than)

    def _sweep_partials(self, older_than: float) -> int:
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for path in self.root.rglob(f".*{PARTIAL_SUFFIX}"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # its writer renamed it into place, or another sweep got it
            except OSError as err:
                raise StorageError(f"sweep {path.name}: {err}") from err
        return removed

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every file under `prefix` (a directory-like prefix ending in `/`)."""
        return await asyncio.to_thread(self._delete_prefix, prefix)

    def _delete_prefix(self, prefix: str) -> int:
        if not prefix.endswith("/") or not prefix.strip("/"):
            msg = f"refusing to delete prefix {prefix!r}: it must name a directory"
            raise StorageError(msg)
        base = self.path_of(prefix.rstrip("/"))
        if not base.is_dir():
            return 0
        count = sum(1 for path in base.rglob("*") if path.is_file())
        try:
            shutil.rmtree(base)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise StorageError(f"delete prefix {prefix}: {err}") from err
        return count
