"""The photos service process: `kith serve photos`.

Only this module touches the broker: it builds the runtime, opens the storage backend named
by `KITH_STORAGE_URL`, and registers the consumers.
"""

from __future__ import annotations

from kith_common.events.payloads.contacts import ContactsMerged
from kith_common.events.payloads.imports import ImportCompleted
from kith_common.events.payloads.photos import SyncPhotos
from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_common.storage import Storage, open_storage
from kith_photos import consumers, partials
from kith_photos.handlers.media import MediaDeps, import_completed_handler, sync_command_handler
from kith_photos.handlers.merges import merged_handler
from kith_photos.hosts import HostGates
from kith_photos.sync import MediaLimits

SERVICE = "photos"


def media_limits(settings: Settings) -> MediaLimits:
    return MediaLimits(
        encryption_key=settings.encryption_key(),
        previous_keys=settings.decryption_keys()[1:],
        photo_max_bytes=settings.photo_max_bytes,
        document_max_bytes=settings.document_max_bytes,
        photo_page_max_bytes=settings.monica_max_photo_page_bytes,
        response_max_bytes=settings.monica_max_response_bytes,
        allow_private=settings.import_allow_private_hosts,
        allowed_hosts=settings.allowed_hosts(),
        rate_limit_per_minute=settings.monica_rate_limit_per_minute,
        rate_window_seconds=settings.monica_rate_limit_window_seconds,
    )


def build_app(settings: Settings, *, storage: Storage | None = None) -> Runtime:
    """The photos runtime: media phase consumers, the merged-photo file cleanup, and a sweep of
    partial files that killed writers left.

    `storage` exists for tests (a scratch directory).
    """
    runtime = Runtime(settings, SERVICE)
    store = storage or open_storage(settings.storage_url)
    deps = MediaDeps(
        storage=store,
        sessions=runtime.sessions,
        limits=media_limits(settings),
        hosts=HostGates(),
    )
    runtime.consume(consumers.IMPORT_COMPLETED, ImportCompleted)(
        import_completed_handler(consumers.IMPORT_COMPLETED, deps)
    )
    runtime.consume(consumers.SYNC_COMMAND, SyncPhotos)(
        sync_command_handler(consumers.SYNC_COMMAND, deps)
    )
    runtime.consume(consumers.MERGED_BLOBS, ContactsMerged)(merged_handler(store))
    partials.install(runtime, store)
    return runtime
