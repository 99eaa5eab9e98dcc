"""Splitting and parsing a vCard file card by card (importer.md §12 Parsing).

`vobject.readComponents` aborts the whole file at the first bad card and misreports the line,
so the file is split on BEGIN:VCARD…END:VCARD first and each block goes to `vobject.readOne`
on its own: a bad card gives "card at line N: …" and the rest still import.

The split is lazy (`CardStream`): a block is unfolded and parsed only when the runner asks for
it, a step at a time in a worker thread, so a 20 MiB file never holds every parsed card in
memory and never blocks the importer's event loop while it is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import vobject

__all__ = [
    "Card",
    "CardStream",
    "Item",
    "ParsedFile",
    "decode",
    "parse_file",
]

_BEGIN: Final = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END: Final = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)
_LINES: Final = re.compile(r"([^\r\n]*)(\r\n|\r|\n|$)")


@dataclass(frozen=True, slots=True)
class Card:
    line: int  # the 1-based line of its BEGIN:VCARD in the file
    text: str  # the unfolded block
    component: Any  # the vobject component


@dataclass(frozen=True, slots=True)
class Item:
    """One thing the stream read: a card, a bad card's error, or text outside any card.

    `block` is True for a card and for a bad card: what the checkpoint counts, so a resumed
    import skips exactly the blocks a committed step already recorded.
    """

    block: bool
    card: Card | None = None
    error: str | None = None


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


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded lines with the number of their first physical line, lazily.

    RFC 6350 folding (a line starting with a space or tab continues the previous one) and
    vCard 2.1 QUOTED-PRINTABLE soft breaks (a line ending in `=`) are both joined.
    """
    current: tuple[int, str] | None = None
    joining_qp = False
    # Line by line (CRLF, CR or LF): no list or copy of every line, and no single C call
    # long enough to hold the GIL (and so the importer's loop) for a 20 MiB file.
    for number, found in enumerate(_LINES.finditer(text), start=1):
        raw, ending = found.groups()
        if not ending and not raw:
            break  # the empty match at the end of the text
        if current is not None and raw[:1] in (" ", "\t") and not joining_qp:
            current = (current[0], current[1] + raw[1:])
            continue
        if current is not None and joining_qp:
            current = (current[0], current[1][:-1] + raw)
        else:
            if current is not None:
                yield current
            current = (number, raw)
        line = current[1]
        joining_qp = "QUOTED-PRINTABLE" in line.upper().split(":", 1)[0] and line.endswith("=")
    if current is not None:
        yield current


class CardStream:
    """The cards of one decoded file, read a step at a time (importer.md §12).

    Not thread-safe, but one stream is only ever advanced by one `asyncio.to_thread` call at
    a time: the runner awaits each step before it asks for the next.
    """

    def __init__(self, text: str) -> None:
        self._items = _split(text)

    def take(self, blocks: int) -> list[Item]:
        """The next items, parsed, up to and including the `blocks`-th card or bad card."""
        out: list[Item] = []
        seen = 0
        for item in self._items:
            out.append(item if item.error is not None else _parse_block(item))
            seen += item.block
            if seen >= blocks:
                break
        return out

    def skip(self, blocks: int) -> None:
        """Pass over blocks a committed step already recorded, without parsing them."""
        seen = 0
        while seen < blocks:
            item = next(self._items, None)
            if item is None:
                return
            seen += item.block


@dataclass(frozen=True, slots=True)
class _Block(Item):
    start: int = 0
    lines: tuple[str, ...] = ()


def _split(text: str) -> Iterator[Item]:
    """Blocks (unparsed) and structural errors, in file order."""
    block: list[str] | None = None
    start = 0
    for number, line in _logical_lines(text):
        if _BEGIN.match(line):
            if block is not None:
                message = f"card at line {start}: no END:VCARD before the next card"
                yield Item(block=True, error=message)
            block, start = [line], number
        elif block is not None:
            block.append(line)
            if _END.match(line):
                yield _Block(block=True, start=start, lines=tuple(block))
                block = None
        elif line.strip():
            yield Item(block=False, error=f"line {number}: text outside a card, ignored")
    if block is not None:
        yield Item(block=True, error=f"card at line {start}: no END:VCARD")


def parse_file(data: bytes) -> ParsedFile:
    """Every card of a file at once (small files and the fuzz tests; the runner streams)."""
    text, latin1 = decode(data)
    result = ParsedFile(latin1=latin1)
    stream = CardStream(text)
    while items := stream.take(100):
        for item in items:
            if item.card is not None:
                result.cards.append(item.card)
            elif item.error is not None:
                result.errors.append(item.error)
    return result


def _parse_block(block: Item) -> Item:
    assert isinstance(block, _Block)
    body = "\r\n".join(block.lines) + "\r\n"
    try:
        component = vobject.readOne(body, ignoreUnreadable=False)
        _ = component.contents  # fail here, not later, on a broken structure
    except Exception as err:  # vobject raises many kinds; each is a readable card error
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        message = re.sub(r"^At line \d+:\s*", "", message)  # vobject's, relative to the block
        return Item(block=True, error=f"card at line {block.start}: {message[:200]}")
    return Item(block=True, card=Card(line=block.start, text=body, component=component))
