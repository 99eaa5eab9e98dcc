"""Deterministic seed data for the fake Monica (importer.md §14): the same arguments always give
the same world, ids, bursts and therefore the same tie drops.

Contacts are created in `created_at` bursts (API §11.1: vCard imports, CardDAV storms) with
near-consecutive ids, optionally with bursts larger than a listing page (`large_bursts`);
`id_density` < 1 interleaves other tenants' contacts (account 2) into the shared id sequence, so
one account's ids are sparse and a direct GET of a gap answers 404; `id_spread` does the same
for a hosted Monica (ids a hundred times sparser) without materialising the other tenants.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kith_common.testing.fake_monica.world import Contact, World

__all__ = ["GeneratorOptions", "generate", "png_bytes"]

_FIRST = [
    "Ann",
    "Ben",
    "Cara",
    "Dan",
    "Eve",
    "Finn",
    "Gil",
    "Hana",
    "Ivo",
    "Jade",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Oto",
    "Pia",
    "Quin",
    "Rui",
    "Sol",
    "Tia",
    "Uma",
    "Vic",
    "Wes",
    "Xia",
    "Yan",
    "Zoe",
]
_LAST = [
    "Lee",
    "Kim",
    "Ng",
    "Diaz",
    "Berg",
    "Costa",
    "Novak",
    "Sato",
    "Moreau",
    "Okafor",
    "Silva",
    "Weber",
    "Rossi",
    "Haddad",
    "Larsen",
    "Ivanova",
]
_GARBAGE_PHONES = ["12", "call me", "000", "n/a", "+1 (555)"]
_CITIES = [
    ("Paris", "France", "FR"),
    ("Berlin", "Germany", "DE"),
    ("Boston", "United States", "US"),
]


@dataclass(frozen=True)
class GeneratorOptions:
    """Ratios are of the `contacts` count; bursts are sampled from `burst_sizes`."""

    contacts: int = 300
    seed: int = 1
    account_id: int = 1
    token: str = "test-token"  # noqa: S105  # the fake's seeded token
    partial_ratio: float = 0.05
    inactive_ratio: float = 0.02
    other_book_ratio: float = 0.0
    duplicate_ratio: float = 0.03
    garbage_phone_ratio: float = 0.03
    deleted_ratio: float = 0.0
    id_density: float = 1.0
    # Hosted-id mode: the account's ids spread over a range this many times larger than its
    # contacts, as on a hosted Monica whose id sequence every tenant shares. The ids between
    # belong to no contact of the world, so a direct GET of one answers 404 like another
    # tenant's would (and the world stays small: nothing is materialised for them).
    id_spread: int = 1
    burst_sizes: tuple[int, ...] = (1, 1, 1, 1, 2, 3, 8, 14, 20)
    # Bursts larger than one listing page (API §11.1 at its worst: a vCard import into Monica):
    # each size given is one more burst, placed at a seeded point among the others.
    large_bursts: tuple[int, ...] = ()
    notes_per_contact: float = 1.0
    relationship_ratio: float = 0.1
    misc_per_contact: float = 0.0
    photos: int = 0
    documents: int = 0


def png_bytes(rgb: tuple[int, int, int], size: int = 4) -> bytes:
    """A real, decodable PNG of one colour (no image library needed)."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(options: GeneratorOptions | None = None, **overrides: Any) -> World:
    """A world for account `options.account_id` reachable with `options.token`."""
    opts = options or GeneratorOptions(**overrides)
    rng = random.Random(opts.seed)
    world = World(seed=opts.seed)
    world.add_user(opts.token, account_id=opts.account_id)
    world.tags = [{"id": i + 1, "name": n} for i, n in enumerate(["Family", "work", "Friends"])]
    clock = dt.datetime(2021, 3, 1, 9, 0, 0, tzinfo=dt.UTC)
    listed: list[Contact] = []
    for size in _bursts(rng, opts):
        clock += dt.timedelta(minutes=rng.randint(1, 600))
        stamp = _ts(clock)
        for _ in range(size):
            while opts.id_density < 1.0 and rng.random() > opts.id_density:
                other = world.add_contact(account_id=opts.account_id + 1, first_name="Other")
                other.created_at = other.updated_at = stamp
            if opts.id_spread > 1:
                world.next_id += rng.randint(0, 2 * (opts.id_spread - 1))
            contact = _person(world, rng, opts, stamp)
            listed.append(contact)
    _shape(world, rng, opts, listed)
    return world


def _bursts(rng: random.Random, opts: GeneratorOptions) -> Iterator[int]:
    """Burst sizes adding up to `opts.contacts`, the large ones at seeded points.

    The large ones are placed with a random stream of their own, so a world without them is
    drawn exactly as before they existed (same seed, same world, same drops).
    """
    placer = random.Random(f"large-bursts:{opts.seed}")
    large = [min(size, opts.contacts) for size in opts.large_bursts]
    room = max(0, opts.contacts - sum(large))
    at = sorted(placer.randint(0, room) for _ in large)
    made = 0
    while made < opts.contacts:
        if large and (made >= at[0] or made >= opts.contacts - sum(large)):
            at.pop(0)
            size = min(large.pop(0), opts.contacts - made)
        else:
            size = min(rng.choice(opts.burst_sizes), opts.contacts - made - sum(large))
        made += size
        yield size


def _person(world: World, rng: random.Random, opts: GeneratorOptions, stamp: str) -> Contact:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    contact = world.add_contact(
        account_id=opts.account_id,
        first_name=first,
        last_name=last if rng.random() > 0.05 else None,
        nickname=first[:2] if rng.random() < 0.1 else None,
        description="met at work" if rng.random() < 0.2 else None,
        gender_id=rng.choice([1, 2, 3, None]),
        is_starred=rng.random() < 0.1,
        job="Engineer" if rng.random() < 0.3 else None,
        company="Acme" if rng.random() < 0.3 else None,
        created_at=stamp,
        updated_at=stamp,
    )
    if rng.random() < 0.4:
        year_unknown = rng.random() < 0.3
        contact.birthdate = {
            "is_age_based": rng.random() < 0.1,
            "is_year_unknown": year_unknown,
            "date": f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}T00:00:00Z",
        }
    if rng.random() < 0.8:
        _add_field(world, contact, 1, f"{first.lower()}.{contact.id}@example.org")
    if rng.random() < 0.6:
        garbage = rng.random() < opts.garbage_phone_ratio
        number = rng.choice(_GARBAGE_PHONES) if garbage else f"+1 202 555 {contact.id % 10000:04d}"
        _add_field(world, contact, 2, number, labels=["mobile"])
    if rng.random() < 0.3:
        city, country, iso = rng.choice(_CITIES)
        contact.addresses.append(
            {
                "id": 10_000_000 + contact.id,
                "name": "home",
                "street": f"{contact.id} Main Street",
                "city": city,
                "province": None,
                "postal_code": f"{10000 + contact.id}",
                "latitude": None,
                "longitude": None,
                "country": {"id": 1, "object": "country", "name": country, "iso": iso.lower()},
            }
        )
    if rng.random() < 0.3:
        contact.tag_ids.append(rng.choice(world.tags)["id"])
    return contact


def _add_field(
    world: World, contact: Contact, type_id: int, content: str, labels: list[str] | None = None
) -> None:
    field_id = 20_000_000 + len(contact.fields) * 1_000_000 + contact.id
    contact.fields.append(
        {"id": field_id, "type_id": type_id, "content": content, "labels": labels or []}
    )


def _shape(world: World, rng: random.Random, opts: GeneratorOptions, people: list[Contact]) -> None:
    """Turn some listed contacts into partials, inactive, other-book, duplicates; add items."""
    count = len(people)
    pool = list(people)
    rng.shuffle(pool)

    def take(ratio: float) -> list[Contact]:
        n = round(count * ratio)
        chosen, pool[:] = pool[:n], pool[n:]
        return chosen

    for contact in take(opts.partial_ratio):
        contact.is_partial = True
        contact.fields.clear()
        contact.addresses.clear()
        contact.tag_ids.clear()
    partials = [c for c in people if c.is_partial]
    for contact in take(opts.inactive_ratio):
        contact.is_active = False
    for contact in take(opts.other_book_ratio):
        contact.address_book = "work"
    for contact in take(opts.deleted_ratio):
        contact.deleted = True
    full = [c for c in people if not c.is_partial and not c.deleted]
    for copy in take(opts.duplicate_ratio):
        if copy.is_partial or copy.deleted:
            continue
        original = rng.choice(full)
        if original is copy:
            continue
        copy.first_name, copy.last_name = original.first_name, original.last_name
        emails = [f for f in original.fields if f["type_id"] == 1]
        if emails:
            copy.fields = [dict(emails[0], id=emails[0]["id"] + 500_000_000)]
        else:
            copy.fields = [
                {
                    "id": 700_000_000 + copy.id,
                    "type_id": 1,
                    "content": f"dup{original.id}@example.org",
                    "labels": [],
                }
            ]
            original.fields.append(
                {
                    "id": 800_000_000 + original.id,
                    "type_id": 1,
                    "content": f"DUP{original.id}@example.org",
                    "labels": [],
                }
            )
    active_full = [c for c in full if c.is_active]
    for contact in active_full:
        if rng.random() < opts.relationship_ratio and len(active_full) > 1:
            target = (
                rng.choice(partials) if partials and rng.random() < 0.4 else rng.choice(active_full)
            )
            if target is not contact:
                slug = rng.choice(
                    ["spouse", "parent", "friend", "colleague", "sibling", "bestfriend"]
                )
                world.relate(contact.id, slug, target.id)
        if rng.random() < opts.relationship_ratio / 2:
            through = rng.choice(active_full)
            if through is not contact:
                contact.first_met_through_id = through.id
                contact.first_met_info = "at a party"
                contact.first_met_date = {
                    "is_age_based": False,
                    "is_year_unknown": False,
                    "date": "2015-06-01T00:00:00Z",
                }
    note_clock = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    for contact in full:
        for _ in range(_count(rng, opts.notes_per_contact)):
            note_clock += dt.timedelta(minutes=7)
            world.add_item(
                "notes",
                body=f"Note about {contact.first_name} #{rng.randint(1, 10**6)}",
                is_favorited=rng.random() < 0.1,
                favorited_at=None,
                contact_id=contact.id,
                account_id=contact.account_id,
                created_at=_ts(note_clock),
            )
    _misc(world, rng, opts, full)
    _media(world, rng, opts, full)


def _count(rng: random.Random, mean: float) -> int:
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)


def _misc(world: World, rng: random.Random, opts: GeneratorOptions, people: list[Contact]) -> None:
    """A few items of each misc type with their real field names (API §10); #5 extends this."""
    if opts.misc_per_contact <= 0:
        return
    stamp = "2023-05-04T10:00:00Z"
    for contact in people:
        for _ in range(_count(rng, opts.misc_per_contact)):
            kind = rng.choice(
                [
                    "calls",
                    "gifts",
                    "debts",
                    "tasks",
                    "reminders",
                    "pets",
                    "activities",
                    "conversations",
                    "lifeevents",
                ]
            )
            common = {
                "contact_id": contact.id,
                "account_id": contact.account_id,
                "created_at": stamp,
            }
            if kind == "calls":
                world.add_item(
                    "calls",
                    called_at=stamp,
                    content="catch-up",
                    contact_called=rng.random() < 0.5,
                    emotions=[],
                    **common,
                )
            elif kind == "gifts":
                world.add_item(
                    "gifts",
                    name="Book",
                    comment="sci-fi",
                    url=None,
                    amount="14.50",
                    value="$14.50",
                    amount_with_currency="$14.50",
                    status=rng.choice(["idea", "offered", "received"]),
                    date="2023-05-04",
                    recipient_id=None,
                    photos=[],
                    **common,
                )
            elif kind == "debts":
                world.add_item(
                    "debts",
                    in_debt=rng.choice(["yes", "no"]),
                    status=rng.choice(["inprogress", "completed"]),
                    amount="20.00",
                    value="$20.00",
                    amount_with_currency="$20.00",
                    reason="lunch",
                    **common,
                )
            elif kind == "tasks":
                world.add_item(
                    "tasks",
                    title="Call back",
                    description=None,
                    completed=False,
                    completed_at=None,
                    **common,
                )
            elif kind == "reminders":
                world.add_item(
                    "reminders",
                    title="Ping",
                    description=None,
                    frequency_type="month",
                    frequency_number=1,
                    initial_date="2023-06-01T00:00:00Z",
                    delible=True,
                    **common,
                )
            elif kind == "pets":
                world.add_item(
                    "pets",
                    name="Rex",
                    pet_category={"id": 4, "name": "dog", "is_common": True},
                    **common,
                )
            elif kind == "activities":
                common.pop("contact_id")
                world.add_item(
                    "activities",
                    summary="Dinner",
                    description=None,
                    happened_at="2023-05-04",
                    activity_type=None,
                    emotions=[],
                    attendee_ids=[contact.id],
                    **common,
                )
            elif kind == "conversations":
                world.add_item(
                    "conversations",
                    happened_at=stamp,
                    contact_field_type=world.contact_field_types[4],
                    messages=[{"content": "hi", "written_at": stamp, "written_by_me": True}],
                    **common,
                )
            else:
                world.add_item(
                    "lifeevents",
                    name="New job",
                    note=None,
                    happened_at=stamp,
                    life_event_type={
                        "name": "New job",
                        "core_monica_data": True,
                        "default_life_event_type_key": "new_job",
                        "life_event_category": {"name": "Work & education"},
                    },
                    **common,
                )
    world.add_item(
        "journal",
        title="Day",
        post="A good day",
        date="2023-05-04T10:00:00.000000Z",
        account_id=opts.account_id,
        created_at=stamp,
    )


def _media(world: World, rng: random.Random, opts: GeneratorOptions, people: list[Contact]) -> None:
    """Photos (real PNGs, plus the awkward ones of API §12) and public/private documents."""
    if not people:
        return
    stamp = "2023-07-01T10:00:00Z"
    shared = png_bytes((200, 10, 10))
    for i in range(opts.photos):
        contact = rng.choice(people)
        kind = i % 6
        if kind == 1:
            data_url = None
        elif kind == 2:
            data_url = "data:image/png;base64,@@not-base64@@"
        elif kind == 3:
            data_url = "data:image/png;base64," + base64.b64encode(shared).decode()
        else:
            data_url = (
                "data:image/png;base64," + base64.b64encode(png_bytes((i % 255, 80, 160))).decode()
            )
        world.add_item(
            "photos",
            original_filename=f"p{i}.png",
            new_filename=f"photos/p{i}.png",
            filesize=len(shared),
            mime_type="image/png",
            dataUrl=data_url,
            link=None,
            contact_id=None if kind == 4 else contact.id,
            account_id=contact.account_id,
            created_at=stamp,
        )
    for i in range(opts.documents):
        contact = rng.choice(people)
        name = f"doc{i}.pdf"
        world.files[name] = {
            "data": base64.b64encode(b"%PDF-1.4 fake " + name.encode()).decode(),
            "mime": "application/pdf",
            "public": i % 2 == 0,
        }
        world.add_item(
            "documents",
            original_filename=name,
            new_filename=f"documents/{name}",
            filesize=20,
            type=None,
            mime_type="application/pdf",
            number_of_downloads=0,
            file=name,
            contact_id=contact.id,
            account_id=contact.account_id,
            created_at=stamp,
        )
