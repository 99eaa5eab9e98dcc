"""The vCard card count, shared by the gateway's upload check and the importer's total.

`KITH_VCARD_MAX_CARDS` caps cards, not bytes (`KITH_MAX_UPLOAD_MB` caps bytes): 20 MiB of tiny
cards is hundreds of thousands of contacts. Counting `BEGIN:VCARD` lines costs two C-speed
passes, so the gateway can refuse an oversized file at upload time, before it is stored.
"""

from __future__ import annotations

__all__ = ["count_cards", "too_many_cards"]


def count_cards(data: bytes) -> int:
    """How many cards a file opens, without parsing any; bad blocks count too.

    `BEGIN:VCARD` at the start of the file or of a line (LF, CRLF or a lone CR), any case.
    Plain `bytes.count` passes: 20 MiB in ~30 ms, where a regex took 400 ms, all of it
    holding the GIL (so the importer's loop, even from a worker thread).
    """
    upper = data.removeprefix(b"\xef\xbb\xbf").upper()
    return (
        upper.startswith(b"BEGIN:VCARD")
        + upper.count(b"\nBEGIN:VCARD")
        + upper.count(b"\rBEGIN:VCARD")
    )


def too_many_cards(count: int, cap: int) -> str | None:
    """The readable refusal for a file over the cap, or None when it fits."""
    if count <= cap:
        return None
    return (
        f"the file holds {count} cards; at most {cap} are imported from one file "
        "(split it, or raise KITH_VCARD_MAX_CARDS)"
    )
