"""Duplicate match keys: the only place email, phone and address keys are derived (dedup.md §2).

Full and incremental dedup runs, merge and the importer's auto-merge all compare these keys,
so they agree by construction. Keys are pure functions of their inputs and of
`KEY_VERSION`; a value that cannot identify anyone (blank, invalid number) has no key (None),
and None never matches.
"""

from __future__ import annotations

from typing import Final

import phonenumbers

from kith_common import phones

__all__ = [
    "ADDRESS_KEY_SEPARATOR",
    "KEY_VERSION",
    "RULES_REVISION",
    "address_key",
    "email_key",
    "phone_key",
]

RULES_REVISION: Final = "1"
"""Bump whenever a key rule here or in `kith_common.phones` changes what a key is."""

KEY_VERSION: Final = f"phonenumbers-{phonenumbers.__version__}+rules-{RULES_REVISION}"
"""Stored per account in dedup_key_state; a difference triggers the renormalize backfill.

The phonenumbers version is part of it because new metadata can make numbers valid or
invalid, which adds or removes phone keys.
"""

ADDRESS_KEY_SEPARATOR: Final = "\x1f"
"""ASCII unit separator between line1 and postal code; `str.split()` treats it as whitespace,
so it can never survive inside a part."""


def email_key(value: str | None) -> str | None:
    """Outer Unicode whitespace stripped, lower-cased; blank → None."""
    if value is None:
        return None
    return value.strip().lower() or None


def phone_key(value: str | None, default_region: str | None = None) -> str | None:
    """E.164 of a valid number, else None; see `kith_common.phones.match_key`."""
    return phones.match_key(value, default_region)


def _address_part(part: str | None) -> str:
    return " ".join(part.split()).lower() if part else ""


def address_key(line1: str | None, postal_code: str | None) -> str | None:
    """`line1` + U+001F + `postal_code`, each stripped, space-collapsed and lower-cased.

    None when either part is then empty: a postal code alone, or a street alone, is not
    enough to call two contacts the same.
    """
    street = _address_part(line1)
    postal = _address_part(postal_code)
    if not street or not postal:
        return None
    return f"{street}{ADDRESS_KEY_SEPARATOR}{postal}"
