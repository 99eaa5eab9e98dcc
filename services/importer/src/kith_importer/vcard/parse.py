"""Splitting and parsing a vCard file card by card (importer.md §12 Parsing).

`vobject.readComponents` aborts the whole file at the first bad card and misreports the line,
so the file is split on BEGIN:VCARD…END:VCARD first and each block goes to `vobject.readOne`
on its own: a bad card gives "card at line N: …" and the rest still import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import vobject

__all__ = ["Card", "ParsedFile", "decode", "parse_file"]

_BEGIN: Final = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END: Final = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Card:
    line: int  # the 1-based line of its BEGIN:VCARD in the file
    text: str  # the unfolded block
    component: Any  # the vobject component


@dataclass
class ParsedFile:
    cards: list[Card] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    latin1: bool = False


def decode(data: bytes) -> tuple[str, bool]:
    """UTF-8 (BOM stripped), else Latin-1; the flag says the fallback was used."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("latin-1"), True


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded lines with the number of their first physical line.

    RFC 6350 folding (a line starting with a space or tab continues the previous one) and
    vCard 2.1 QUOTED-PRINTABLE soft breaks (a line ending in `=`) are both joined.
    """
    out: list[tuple[int, str]] = []
    joining_qp = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if out and raw[:1] in (" ", "\t") and not joining_qp:
            out[-1] = (out[-1][0], out[-1][1] + raw[1:])
            continue
        if out and joining_qp:
            out[-1] = (out[-1][0], out[-1][1][:-1] + raw)
        else:
            out.append((number, raw))
        current = out[-1][1]
        joining_qp = "QUOTED-PRINTABLE" in current.upper().split(":", 1)[0] and current.endswith(
            "="
        )
    return out


def parse_file(data: bytes) -> ParsedFile:
    text, latin1 = decode(data)
    result = ParsedFile(latin1=latin1)
    block: list[str] | None = None
    start = 0
    for number, line in _logical_lines(text):
        if _BEGIN.match(line):
            if block is not None:
                result.errors.append(f"card at line {start}: no END:VCARD before the next card")
            block, start = [line], number
        elif block is not None:
            block.append(line)
            if _END.match(line):
                _parse_block(result, start, block)
                block = None
        elif line.strip():
            result.errors.append(f"line {number}: text outside a card, ignored")
    if block is not None:
        result.errors.append(f"card at line {start}: no END:VCARD")
    return result


def _parse_block(result: ParsedFile, start: int, lines: list[str]) -> None:
    body = "\r\n".join(lines) + "\r\n"
    try:
        component = vobject.readOne(body, ignoreUnreadable=False)
        _ = component.contents  # fail here, not later, on a broken structure
    except Exception as err:  # vobject raises many kinds; each is a readable card error
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        message = re.sub(r"^At line \d+:\s*", "", message)  # vobject's, relative to the block
        result.errors.append(f"card at line {start}: {message[:200]}")
        return
    result.cards.append(Card(line=start, text=body, component=component))
