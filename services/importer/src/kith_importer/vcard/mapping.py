"""A parsed vCard → plain values for a Kith contact (importer.md §12 Mapping)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from kith_importer.vcard.parse import Card

__all__ = ["CardValues", "map_card", "source_id"]


@dataclass
class CardValues:
    first_name: str
    last_name: str | None = None
    nickname: str | None = None
    company: str | None = None
    job_title: str | None = None
    birthdate: dt.date | None = None
    birthdate_year_unknown: bool = False
    notes: list[str] = field(default_factory=list)
    emails: list[tuple[str, str | None]] = field(default_factory=list)  # (value, label)
    phones: list[tuple[str, str | None]] = field(default_factory=list)
    addresses: list[dict[str, str | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def source_id(card: Card) -> str:
    """The card's UID, else the sha256 of the normalised card (a re-import finds it again)."""
    uid = _first(card.component, "uid")
    if uid:
        return f"uid:{uid}"
    lines = sorted(
        line.strip()
        for line in card.text.splitlines()
        if line.strip() and not line.upper().startswith(("REV:", "PRODID:"))
    )
    return "sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = ",".join(str(v) for v in value if v)
    text = str(value).replace("\x00", "").strip() if value is not None else ""
    return text[:255] or None


def _first(component: Any, name: str) -> str | None:
    items = component.contents.get(name) or []
    return _text(items[0].value) if items else None


def _label(item: Any) -> str | None:
    kinds = [
        t for t in item.params.get("TYPE", []) if t.lower() not in ("internet", "pref", "voice")
    ]
    return kinds[0].lower()[:255] if kinds else None


def _bday(raw: str | None, out: CardValues) -> None:
    if not raw:
        return
    text = raw.strip()
    match = re.fullmatch(r"--(\d{2})-?(\d{2})", text)
    try:
        if match:  # year unknown (RFC 6350 --MMDD)
            out.birthdate = dt.date(2000, int(match[1]), int(match[2]))
            out.birthdate_year_unknown = True
            return
        digits = re.match(r"(\d{4})-?(\d{2})-?(\d{2})", text)
        if digits:
            out.birthdate = dt.date(int(digits[1]), int(digits[2]), int(digits[3]))
            return
    except ValueError:
        pass
    out.problems.append(f"BDAY: {text[:40]!r} is not a date")


def map_card(card: Card) -> CardValues:
    c = card.component
    first = last = None
    names = c.contents.get("n") or []
    if names and hasattr(names[0].value, "given"):
        first, last = _text(names[0].value.given), _text(names[0].value.family)
    if not first and not last:
        full = _first(c, "fn")
        if full:
            first, _, rest = full.partition(" ")
            last = rest.strip() or None
    out = CardValues(
        first_name=first or last or _first(c, "nickname") or "Unknown",
        last_name=last if first else None,
    )
    out.nickname = _first(c, "nickname")
    orgs = c.contents.get("org") or []
    if orgs:
        out.company = _text(
            orgs[0].value[0] if isinstance(orgs[0].value, list) and orgs[0].value else orgs[0].value
        )
    out.job_title = _first(c, "title")
    _bday(_first(c, "bday"), out)
    for note in c.contents.get("note") or []:
        text = str(note.value).replace("\x00", "").strip()
        if text:
            out.notes.append(text[:100_000])
    for email in c.contents.get("email") or []:
        value = _text(email.value)
        if value:
            out.emails.append((value, _label(email)))
    for tel in c.contents.get("tel") or []:
        value = _text(tel.value)
        if value:
            out.phones.append((value, _label(tel)))
    for adr in c.contents.get("adr") or []:
        v = adr.value
        line1 = _text(getattr(v, "street", None))
        city = _text(getattr(v, "city", None))
        country = _text(getattr(v, "country", None))
        address = {
            "label": _label(adr),
            "line1": line1,
            "city": city,
            "province": _text(getattr(v, "region", None)),
            "postal_code": _text(getattr(v, "code", None)),
            "country": country,
        }
        if any(address[k] for k in ("line1", "city", "postal_code", "province")):
            out.addresses.append(address)
    return out
