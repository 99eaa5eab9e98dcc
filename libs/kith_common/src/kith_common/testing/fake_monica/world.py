"""The fake Monica's data: accounts, users, contacts and every item type, plus the API shapes.

A `World` is plain data (JSON-serialisable through `to_json`/`from_json`), so a test can seed
it from a fixture file or from `generator.generate`. The `render_*` functions turn it into the
exact shapes of monica-api-v4.md §§8–10: full contacts, partials with their keys absent,
ContactShorts, and account-wide items whose `contact` is a ContactShort.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_CONTACT_FIELD_TYPES",
    "DEFAULT_GENDERS",
    "DEFAULT_RELATIONSHIP_TYPES",
    "ITEM_ENDPOINTS",
    "Contact",
    "Related",
    "World",
    "gather_related",
    "render_address",
    "render_contact",
    "render_item",
    "render_short",
]

# API §6: account-wide item lists and where their contact link lives.
ITEM_ENDPOINTS = (
    "notes",
    "calls",
    "activities",
    "gifts",
    "debts",
    "tasks",
    "reminders",
    "pets",
    "conversations",
    "lifeevents",
    "journal",
    "photos",
    "documents",
    "addresses",
)

DEFAULT_GENDERS = [
    {"id": 1, "name": "Man", "type": "M"},
    {"id": 2, "name": "Woman", "type": "F"},
    {"id": 3, "name": "Rather not say", "type": "O"},
]
DEFAULT_CONTACT_FIELD_TYPES = [
    {
        "id": 1,
        "name": "Email",
        "protocol": "mailto:",
        "type": "email",
        "fontawesome_icon": "fa fa-envelope-open-o",
        "delible": False,
    },
    {
        "id": 2,
        "name": "Phone",
        "protocol": "tel:",
        "type": "phone",
        "fontawesome_icon": "fa fa-volume-control-phone",
        "delible": False,
    },
    {
        "id": 3,
        "name": "Facebook",
        "protocol": None,
        "type": None,
        "fontawesome_icon": "fa fa-facebook-official",
        "delible": True,
    },
    {
        "id": 4,
        "name": "Twitter",
        "protocol": None,
        "type": None,
        "fontawesome_icon": "fa fa-twitter-square",
        "delible": True,
    },
    {
        "id": 5,
        "name": "Whatsapp",
        "protocol": None,
        "type": None,
        "fontawesome_icon": "fa fa-whatsapp",
        "delible": True,
    },
    {
        "id": 6,
        "name": "Telegram",
        "protocol": "telegram:",
        "type": None,
        "fontawesome_icon": "fa fa-telegram",
        "delible": True,
    },
    {
        "id": 7,
        "name": "LinkedIn",
        "protocol": None,
        "type": None,
        "fontawesome_icon": "fa fa-linkedin-square",
        "delible": True,
    },
]
_PAIRS = [
    ("love", "partner", "partner"),
    ("love", "spouse", "spouse"),
    ("love", "date", "date"),
    ("love", "lover", "lover"),
    ("love", "inlovewith", "lovedby"),
    ("love", "lovedby", "inlovewith"),
    ("love", "ex", "ex"),
    ("love", "ex_husband", "ex_husband"),
    ("family", "parent", "child"),
    ("family", "child", "parent"),
    ("family", "stepparent", "stepchild"),
    ("family", "stepchild", "stepparent"),
    ("family", "sibling", "sibling"),
    ("family", "grandparent", "grandchild"),
    ("family", "grandchild", "grandparent"),
    ("family", "uncle", "nephew"),
    ("family", "nephew", "uncle"),
    ("family", "cousin", "cousin"),
    ("family", "godfather", "godson"),
    ("family", "godson", "godfather"),
    ("friend", "friend", "friend"),
    ("friend", "bestfriend", "bestfriend"),
    ("work", "colleague", "colleague"),
    ("work", "boss", "subordinate"),
    ("work", "subordinate", "boss"),
    ("work", "mentor", "protege"),
    ("work", "protege", "mentor"),
]
_GROUP_IDS = {"love": 1, "family": 2, "friend": 3, "work": 4}
DEFAULT_RELATIONSHIP_TYPES = [
    {
        "id": i + 1,
        "name": name,
        "name_reverse_relationship": rev,
        "group": group,
        "relationship_type_group_id": _GROUP_IDS[group],
        "delible": False,
    }
    for i, (group, name, rev) in enumerate(_PAIRS)
]


@dataclass
class Contact:
    """One Monica contact; `address_book` None is the default book (the only one listed)."""

    id: int
    account_id: int
    first_name: str | None
    last_name: str | None = None
    nickname: str | None = None
    description: str | None = None
    gender_id: int | None = None
    is_starred: bool = False
    is_partial: bool = False
    is_active: bool = True
    is_dead: bool = False
    address_book: str | None = None
    birthdate: dict[str, Any] | None = None
    deceased_date: dict[str, Any] | None = None
    job: str | None = None
    company: str | None = None
    first_met_info: str | None = None
    first_met_date: dict[str, Any] | None = None
    first_met_through_id: int | None = None
    created_at: str = "2020-01-01T00:00:00Z"
    updated_at: str = "2020-01-01T00:00:00Z"
    tag_ids: list[int] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False


@dataclass
class World:
    """Everything the fake serves. Ids of all accounts share one sequence (sparse per account)."""

    seed: int = 0
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # token → user
    contacts: dict[int, Contact] = field(default_factory=dict)
    relationships: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tags: list[dict[str, Any]] = field(default_factory=list)
    genders: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_GENDERS))
    contact_field_types: list[dict[str, Any]] = field(
        default_factory=lambda: list(DEFAULT_CONTACT_FIELD_TYPES)
    )
    relationship_types: list[dict[str, Any]] = field(
        default_factory=lambda: list(DEFAULT_RELATIONSHIP_TYPES)
    )
    hidden_ids: set[int] = field(default_factory=set)
    # name → {data, mime, public, relative}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1

    # --- seeding helpers -----------------------------------------------------------------------

    def add_user(
        self,
        token: str,
        *,
        account_id: int = 1,
        user_id: int | None = None,
        first_name: str = "Ada",
        last_name: str = "Lovelace",
        email: str = "ada@example.org",
    ) -> dict[str, Any]:
        user = {
            "id": user_id or len(self.users) + 1,
            "account_id": account_id,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
        }
        self.users[token] = user
        return user

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def add_contact(self, account_id: int = 1, **kw: Any) -> Contact:
        contact = Contact(id=kw.pop("id", None) or self.new_id(), account_id=account_id, **kw)
        self.next_id = max(self.next_id, contact.id + 1)
        self.contacts[contact.id] = contact
        return contact

    def add_item(self, endpoint: str, **item: Any) -> dict[str, Any]:
        bucket = self.items.setdefault(endpoint, [])
        item.setdefault("id", sum(len(v) for v in self.items.values()) + 1)
        item.setdefault("account_id", 1)
        item.setdefault("created_at", "2020-01-01T00:00:00Z")
        item.setdefault("updated_at", item["created_at"])
        bucket.append(item)
        return item

    def relate(self, a: int, slug: str, b: int) -> None:
        """Both directions, as Monica stores them."""
        forward = self.relationship_type(slug)
        reverse = self.relationship_type(forward["name_reverse_relationship"])
        self.relationships.append({"contact_is": a, "type_id": forward["id"], "of_contact": b})
        self.relationships.append({"contact_is": b, "type_id": reverse["id"], "of_contact": a})

    def relationship_type(self, slug: str) -> dict[str, Any]:
        return next(t for t in self.relationship_types if t["name"] == slug)

    # --- (de)serialisation -------------------------------------------------------------------

    def to_json(self) -> str:
        data = asdict(self)
        data["contacts"] = [asdict(c) for c in self.contacts.values()]
        data["hidden_ids"] = sorted(self.hidden_ids)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> World:
        data = json.loads(text)
        contacts = {c["id"]: Contact(**c) for c in data.pop("contacts", [])}
        hidden = set(data.pop("hidden_ids", []))
        world = cls(**data)
        world.contacts = contacts
        world.hidden_ids = hidden
        if contacts:
            world.next_id = max(world.next_id, max(contacts) + 1)
        return world


# --- rendering -----------------------------------------------------------------------------------


def _gender(world: World, contact: Contact) -> tuple[str | None, str | None]:
    gender = next((g for g in world.genders if g["id"] == contact.gender_id), None)
    return (gender["name"], gender["type"]) if gender else (None, None)


def _complete(contact: Contact) -> str:
    return " ".join(p for p in (contact.first_name, contact.last_name) if p) or ""


def _date(value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {"is_age_based": None, "is_year_unknown": None, "date": None}
    return value


def render_short(world: World, contact: Contact, base: str) -> dict[str, Any]:
    """API §9 ContactShort."""
    gender, gender_type = _gender(world, contact)
    short: dict[str, Any] = {
        "id": contact.id,
        "uuid": f"00000000-0000-4000-8000-{contact.id:012d}",
        "object": "contact",
        "hash_id": f"h:{contact.id}",
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "nickname": contact.nickname,
        "complete_name": _complete(contact),
        "initials": "".join(p[0] for p in (contact.first_name, contact.last_name) if p),
        "gender": gender,
        "gender_type": gender_type,
        "is_starred": contact.is_starred,
        "is_partial": contact.is_partial,
        "is_active": contact.is_active,
        "is_dead": contact.is_dead,
        "is_me": False,
        "information": {
            "birthdate": _date(contact.birthdate),
            "deceased_date": _date(contact.deceased_date),
            "avatar": {"url": None, "source": "default", "default_avatar_color": "#fdb660"},
        },
        "account": {"id": contact.account_id},
    }
    if not contact.is_partial:
        short["url"] = f"{base}/api/contacts/{contact.id}"
    return short


def _contact_ref(world: World, contact_id: int | None, base: str) -> dict[str, Any] | None:
    if contact_id is None or contact_id not in world.contacts:
        return None
    return render_short(world, world.contacts[contact_id], base)


def _render_field(world: World, contact: Contact, f: dict[str, Any]) -> dict[str, Any]:
    ftype = next(t for t in world.contact_field_types if t["id"] == f["type_id"])
    return {
        "id": f["id"],
        "uuid": f"00000000-0000-4000-9000-{f['id']:012d}",
        "object": "contactfield",
        "content": f["content"],
        "labels": [
            {"id": i + 1, "object": "label", "type": "custom", "label": label}
            for i, label in enumerate(f.get("labels", []))
        ],
        "contact_field_type": {"object": "contactfieldtype", "uuid": None, **ftype},
        "account": {"id": contact.account_id},
        "contact": {"id": contact.id},
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


def render_address(contact: Contact, a: dict[str, Any], base: str) -> dict[str, Any]:
    """An address as a contact embeds it (API §7)."""
    return {
        "id": a["id"],
        "uuid": f"00000000-0000-4000-a000-{a['id']:012d}",
        "object": "address",
        "name": a.get("name"),
        "street": a.get("street"),
        "city": a.get("city"),
        "province": a.get("province"),
        "postal_code": a.get("postal_code"),
        "latitude": a.get("latitude"),
        "longitude": a.get("longitude"),
        "country": a.get("country"),
        "url": f"{base}/api/addresses/{a['id']}",
        "account": {"id": contact.account_id},
        "contact": {"id": contact.id},
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


# API §8 `statistics`: the counted item lists, in the order Monica renders them.
_STATISTICS = (
    ("calls", "number_of_calls"),
    ("notes", "number_of_notes"),
    ("activities", "number_of_activities"),
    ("reminders", "number_of_reminders"),
    ("tasks", "number_of_tasks"),
    ("gifts", "number_of_gifts"),
    ("debts", "number_of_debts"),
)


@dataclass(frozen=True)
class Related:
    """What full contacts show of the rest of the world: item counts, newest notes, relationships.

    Gathered for a whole page in one pass over the world's lists. Scanning them again for each
    contact made a 100-contact page of a 10,000-contact world cost the fake ~0.1 s of CPU, which
    on a benchmark box was taken from the importer it served.
    """

    statistics: dict[int, dict[str, int]]
    notes: dict[int, list[dict[str, Any]]]
    relationships: dict[int, list[dict[str, Any]]]


def gather_related(world: World, contact_ids: Iterable[int]) -> Related:
    ids = set(contact_ids)
    statistics = {cid: {name: 0 for _, name in _STATISTICS} for cid in ids}
    notes: dict[int, list[dict[str, Any]]] = {cid: [] for cid in ids}
    for endpoint, name in _STATISTICS:
        for item in world.items.get(endpoint, []):
            if endpoint == "activities":
                owners = ids.intersection(item.get("attendee_ids", []))
            else:
                owners = ids.intersection([item.get("contact_id")])
            for cid in owners:
                statistics[cid][name] += 1
                if endpoint == "notes":
                    notes[cid].append(item)
    relationships: dict[int, list[dict[str, Any]]] = {cid: [] for cid in ids}
    for rel in world.relationships:
        if rel["contact_is"] in ids:
            relationships[rel["contact_is"]].append(rel)
    return Related(statistics, notes, relationships)


def relationships_of(world: World, contact: Contact, related: Related, base: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {"love": [], "family": [], "friend": [], "work": []}
    for rel in related.relationships[contact.id]:
        other = world.contacts.get(rel["of_contact"])
        if other is None or other.deleted:
            continue
        rtype = next(t for t in world.relationship_types if t["id"] == rel["type_id"])
        groups[rtype["group"]].append(
            {
                "relationship": {"id": rtype["id"], "uuid": None, "name": rtype["name"]},
                "contact": render_short(world, other, base),
            }
        )
    return {k: {"total": len(v), "contacts": v or None} for k, v in groups.items()}


def render_contact(
    world: World,
    contact: Contact,
    base: str,
    *,
    with_fields: bool,
    related: Related | None = None,
) -> dict[str, Any]:
    """API §8: the full contact, or a partial with its keys absent (not null).

    `related` is `gather_related` of a page that holds `contact`; without it the contact's own
    is gathered.
    """
    data = render_short(world, contact, base)
    data["description"] = contact.description
    data["information"] = {
        "dates": {
            "birthdate": _date(contact.birthdate),
            "deceased_date": _date(contact.deceased_date),
        },
    }
    data["created_at"] = contact.created_at
    data["updated_at"] = contact.updated_at
    if contact.is_partial:
        return data
    if related is None:
        related = gather_related(world, [contact.id])
    data.update(
        last_called=None,
        last_activity_together=None,
        stay_in_touch_frequency=None,
        stay_in_touch_trigger_date=None,
    )
    data["information"].update(
        relationships=relationships_of(world, contact, related, base),
        career={"job": contact.job, "company": contact.company},
        avatar={"url": None, "source": "default", "default_avatar_color": "#fdb660"},
        food_preferences=None,
        how_you_met={
            "general_information": contact.first_met_info,
            "first_met_date": _date(contact.first_met_date),
            "first_met_through_contact": _contact_ref(world, contact.first_met_through_id, base),
        },
    )
    data["addresses"] = [render_address(contact, a, base) for a in contact.addresses]
    tags = []
    for tag_id in contact.tag_ids:
        tag = next((t for t in world.tags if t["id"] == tag_id), None)
        if tag is not None:
            tags.append(_render_tag(tag, contact.account_id))
    data["tags"] = tags
    data["statistics"] = related.statistics[contact.id]
    if with_fields:
        data["contactFields"] = [_render_field(world, contact, f) for f in contact.fields]
        notes = sorted(
            related.notes[contact.id],
            key=lambda n: (n["created_at"], n["id"]),
            reverse=True,
        )[:3]
        data["notes"] = [render_item(world, "notes", n, base) for n in notes]
    return data


def _render_tag(tag: dict[str, Any], account_id: int) -> dict[str, Any]:
    return {
        "id": tag["id"],
        "object": "tag",
        "name": tag["name"],
        "name_slug": tag["name"].lower().replace(" ", "-"),
        "account": {"id": account_id},
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
    }


_OBJECT_NAMES = {
    "notes": "note",
    "calls": "call",
    "activities": "activity",
    "gifts": "gift",
    "debts": "debt",
    "tasks": "task",
    "reminders": "reminder",
    "pets": "pet",
    "conversations": "conversation",
    "lifeevents": "lifeevent",
    "journal": "entry",
    "photos": "photo",
    "documents": "document",
    "addresses": "address",
}


def render_item(world: World, endpoint: str, item: dict[str, Any], base: str) -> dict[str, Any]:
    """API §10 shapes: internal keys (`contact_id`, `attendee_ids`, ...) become ContactShorts."""
    data = {
        k: v
        for k, v in item.items()
        if not k.endswith("_id") and k not in ("attendee_ids", "account_id", "file")
    }
    data["id"] = item["id"]
    data["object"] = _OBJECT_NAMES[endpoint]
    data["account"] = {"id": item["account_id"]}
    data.setdefault("uuid", f"00000000-0000-4000-b000-{item['id']:012d}")
    data["url"] = f"{base}/api/{endpoint}/{item['id']}"
    if endpoint == "activities":
        attendees = [
            render_short(world, world.contacts[c], base)
            for c in item.get("attendee_ids", [])
            if c in world.contacts
        ]
        data["attendees"] = {"total": len(attendees), "contacts": attendees}
    elif endpoint != "journal":
        data["contact"] = _contact_ref(world, item.get("contact_id"), base)
    if endpoint == "gifts":
        data["recipient"] = _contact_ref(world, item.get("recipient_id"), base)
    if endpoint == "documents" and "file" in item:
        name = item["file"]
        spec = world.files.get(name, {})
        path = f"/{'public' if spec.get('public', False) else 'store'}/{name}"
        # A Monica whose storage URL has no host gives a link relative to its own origin.
        data["link"] = path if spec.get("relative", False) else base + path
    return data
