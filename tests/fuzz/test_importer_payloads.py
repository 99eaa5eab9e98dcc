"""Fuzzing the importer with hypothesis-generated Monica payloads (issue #9).

Real Monica objects (rendered by the fake Monica from a generated world) have their fields
replaced by arbitrary JSON values: wrong types, NUL bytes, huge numbers, nested junk, missing
keys. A user notices two things: the import does not crash on one bad contact, and the errors
it reports are sentences naming the contact and the field, not Python tracebacks. The vCard
parser gets arbitrary bytes and mangled cards with the same expectations.

Bounded for CI (max_examples ≤ 50); `KITH_FUZZ_EXAMPLES=2000` for a long run by hand.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.accounts import create_account
from kith_common.db.models import Import
from kith_common.testing.fake_monica import generate
from kith_common.testing.fake_monica.world import render_contact, render_item
from kith_importer.contacts import CrawlScope, import_contacts
from kith_importer.misc.mappers import MISC_TYPES, map_item
from kith_importer.reference import ReferenceMap
from kith_importer.vcard.mapping import map_card
from kith_importer.vcard.parse import parse_file

EXAMPLES = min(int(os.environ.get("KITH_FUZZ_EXAMPLES", "40")), 10_000)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
BASE = "http://monica.test"
WORLD = generate(
    contacts=30, seed=5, partial_ratio=0.2, misc_per_contact=2.0, relationship_ratio=0.3
)
CONTACTS = [render_contact(WORLD, c, BASE, with_fields=True) for c in WORLD.contacts.values()]
ENDPOINT = {t.entity: t.endpoint.strip("/") for t in MISC_TYPES}
MISC = {
    kind: [render_item(WORLD, endpoint, i, BASE) for i in WORLD.items.get(endpoint, [])]
    for kind, endpoint in ENDPOINT.items()
}

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.sampled_from(["", "\x00", "1999-02-31", "0000-00-00", "9999-99-99T99:99:99Z", "a" * 5000]),
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a nested Monica object (so nested fields get fuzzed too)."""
    paths: list[tuple[str, ...]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            path = (*prefix, key)
            paths.append(path)
            paths.extend(_paths(inner, path))
    return paths


def _mutate(obj: dict[str, Any], path: tuple[str, ...], value: Any, drop: bool) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    *parents, last = path
    node: Any = out
    for part in parents:
        node = node[part]
    if drop:
        node.pop(last, None)
    else:
        node[last] = value
    return out


@st.composite
def _broken(draw: st.DrawFn, originals: list[dict[str, Any]]) -> dict[str, Any]:
    obj = draw(st.sampled_from(originals))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(obj)
        if not paths:
            break
        obj = _mutate(obj, draw(st.sampled_from(paths)), draw(_json), draw(st.booleans()))
    return obj


def _readable(message: Any) -> None:
    assert isinstance(message, str)
    assert message.strip()
    assert "Traceback" not in message
    assert "object at 0x" not in message


@pytest.mark.parametrize("kind", [t.entity for t in MISC_TYPES])
def test_misc_mappers_turn_any_item_into_values_or_a_readable_problem(kind: str) -> None:
    originals = MISC[kind] or [{"id": 1, "object": kind}]

    @FUZZ
    @given(item=_broken(originals))
    def check(item: dict[str, Any]) -> None:
        mapped = map_item(kind, item, tz="Europe/Paris", today=dt.date(2026, 11, 28))
        for problem in mapped.problems.items:
            _readable(problem)
        if mapped.skip is not None:
            _readable(mapped.skip)
        assert all(isinstance(c, int) for c in mapped.contacts)

    check()


async def test_any_monica_contact_imports_or_reports_a_readable_error(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        account, user = await create_account(
            session, name="Fuzz", email=f"fuzz-{uuid.uuid4().hex[:10]}@example.com"
        )
        row = Import(
            account_id=account.id,
            user_id=user.id,
            source="monica_api",
            generation=account.generation,
            status="processing",
        )
        session.add(row)
        await session.flush()
        scope = CrawlScope(account.id, row.id, user.id, "monica_api:fuzz", "FR")
    refmap = ReferenceMap(account.id)
    found: list[dict[str, Any]] = []

    @FUZZ
    @given(batch=st.lists(_broken(CONTACTS), min_size=1, max_size=3))
    def collect(batch: list[dict[str, Any]]) -> None:
        found.append({"batch": batch})

    collect()
    for example in found:
        async with session_factory() as session, session.begin():
            outcomes = await import_contacts(session, scope, refmap, example["batch"])
        assert len(outcomes) == len(example["batch"])
        for outcome in outcomes:
            for error in outcome.errors:
                _readable(error)
                assert ": " in error  # "<contact label>: <field>: <problem>"


@FUZZ
@given(data=st.binary(max_size=2000))
def test_vcard_parser_accepts_any_bytes(data: bytes) -> None:
    parsed = parse_file(data)
    for card in parsed.cards:
        map_card(card)
    for error in parsed.errors:
        _readable(error)


_CARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n"
    "TEL;TYPE=CELL:+33 6 12 34 56 78\r\n"
    "EMAIL:ann@example.com\r\nBDAY:1990-02-03\r\nADR;TYPE=HOME:;;1 rue X;Paris;;75001;France\r\n"
    "END:VCARD\r\n"
)


@FUZZ
@given(
    cut=st.integers(min_value=0, max_value=len(_CARD)),
    junk=st.text(max_size=80),
    where=st.integers(min_value=0, max_value=len(_CARD)),
)
def test_mangled_vcards_parse_or_report_readable_problems(cut: int, junk: str, where: int) -> None:
    text = _CARD[:where] + junk + _CARD[where:cut] if cut > where else _CARD[:where] + junk
    parsed = parse_file(text.encode("utf-8", "surrogatepass"))
    for card in parsed.cards:
        map_card(card)
    for error in parsed.errors:
        _readable(error)
