"""Duplicate candidates for readers and reviewers (dedup.md §4): pages, counts, dismissal.

Detection itself runs in the dedup service; this is what the gateway calls in its request
transaction.
"""

from kith_common.dedup.candidates import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadCursor,
    CandidatePage,
    CandidateView,
    ContactSummary,
    contact_candidates,
    count_candidates,
    decode_cursor,
    dismiss_candidate,
    encode_cursor,
    list_candidates,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "BadCursor",
    "CandidatePage",
    "CandidateView",
    "ContactSummary",
    "contact_candidates",
    "count_candidates",
    "decode_cursor",
    "dismiss_candidate",
    "encode_cursor",
    "list_candidates",
]
