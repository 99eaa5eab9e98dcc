"""The schema's own guards, on the migrated database (data-model.md §1, §3, §4, §5)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.db.models import (
    Account,
    AccountReset,
    Contact,
    ContactField,
    ContactFieldType,
    Gender,
    Import,
    LifeEventType,
    Photo,
    RelationshipType,
    Reminder,
    ReminderRule,
    User,
)

from .conftest import AccountFactory

Factory = async_sessionmaker[AsyncSession]
HASH = "0" * 64


async def _contact(factory: Factory, account: Account, **kw: object) -> Contact:
    async with factory() as session, session.begin():
        contact = Contact(account_id=account.id, first_name="Ada", display_name="Ada", **kw)
        session.add(contact)
    return contact


async def _type_id(session: AsyncSession, key: str) -> int:
    type_id = await session.scalar(select(ContactFieldType.id).where(ContactFieldType.key == key))
    assert type_id is not None
    return type_id


async def test_contact_field_cannot_point_at_another_accounts_contact(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    mine, theirs = await make_account(), await make_account()
    their_contact = await _contact(session_factory, theirs)

    async with session_factory() as session:
        email = await _type_id(session, "email")
        session.add(
            ContactField(
                account_id=mine.id,
                contact_id=their_contact.id,
                contact_field_type_id=email,
                value="ada@example.com",
            )
        )
        with pytest.raises(IntegrityError, match="fk_contact_fields_account_id_contact_id"):
            await session.flush()


async def test_same_account_contact_field_is_accepted(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    contact = await _contact(session_factory, account)
    async with session_factory() as session, session.begin():
        field = ContactField(
            account_id=account.id,
            contact_id=contact.id,
            contact_field_type_id=await _type_id(session, "mobile"),
            value="+442071838750",
        )
        session.add(field)
    assert field.id is not None


EXPECTED_KINDS = {
    "email": "email",
    "phone": "phone",
    "mobile": "phone",
    "work_phone": "phone",
    "fax": "phone",
    "website": "url",
    "twitter": "social",
    "facebook": "social",
    "linkedin": "social",
    "instagram": "social",
    "telegram": "social",
    "whatsapp": "social",
    "impp": "impp",
}


async def test_seeded_contact_field_types_have_keys_and_computed_kinds(
    session_factory: Factory,
) -> None:
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(
                    ContactFieldType.key,
                    ContactFieldType.kind,
                    ContactFieldType.position,
                    ContactFieldType.account_id,
                )
                .where(ContactFieldType.key.is_not(None))
                .order_by(ContactFieldType.position)
            )
        ).all()
    assert {key: kind for key, kind, _, _ in rows} == EXPECTED_KINDS
    assert [position for _, _, position, _ in rows] == list(range(13))
    assert {account_id for *_, account_id in rows} == {None}


async def test_seeded_reference_rows_exist_with_keys(session_factory: Factory) -> None:
    async with session_factory() as session:
        genders = (
            await session.scalars(
                select(Gender.name).where(Gender.account_id.is_(None)).order_by(Gender.position)
            )
        ).all()
        parent = await session.scalar(
            select(RelationshipType).where(RelationshipType.key == "parent")
        )
        life_events = (
            await session.execute(
                select(LifeEventType.key, LifeEventType.category).where(
                    LifeEventType.account_id.is_(None)
                )
            )
        ).all()
    assert genders == ["Male", "Female", "Non-binary", "Other"]
    assert parent is not None
    assert (parent.name, parent.reverse_name) == ("Parent", "Child")
    assert len(life_events) == 18
    assert ("graduation", "education") in life_events


@pytest.mark.parametrize(
    ("protocol", "kind"),
    [(None, "other"), ("http://", "url"), ("https://mastodon.social/@", "social")],
)
async def test_account_contact_field_type_kind_follows_protocol(
    session_factory: Factory, make_account: AccountFactory, protocol: str | None, kind: str
) -> None:
    account = await make_account()
    async with session_factory() as session, session.begin():
        row = ContactFieldType(account_id=account.id, name="Custom", protocol=protocol)
        session.add(row)
    assert row.kind == kind


async def test_protocol_spelling_is_checked(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    async with session_factory() as session:
        session.add(ContactFieldType(account_id=account.id, name="Bad", protocol="tel"))
        with pytest.raises(IntegrityError, match="ck_contact_field_types_protocol"):
            await session.flush()


def _import(account: Account, status: str = "pending") -> Import:
    return Import(
        account_id=account.id, source="vcard", generation=account.generation, status=status
    )


@pytest.mark.parametrize("first_status", ["pending", "processing", "cancelling"])
async def test_second_live_import_is_refused(
    session_factory: Factory, make_account: AccountFactory, first_status: str
) -> None:
    account = await make_account()
    async with session_factory() as session, session.begin():
        session.add(_import(account, first_status))

    async with session_factory() as session:
        session.add(_import(account))
        with pytest.raises(IntegrityError, match="uq_imports_account_id_live"):
            await session.flush()


async def test_finished_import_frees_the_live_slot(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account, other = await make_account(), await make_account()
    async with session_factory() as session, session.begin():
        session.add_all([_import(account, "cancelled"), _import(account, "completed")])
        session.add(_import(other))
    async with session_factory() as session, session.begin():
        session.add(_import(account))


async def test_api_key_cannot_outlive_the_phases_that_need_it(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    async with session_factory() as session:
        row = _import(account, "completed")
        row.api_key_encrypted = b"sealed"
        session.add(row)
        with pytest.raises(IntegrityError, match="ck_imports_api_key_needed"):
            await session.flush()


@pytest.mark.parametrize(
    "key",
    [
        "photos/x.jpg",
        "a/{other}/photos/x.jpg",
        "a/{id}photos/x.jpg",
        # account 1 must not write under account 12's prefix, nor 12 under 1's
        "a/{id}0/photos/x.jpg",
    ],
)
async def test_photo_storage_key_must_be_under_the_account_prefix(
    session_factory: Factory, make_account: AccountFactory, key: str
) -> None:
    account, other = await make_account(), await make_account()
    contact = await _contact(session_factory, account)
    async with session_factory() as session:
        session.add(
            Photo(
                account_id=account.id,
                contact_id=contact.id,
                storage_key=key.format(id=account.id, other=other.id),
                content_type="image/jpeg",
                size_bytes=1,
                content_hash=HASH,
            )
        )
        with pytest.raises(IntegrityError, match="ck_photos_storage_key_prefix"):
            await session.flush()


async def test_photo_under_the_account_prefix_is_accepted(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    contact = await _contact(session_factory, account)
    async with session_factory() as session, session.begin():
        session.add(
            Photo(
                account_id=account.id,
                contact_id=contact.id,
                storage_key=f"a/{account.id}/photos/x.jpg",
                content_type="image/jpeg",
                size_bytes=1,
                content_hash=HASH,
            )
        )


async def test_photo_content_hash_must_be_lowercase_sha256_hex(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    contact = await _contact(session_factory, account)
    async with session_factory() as session:
        session.add(
            Photo(
                account_id=account.id,
                contact_id=contact.id,
                storage_key=f"a/{account.id}/photos/y.jpg",
                content_type="image/jpeg",
                size_bytes=1,
                content_hash="A" * 64,
            )
        )
        with pytest.raises(IntegrityError, match="ck_photos_content_hash"):
            await session.flush()


async def test_deleting_the_avatar_photo_nulls_only_the_reference(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    contact = await _contact(session_factory, account)
    async with session_factory() as session, session.begin():
        photo = Photo(
            account_id=account.id,
            contact_id=contact.id,
            storage_key=f"a/{account.id}/photos/avatar.jpg",
            content_type="image/jpeg",
            size_bytes=1,
            content_hash=HASH,
        )
        session.add(photo)
        await session.flush()
        await session.execute(
            text("UPDATE contacts SET avatar_photo_id = :p WHERE id = :c"),
            {"p": photo.id, "c": contact.id},
        )
    async with session_factory() as session, session.begin():
        await session.execute(delete(Photo).where(Photo.id == photo.id))
    async with session_factory() as session:
        row = (
            await session.execute(
                select(Contact.account_id, Contact.avatar_photo_id).where(Contact.id == contact.id)
            )
        ).one()
    assert tuple(row) == (account.id, None)


async def test_one_birthday_reminder_per_contact(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    contact = await _contact(session_factory, account)

    def birthday() -> Reminder:
        return Reminder(
            account_id=account.id,
            contact_id=contact.id,
            type="birthday",
            next_reminder_on=dt.date(2030, 1, 1),
        )

    async with session_factory() as session, session.begin():
        session.add(birthday())
    async with session_factory() as session:
        session.add(birthday())
        with pytest.raises(IntegrityError, match="uq_reminders_contact_id_birthday"):
            await session.flush()


async def test_one_running_reset_per_account(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()

    def running() -> AccountReset:
        return AccountReset(account_id=account.id, status="running", stage="accepted", generation=2)

    async with session_factory() as session, session.begin():
        session.add(running())
    async with session_factory() as session:
        session.add(running())
        with pytest.raises(IntegrityError, match="uq_account_resets_account_id_running"):
            await session.flush()


async def test_new_account_has_generation_one_and_default_rules(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    async with session_factory() as session:
        days = (
            await session.scalars(
                select(ReminderRule.days_before).where(ReminderRule.account_id == account.id)
            )
        ).all()
        user = await session.scalar(select(User).where(User.account_id == account.id))
    assert account.generation == 1
    assert sorted(days) == [0, 7, 30]
    assert user is not None
    assert user.role == "admin"


async def test_same_day_reminder_rule_cannot_be_deactivated(
    session_factory: Factory, make_account: AccountFactory
) -> None:
    account = await make_account()
    async with session_factory() as session:
        with pytest.raises(IntegrityError, match="ck_reminder_rules_same_day_rule_active"):
            await session.execute(
                text(
                    "UPDATE reminder_rules SET active = false"
                    " WHERE account_id = :a AND days_before = 0"
                ),
                {"a": account.id},
            )
