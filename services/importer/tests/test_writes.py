"""StepWrite: one statement writes a step's contacts, children, mappings and staging rows.

New rows get identity ids and are matched back to their input by order; these tests pin that
every child, tag and import_records row lands on the row it was queued for.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ContactFieldType,
    ContactTag,
    ImportRecord,
    ImportStaging,
    Tag,
)
from kith_importer.testing import create
from kith_importer.writes import CONTACT_COLUMNS, StepWrite

Sessions = async_sessionmaker[AsyncSession]
SOURCE = "monica_api:test"


def _contact(first: str) -> dict[str, object]:
    """Every column `contacts._scalars` fills: flags False, the rest empty but the names."""
    values: dict[str, object] = {
        name: False if kind == "boolean" else None for name, kind in CONTACT_COLUMNS.items()
    }
    return {**values, "first_name": first, "display_name": first}


async def test_children_tags_and_records_land_on_the_rows_they_were_queued_for(
    session_factory: Sessions, account: tuple[int, int]
) -> None:
    account_id = account[0]
    import_id = await create(session_factory, account, "https://monica.example")
    async with session_factory() as session, session.begin():
        old = Contact(account_id=account_id, first_name="Old", display_name="Old")
        tag = Tag(account_id=account_id, name="friends")
        session.add_all([old, tag])
        await session.flush()
        email = await session.scalar(
            select(ContactFieldType.id).where(ContactFieldType.key == "email")
        )
        assert email is not None
        write = StepWrite()
        names = ["Ann", "Bob", "Cyd"]
        new = {name: write.add_contact(_contact(name), f"m-{name}") for name in names}
        # Children queued out of contact order, one of them on the existing contact.
        for name in ("Cyd", "Ann", "Old", "Bob", "Ann"):
            owner = (old.id, None) if name == "Old" else (None, new[name])
            suffix = sum(1 for f in write.fields if f["value"].startswith(name.lower()))
            value = f"{name.lower()}{suffix}@example.org"
            write.add_field(
                owner,
                {"type_id": email, "value": value, "label": None, "match_key": value, "sid": value},
            )
            write.add_address(
                owner,
                {"line1": f"{name} street {suffix}", "sid": f"addr-{name}-{suffix}"},
            )
        write.add_tag((None, new["Bob"]), tag.id)
        write.add_tag((old.id, None), tag.id)
        write.record("contact", "m-Old", "contact", old.id)
        write.record("contact", "m-Old", "contact", old.id)  # the last one per key wins
        write.stage("seen", "m-Ann", {"note": "a\x00b"})
        ids = await write.execute(
            session, account_id=account_id, import_id=import_id, source=SOURCE
        )

    async with session_factory() as session:
        contacts = {
            c.id: c.first_name
            for c in await session.scalars(select(Contact).where(Contact.account_id == account_id))
        }
        assert [contacts[i] for i in ids] == names
        fields = (
            await session.execute(
                select(ContactField.id, ContactField.contact_id, ContactField.value).where(
                    ContactField.account_id == account_id
                )
            )
        ).all()
        assert sorted((contacts[c], v) for _, c, v in fields) == [
            ("Ann", "ann0@example.org"),
            ("Ann", "ann1@example.org"),
            ("Bob", "bob0@example.org"),
            ("Cyd", "cyd0@example.org"),
            ("Old", "old0@example.org"),
        ]
        addresses = (
            await session.execute(
                select(Address.id, Address.contact_id, Address.line1).where(
                    Address.account_id == account_id
                )
            )
        ).all()
        assert all(line1.startswith(contacts[c]) for _, c, line1 in addresses)
        records = {
            (r.source_entity_type, r.source_entity_id): r.local_entity_id
            for r in await session.scalars(
                select(ImportRecord).where(ImportRecord.account_id == account_id)
            )
        }
        field_ids = {v: i for i, _, v in fields}
        address_ids = {
            f"addr-{line1.split()[0]}-{line1.split()[-1]}": i for i, _, line1 in addresses
        }
        expected = {("contact", f"m-{n}"): i for n, i in zip(names, ids, strict=True)}
        expected[("contact", "m-Old")] = old.id
        expected.update({("contact_field", v): i for v, i in field_ids.items()})
        expected.update({("address", sid): i for sid, i in address_ids.items()})
        assert records == expected
        tagged = set(
            (
                await session.execute(
                    select(ContactTag.contact_id).where(ContactTag.account_id == account_id)
                )
            ).scalars()
        )
        assert {contacts[c] for c in tagged} == {"Bob", "Old"}
        staged = await session.scalar(
            select(ImportStaging.payload).where(
                ImportStaging.import_id == import_id, ImportStaging.kind == "seen"
            )
        )
        assert staged == {"note": "ab"}


async def test_an_empty_write_sends_nothing_and_returns_no_ids(
    session_factory: Sessions, account: tuple[int, int]
) -> None:
    async with session_factory() as session, session.begin():
        ids = await StepWrite().execute(session, account_id=account[0], import_id=1, source=SOURCE)
    assert ids == []
