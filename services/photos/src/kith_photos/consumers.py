"""The photos service's durables (ARCHITECTURE §2, §10).

The media phase is long work (hundreds of pages behind a 55/min rate limit): its consumers are
long-running, checkpoint every page and keep their message alive, so `ack_wait` only bounds how
long a dead worker's message waits before another replica resumes it. Up to four imports sync
at once per process: a sync mostly waits on its own account's Monica rate limit, so one long
account must not hold every other account's media behind it.
"""

from __future__ import annotations

from typing import Final

from kith_common.bus.consumers import ConsumerSpec
from kith_common.events import subjects

__all__ = ["IMPORT_COMPLETED", "MERGED_BLOBS", "SYNC_COMMAND"]

_LONG_DELAYS: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)

IMPORT_COMPLETED: Final = ConsumerSpec(
    durable="photos-import-completed",
    subject=subjects.IMPORT_COMPLETED,
    stream=subjects.STREAM_EVT,
    max_deliver=8,
    ack_wait=30.0,
    nack_delays=_LONG_DELAYS,
    long_running=True,
    concurrency=4,
    description="Media phase (photos, documents) of a completed import that asked for them.",
)
SYNC_COMMAND: Final = ConsumerSpec(
    durable="photos-sync",
    subject=subjects.PHOTOS_SYNC,
    stream=subjects.STREAM_CMD,
    max_deliver=8,
    ack_wait=30.0,
    nack_delays=_LONG_DELAYS,
    long_running=True,
    concurrency=4,
    description="Media retry: run the media phase again; what was synced stays.",
)
MERGED_BLOBS: Final = ConsumerSpec(
    durable="photos-merged-blobs",
    subject=subjects.CONTACTS_MERGED,
    stream=subjects.STREAM_EVT,
    max_deliver=6,
    ack_wait=30.0,
    nack_delays=(2.0, 10.0, 30.0, 60.0, 120.0),
    description="Delete the files of photos a merge dropped as duplicates.",
)
