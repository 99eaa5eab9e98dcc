"""Preview equals result for generated merge pairs (dedup.md §5.4), property-based, bounded."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kith_common.db.models import (
    Address,
    ContactField,
    ContactTag,
    Note,
    Photo,
    Relationship,
    Reminder,
    Tag,
)
from kith_common.db.session import create_engine, session_factory
from kith_common.dedup.testing import Seeder, new_account
from kith_common.merge import merge_contacts, preview_merge

ADDRESSES = [("111 A St", "1"), (" 111 a  st", "1"), ("222 B St", "2")]
FIELDS = [
    ("Email", "a@x.com"),
    ("Email", "A@X.com"),
    ("Phone", "+12025550100"),
    ("Mobile", "+1 202 555 0100"),
    ("Phone", "N/A"),
]
HASHES = ["a" * 64, "b" * 64, "c" * 64]

side_st = st.fixed_dictionaries(
    {
        "notes": st.integers(0, 2),
        "addresses": st.lists(st.sampled_from(ADDRESSES), max_size=2),
        "fields": st.lists(st.sampled_from(FIELDS), max_size=3),
        "tags": st.sets(st.integers(0, 2), max_size=3),
        "photos": st.sets(st.sampled_from(HASHES), max_size=2),
        "birthday": st.booleans(),
        "friends": st.sets(st.sampled_from(["third", "other"]), max_size=2),
    }
)
choices_st = st.dictionaries(
    st.sampled_from(["first_name", "last_name", "company", "avatar", "birthdate"]),
    st.sampled_from(["survivor", "loser"]),
    max_size=3,
)


async def _side(
    seed: Seeder,
    cid: int,
    spec: dict[str, Any],
    tags: list[int],
    others: dict[str, int],
    friend: int,
) -> None:
    for n in range(spec["notes"]):
        await seed.row(Note, contact_id=cid, body=f"note {n}")
    for line1, postal in spec["addresses"]:
        await seed.address(cid, line1, postal)
    for type_name, value in spec["fields"]:
        await seed.field(cid, type_name, value)
    for t in spec["tags"]:
        await seed.row(ContactTag, contact_id=cid, tag_id=tags[t])
    for h in spec["photos"]:
        await seed.row(
            Photo,
            contact_id=cid,
            storage_key=f"a/{seed.account_id}/photos/{uuid.uuid4()}",
            content_type="image/png",
            size_bytes=1,
            content_hash=h,
        )
    if spec["birthday"]:
        await seed.row(
            Reminder, contact_id=cid, type="birthday", next_reminder_on=dt.date(2026, 1, 1)
        )
    for name in spec["friends"]:
        await seed.row(
            Relationship,
            contact_id=cid,
            related_contact_id=others[name],
            relationship_type_id=friend,
        )


async def _example(database_url: str, a_spec: Any, b_spec: Any, choices: Any) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            seed = await new_account(session)
            a = await seed.contact("Alice", "Smith", company="Old")
            b = await seed.contact("Alicia", "S.", company=None)
            others = {
                "third": await seed.contact("Third", "T"),
                "other": await seed.contact("Other", "O"),
            }
            tags = [await seed.row(Tag, name=f"t{n}") for n in range(3)]
            friend = await seed.relationship_type("Friend")
            await _side(seed, a, a_spec, tags, others, friend)
            await _side(seed, b, b_spec, tags, others, friend)
            await seed.row(
                Relationship, contact_id=b, related_contact_id=a, relationship_type_id=friend
            )
        async with sessions() as session, session.begin():
            preview = await preview_merge(
                session,
                account_id=seed.account_id,
                survivor_id=a,
                loser_id=b,
                field_choices=choices,
            )
        async with sessions() as session, session.begin():
            report = await merge_contacts(
                session,
                account_id=seed.account_id,
                survivor_id=a,
                loser_id=b,
                field_choices=choices,
                source="api",
            )
        assert report == preview
        async with sessions() as session:
            for model, kind in (
                (Note, "notes"),
                (Address, "addresses"),
                (ContactField, "contact_fields"),
                (Photo, "photos"),
                (Reminder, "reminders"),
                (Relationship, "relationships"),
            ):
                gone = report.dropped.get(kind, [])
                if gone:
                    left = await session.scalars(select(model.id).where(model.id.in_(gone)))
                    assert list(left) == [], kind
                on_b = await session.scalars(select(model.id).where(model.contact_id == b))
                assert list(on_b) == [], kind
            notes = len(list(await session.scalars(select(Note.id).where(Note.contact_id == a))))
            assert notes == a_spec["notes"] + b_spec["notes"]
    finally:
        await engine.dispose()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(a_spec=side_st, b_spec=side_st, choices=choices_st)
def test_preview_equals_result_for_generated_pairs(
    database_url: str, a_spec: Any, b_spec: Any, choices: Any
) -> None:
    asyncio.run(_example(database_url, a_spec, b_spec, choices))
