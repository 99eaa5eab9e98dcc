"""The contacts display-name rule as the merge applies it (dedup.md §5.3 step 17).

data-model.md §3.3 wants one kith_common function for `contacts.display_name`; none existed
when the merge was written, so this is it: first and last name, stripped, joined by one
space; the nickname when both are blank; the first name (never empty in practice) otherwise.
"""

from __future__ import annotations

__all__ = ["display_name"]


def display_name(first_name: str | None, last_name: str | None, nickname: str | None = None) -> str:
    """`"First Last"`; blank parts skipped; falls back to the nickname, then `first_name`."""
    parts = [" ".join(p.split()) for p in (first_name, last_name) if p and p.strip()]
    if parts:
        return " ".join(parts)
    if nickname and nickname.strip():
        return " ".join(nickname.split())
    return first_name or ""
