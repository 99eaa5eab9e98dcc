"""Fixed-seed account generator for the dedup benchmark (dedup.md §3.6).

Entities with multi-locale Faker names, 0–3 emails, 0–2 phones in mixed layouts and regions,
0–1 address; shared households (same last name and address, different person); 2 % of
contacts soft-deleted; 1 % garbage phones. About 5 % of entities get a duplicate contact with
one perturbation, recorded as ground truth:

- name_typo: one edit in the name, nothing else shared;
- email_case: same email with other case and spaces, another name;
- phone_layout: same number in another layout, another name;
- address_spacing: same street and postal code with other case and spacing, another name;
- exact_copy: everything identical.

Rows are written with COPY, values and keys through `contact_fields.prepare` like every
write path. Truth pairs with a soft-deleted side must not be found.

`hard=True` (the default since issue 18; `hard=False` is the generator above, unchanged)
adds what makes ranking hard, and makes the duplicates look like the ones people make:

- common names: 3 % of people take their name from a small pool (one name per 150
  contacts), so many different people share an exact name;
- households share the address *and*, half of them, a landline (one number on every
  member), members keep the family name and have their own emails and mobiles;
- a duplicate keeps its person's name or a variant of it (case, initial, swapped order)
  in email_case, phone_layout and address_spacing; name_typo keeps nothing else, as before;
- two_emails: the same person twice with a different email each (same name, nothing
  shared but the name);
- alias: a wholly different name sharing one email (the case only the email can tell).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import phonenumbers
from faker import Faker

from kith_common.contact_fields import prepare, prepare_address

LOCALES = ["en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "ru_RU", "ja_JP"]
REGIONS = {
    "en_US": "US",
    "en_GB": "GB",
    "fr_FR": "FR",
    "de_DE": "DE",
    "es_ES": "ES",
    "it_IT": "IT",
    "ru_RU": "RU",
    "ja_JP": "JP",
}
PERTURBATIONS = ("name_typo", "email_case", "phone_layout", "address_spacing", "exact_copy")
HARD_PERTURBATIONS = (*PERTURBATIONS, "two_emails", "alias")
GARBAGE = ["+", "()", "N/A", "-", "x", "000"]
LAYOUTS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
)


@dataclass
class Person:
    name: str
    emails: list[str] = field(default_factory=list)
    phones: list[tuple[str, str]] = field(default_factory=list)  # (typed value, region)
    address: tuple[str, str] | None = None
    deleted: bool = False


@dataclass
class Generated:
    people: list[Person]
    truth: list[tuple[int, int, str]]  # (index, index, perturbation)


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, max(2, len(text)))
    op = rng.randrange(3)
    if op == 0:
        return text[:i] + rng.choice("aeinorst") + text[i:]
    if op == 1 and len(text) > 3:
        return text[:i] + text[i + 1 :]
    return text[:i] + rng.choice("aeinorst") + text[i + 1 :]


def _layout(value: str, region: str, rng: random.Random) -> str:
    number = phonenumbers.parse(value, region)
    return phonenumbers.format_number(number, rng.choice(LAYOUTS))


def _variant(name: str, rng: random.Random) -> str:
    """The same person's name as someone might type it again."""
    words = name.split(" ")
    pick = rng.random()
    if pick < 0.5 or len(words) < 2:
        return name
    if pick < 0.7:
        return name.upper() if rng.random() < 0.5 else name.lower()
    if pick < 0.85:
        return f"{words[0][0]}. {' '.join(words[1:])}"
    return f"{' '.join(words[1:])} {words[0]}"


def generate(count: int, seed: int = 42, *, hard: bool = True) -> Generated:
    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for n, fk in enumerate(fakers.values()):
        fk.seed_instance(seed + n)
    people: list[Person] = []
    truth: list[tuple[int, int, str]] = []
    households: list[tuple[str, tuple[str, str], tuple[str, str] | None]] = []
    common: list[str] = []
    if hard:
        for _ in range(max(10, count // 150)):
            fk = fakers[rng.choice(LOCALES)]
            common.append(f"{fk.first_name()} {fk.last_name()}")

    def new_person() -> Person:
        loc = rng.choice(LOCALES)
        fk = fakers[loc]
        region = REGIONS[loc]
        person = Person(name=f"{fk.first_name()} {fk.last_name()}")
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            person.emails.append(f"{fk.user_name()}{rng.randrange(1000)}@{fk.free_email_domain()}")
        for _ in range(rng.choice((0, 1, 1, 2))):
            if rng.random() < 0.01:
                person.phones.append((rng.choice(GARBAGE), region))
                continue
            for _attempt in range(5):
                raw = fk.phone_number()
                try:
                    parsed = phonenumbers.parse(raw, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(parsed):
                    person.phones.append((raw, region))
                    break
        if hard and rng.random() < 0.03:
            person.name = rng.choice(common)
        if rng.random() < 0.6:
            if households and rng.random() < 0.1:
                last, address, landline = rng.choice(households)
                person.name = f"{fk.first_name()} {last}"
                person.address = address
                if landline is not None:
                    person.phones.append(landline)
            else:
                person.address = (fk.street_address(), fk.postcode())
                landline = None
                if hard and rng.random() < 0.5:
                    landline = _landline(fk, region)
                    if landline is not None:
                        person.phones.append(landline)
                households.append((person.name.split(" ")[-1], person.address, landline))
        return person

    def _landline(fk: Faker, region: str) -> tuple[str, str] | None:
        for _attempt in range(5):
            raw = fk.phone_number()
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(raw, region)):
                    return (raw, region)
            except phonenumbers.NumberParseException:
                continue
        return None

    while len(people) < count:
        original = new_person()
        people.append(original)
        if rng.random() >= 0.05 or len(people) >= count:
            continue
        kind = rng.choice(HARD_PERTURBATIONS if hard else PERTURBATIONS)
        dup = new_person()
        dup.emails, dup.phones, dup.address = [], [], None
        if hard and kind in ("email_case", "phone_layout", "address_spacing"):
            dup.name = _variant(original.name, rng)
        if kind == "two_emails":
            dup.name = original.name
            fk = fakers[rng.choice(LOCALES)]
            dup.emails = [f"{fk.user_name()}{rng.randrange(1000)}@{fk.free_email_domain()}"]
        elif kind == "alias" and original.emails:
            dup.emails = [rng.choice(original.emails)]
        elif kind == "name_typo":
            dup.name = _typo(original.name, rng)
        elif kind == "email_case" and original.emails:
            email = rng.choice(original.emails)
            dup.emails = [f"  {email.upper() if rng.random() < 0.5 else email.title()} "]
        elif kind == "phone_layout" and any(
            phonenumbers.is_valid_number(phonenumbers.parse(v, r))
            for v, r in original.phones
            if v not in GARBAGE
        ):
            value, region = next(
                (v, r)
                for v, r in original.phones
                if v not in GARBAGE and phonenumbers.is_valid_number(phonenumbers.parse(v, r))
            )
            dup.phones = [(_layout(value, region, rng), region)]
        elif kind == "address_spacing" and original.address:
            line1, postal = original.address
            dup.address = ("  " + "  ".join(line1.upper().split()) + " ", f" {postal} ")
        else:
            kind = "exact_copy"
            dup = Person(
                original.name, list(original.emails), list(original.phones), original.address
            )
        people.append(dup)
        truth.append((len(people) - 2, len(people) - 1, kind))
    for person in people:
        person.deleted = rng.random() < 0.02
    return Generated(people, truth)


async def field_types(conn: asyncpg.Connection) -> dict[str, tuple[int, str]]:
    rows = await conn.fetch(
        "SELECT name, id, kind FROM contact_field_types WHERE account_id IS NULL"
    )
    return {r["name"]: (r["id"], r["kind"]) for r in rows}


async def write(
    conn: asyncpg.Connection, account_id: int, people: list[Person], tag: str = "bench"
) -> list[int]:
    """COPY the people into the account; returns their contact ids in order."""
    await conn.copy_records_to_table(
        "contacts",
        columns=[
            "account_id",
            "first_name",
            "last_name",
            "display_name",
            "description",
            "deleted_at",
        ],
        records=[
            (
                account_id,
                p.name.split(" ")[0],
                " ".join(p.name.split(" ")[1:]) or None,
                p.name,
                f"{tag}:{i}",
                __import__("datetime").datetime.now(__import__("datetime").UTC)
                if p.deleted
                else None,
            )
            for i, p in enumerate(people)
        ],
    )
    rows = await conn.fetch(
        "SELECT id, description FROM contacts WHERE account_id = $1 AND description LIKE $2",
        account_id,
        f"{tag}:%",
    )
    by_index = {int(r["description"].split(":")[1]): r["id"] for r in rows}
    ids = [by_index[i] for i in range(len(people))]
    types = await field_types(conn)
    fields: list[tuple[Any, ...]] = []
    addresses: list[tuple[Any, ...]] = []
    for cid, person in zip(ids, people, strict=True):
        for email in person.emails:
            prepared = prepare("email", email)
            fields.append((account_id, cid, types["Email"][0], prepared.value, prepared.match_key))
        for value, region in person.phones:
            prepared = prepare("phone", value, region)
            fields.append((account_id, cid, types["Phone"][0], prepared.value, prepared.match_key))
        if person.address:
            line1, postal = person.address
            addresses.append((account_id, cid, line1, postal, prepare_address(line1, postal)))
    await conn.copy_records_to_table(
        "contact_fields",
        columns=["account_id", "contact_id", "contact_field_type_id", "value", "match_key"],
        records=fields,
    )
    await conn.copy_records_to_table(
        "addresses",
        columns=["account_id", "contact_id", "line1", "postal_code", "match_key"],
        records=addresses,
    )
    return ids
