"""Stored value and match key of contact fields and addresses, for every writer (dedup.md §2).

The gateway, the Monica and vCard imports, merge and the renormalize backfill all call
`prepare` and write the value and the key it returns together, so a row's `match_key` always
corresponds to its `value`. The field's behaviour follows its type's `kind`
(contact_field_types.kind, data-model §3.2), never a `LIKE` on the protocol; `kind_for_protocol`
mirrors the database's generated column and `normalize_protocol` gives the one spelling per
scheme its CHECK accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from kith_common import matchkeys, phones

__all__ = [
    "FIELD_KINDS",
    "EmptyFieldValue",
    "FieldKind",
    "InvalidProtocol",
    "PreparedField",
    "kind_for_protocol",
    "normalize_protocol",
    "prepare",
    "prepare_address",
]

FieldKind = Literal["email", "phone", "impp", "url", "social", "other"]
FIELD_KINDS: Final[frozenset[str]] = frozenset({"email", "phone", "impp", "url", "social", "other"})

# data-model §3.2: protocol IN ('mailto:', 'tel:', 'impp:') OR protocol ~ '^https?://'
_SCHEME_PROTOCOLS: Final[dict[str, str]] = {"tel": "tel:", "mailto": "mailto:", "impp": "impp:"}
_PROTOCOL_KINDS: Final[dict[str, FieldKind]] = {
    "mailto:": "email",
    "tel:": "phone",
    "impp:": "impp",
    "https://": "url",
    "http://": "url",
}
_URL_PREFIX: Final = re.compile(r"https?://")
_URL_PREFIX_ANY_CASE: Final = re.compile(r"https?://", re.IGNORECASE)


class EmptyFieldValue(ValueError):
    """The value is blank once stripped; contact_fields has CHECK (btrim(value) <> '')."""


class InvalidProtocol(ValueError):
    """Not a protocol contact_field_types accepts (tel, mailto, impp or an http(s) URL)."""


@dataclass(frozen=True, slots=True)
class PreparedField:
    """What to write to contact_fields: `value` and its `match_key`, always together."""

    value: str
    match_key: str | None


def prepare(kind: str | None, value: str | None, region: str | None = None) -> PreparedField:
    """The stored value and match key of a contact field of type kind `kind`.

    Args:
        kind: the field type's `kind` column; None is read as "other".
        value: the value as typed or imported.
        region: default phone region for numbers without a `+` (gateway: the account
            locale's; Monica import: its phone_default_region; vCard: its region option).
            Ignored for other kinds.

    Returns:
        phone: value `phones.normalize(value, region)` (E.164 when possible), key
        `phones.match_key` (valid numbers only). email: stripped value, key
        `matchkeys.email_key`. Any other kind: stripped value, no key.

    Raises:
        EmptyFieldValue: the value is None or blank (for a phone, also a bare "tel:").
        ValueError: `kind` is not one of `FIELD_KINDS` (a caller bug, not user input).
    """
    kind = kind or "other"
    if kind not in FIELD_KINDS:
        msg = f"unknown contact field kind {kind!r}"
        raise ValueError(msg)
    if kind == "phone":
        stored = phones.normalize(value, region)
        key = phones.match_key(value, region)
    else:
        stored = value.strip() if value is not None else None
        key = matchkeys.email_key(stored) if kind == "email" else None
    if not stored:
        msg = "contact field value is blank"
        raise EmptyFieldValue(msg)
    return PreparedField(value=stored, match_key=key)


def prepare_address(line1: str | None, postal_code: str | None) -> str | None:
    """addresses.match_key for a row with this line1 and postal code (`matchkeys.address_key`)."""
    return matchkeys.address_key(line1, postal_code)


def normalize_protocol(user_input: str | None) -> str | None:
    """The one spelling of a contact field type's protocol that the database accepts.

    `tel`, `mailto`, `impp`, with or without the colon and in any case, become `tel:`,
    `mailto:`, `impp:`. An http(s) URL prefix is kept as given, except that its scheme is
    lower-cased (the database's `^https?://` check is case-sensitive). Blank → None (kind
    "other").

    Raises:
        InvalidProtocol: anything else (e.g. "skype:", "ftp://"), which the CHECK refuses.
    """
    if user_input is None:
        return None
    text = user_input.strip()
    if not text:
        return None
    scheme = text.lower().removesuffix(":")
    if scheme in _SCHEME_PROTOCOLS:
        return _SCHEME_PROTOCOLS[scheme]
    url = _URL_PREFIX_ANY_CASE.match(text)
    if url is not None:
        return url.group(0).lower() + text[url.end() :]
    msg = f"unsupported protocol {text!r}: use tel, mailto, impp or an http(s):// URL prefix"
    raise InvalidProtocol(msg)


def kind_for_protocol(protocol: str | None) -> FieldKind:
    """contact_field_types.kind for a stored protocol, as the generated column computes it.

    mailto: → email, tel: → phone, impp: → impp, exactly `https://` or `http://` → url, a
    longer http(s) prefix → social, NULL (or anything the CHECK would refuse) → other.
    Case-sensitive, like the column: pass protocols through `normalize_protocol` first.
    """
    if protocol is None:
        return "other"
    if protocol in _PROTOCOL_KINDS:
        return _PROTOCOL_KINDS[protocol]
    if _URL_PREFIX.match(protocol):
        return "social"
    return "other"
