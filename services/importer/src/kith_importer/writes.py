"""The writes of one crawl step in one statement (importer.md §7.0, §7.2; issue #4 throughput).

A listing step (≤ 10 contacts) used to send one statement per table, each a multi-row VALUES
that SQLAlchemy compiled afresh for every row count. Here the step's new contacts, their
fields, addresses and tags, the import_records upserts and the staging rows travel as JSON
arrays into one statement of data-modifying CTEs whose text never changes (compiled and
prepared once per connection).

New rows get their ids from the identity column. Each INSERT … SELECT … ORDER BY ord assigns
them in `ord` order (a sequence hands out ascending values to one statement's rows), so the
n-th smallest returned id belongs to the n-th input row; SQLAlchemy's own "insertmanyvalues"
relies on the same property. Children name their contact either by local id (an existing
contact) or by its position in this statement's new contacts.

Foreign keys are checked at the end of the statement, so children may reference contacts
inserted by a sibling CTE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from kith_importer.parsing import jsonb_safe

__all__ = ["CONTACT_COLUMNS", "StepWrite"]

CONTACT_COLUMNS: Final[dict[str, str]] = {
    "first_name": "text",
    "last_name": "text",
    "nickname": "text",
    "display_name": "text",
    "description": "text",
    "company": "text",
    "job_title": "text",
    "favorite": "boolean",
    "deceased": "boolean",
    "deceased_on": "date",
    "birthdate": "date",
    "birthdate_year_unknown": "boolean",
    "first_met_at": "date",
    "first_met_year_unknown": "boolean",
    "first_met_additional_info": "text",
    "gender_id": "bigint",
    "is_partial": "boolean",
}

# The contact columns of CONTACT_COLUMNS, spelled out so the statement is a constant.
_STATEMENT = text(
    """
WITH c_in AS (
    SELECT * FROM jsonb_to_recordset(:contacts) AS r(ord integer, sid text,
        first_name text, last_name text, nickname text, display_name text,
        description text, company text, job_title text, favorite boolean, deceased boolean,
        deceased_on date, birthdate date, birthdate_year_unknown boolean, first_met_at date,
        first_met_year_unknown boolean, first_met_additional_info text, gender_id bigint,
        is_partial boolean)
), c_new AS (
    INSERT INTO contacts (account_id, first_name, last_name, nickname, display_name,
        description, company, job_title,
        favorite, deceased, deceased_on, birthdate, birthdate_year_unknown, first_met_at,
        first_met_year_unknown, first_met_additional_info, gender_id, is_partial)
    SELECT :account_id, first_name, last_name, nickname, display_name,
        description, company, job_title,
        favorite, deceased, deceased_on, birthdate, birthdate_year_unknown, first_met_at,
        first_met_year_unknown, first_met_additional_info, gender_id, is_partial
    FROM c_in ORDER BY ord
    RETURNING id
), c_ids AS (
    SELECT id, row_number() OVER (ORDER BY id) AS ord FROM c_new
), f_in AS (
    SELECT * FROM jsonb_to_recordset(:fields) AS r(
        ord integer, contact_id bigint, contact_ord integer, type_id bigint, value text,
        label text, match_key text, sid text)
), f_new AS (
    INSERT INTO contact_fields
        (account_id, contact_id, contact_field_type_id, value, label, match_key)
    SELECT :account_id, coalesce(f.contact_id, c.id), f.type_id, f.value, f.label, f.match_key
    FROM f_in f LEFT JOIN c_ids c ON c.ord = f.contact_ord
    ORDER BY f.ord
    RETURNING id
), f_ids AS (
    SELECT id, row_number() OVER (ORDER BY id) AS ord FROM f_new
), a_in AS (
    SELECT * FROM jsonb_to_recordset(:addresses) AS r(
        ord integer, contact_id bigint, contact_ord integer, label text, line1 text, city text,
        province text, postal_code text, country text, latitude double precision,
        longitude double precision, match_key text, sid text)
), a_new AS (
    INSERT INTO addresses (account_id, contact_id, label, line1, city, province, postal_code,
                           country, latitude, longitude, match_key)
    SELECT :account_id, coalesce(a.contact_id, c.id), a.label, a.line1, a.city, a.province,
           a.postal_code, a.country, a.latitude, a.longitude, a.match_key
    FROM a_in a LEFT JOIN c_ids c ON c.ord = a.contact_ord
    ORDER BY a.ord
    RETURNING id
), a_ids AS (
    SELECT id, row_number() OVER (ORDER BY id) AS ord FROM a_new
), t_new AS (
    INSERT INTO contact_tags (account_id, contact_id, tag_id)
    SELECT DISTINCT :account_id, coalesce(t.contact_id, c.id), t.tag_id
    FROM jsonb_to_recordset(:tags) AS t(contact_id bigint, contact_ord integer, tag_id bigint)
    LEFT JOIN c_ids c ON c.ord = t.contact_ord
    ON CONFLICT DO NOTHING
), r_in AS (
    SELECT 'contact' AS etype, c.sid, 'contact' AS ltype, i.id AS lid, c.ord AS seq
    FROM c_in c JOIN c_ids i USING (ord) WHERE c.sid IS NOT NULL
    UNION ALL
    SELECT 'contact_field', f.sid, 'contact_field', i.id, f.ord
    FROM f_in f JOIN f_ids i USING (ord)
    UNION ALL
    SELECT 'address', a.sid, 'address', i.id, a.ord FROM a_in a JOIN a_ids i USING (ord)
    UNION ALL
    SELECT r.etype, r.sid, r.ltype, r.lid, r.seq
    FROM jsonb_to_recordset(:records)
        AS r(etype text, sid text, ltype text, lid bigint, seq integer)
), r_up AS (
    INSERT INTO import_records (account_id, import_id, source, source_entity_type,
                                source_entity_id, local_entity_type, local_entity_id)
    SELECT DISTINCT ON (etype, sid) :account_id, :import_id, :source, etype, sid, ltype, lid
    FROM r_in ORDER BY etype, sid, seq DESC
    ON CONFLICT (account_id, source, source_entity_type, source_entity_id) DO UPDATE SET
        local_entity_type = excluded.local_entity_type,
        local_entity_id = excluded.local_entity_id,
        import_id = excluded.import_id,
        updated_at = now()
), s_up AS (
    INSERT INTO import_staging (account_id, import_id, kind, key, payload)
    SELECT :account_id, :import_id, s.kind, s.key, s.payload
    FROM jsonb_to_recordset(:staging) AS s(kind text, key text, payload jsonb)
    ON CONFLICT (import_id, kind, key) DO UPDATE SET
        payload = excluded.payload, updated_at = now()
)
SELECT id FROM c_ids ORDER BY ord
"""
).bindparams(
    *(
        bindparam(name, type_=JSONB)
        for name in ("contacts", "fields", "addresses", "tags", "records", "staging")
    )
)


def _json(value: Any) -> Any:
    """JSON-ready scalars: dates as ISO strings (the recordset casts them back)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass
class StepWrite:
    """Rows one step writes, sent as one statement by `execute`.

    Children of a new contact name it by the index `add_contact` returned; children of an
    existing contact by its local id.
    """

    contacts: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    tags: set[tuple[int | None, int | None, int]] = field(default_factory=set)
    records: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    staging: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def add_contact(self, values: dict[str, Any], source_id: str | None) -> int:
        """Queue a new contact (recorded under `source_id` unless None); returns its index."""
        row = {name: _json(values.get(name)) for name in CONTACT_COLUMNS}
        row["ord"] = len(self.contacts) + 1
        row["sid"] = source_id
        self.contacts.append(row)
        return len(self.contacts) - 1

    def add_field(self, owner: tuple[int | None, int | None], values: dict[str, Any]) -> None:
        """`owner` = (local contact id, None) or (None, new contact index)."""
        self.fields.append(
            {**values, "ord": len(self.fields) + 1, **self._owner(owner)},
        )

    def add_address(self, owner: tuple[int | None, int | None], values: dict[str, Any]) -> None:
        self.addresses.append(
            {**values, "ord": len(self.addresses) + 1, **self._owner(owner)},
        )

    def add_tag(self, owner: tuple[int | None, int | None], tag_id: int) -> None:
        self.tags.add((owner[0], owner[1], tag_id))

    def record(self, entity_type: str, source_id: str, local_type: str, local_id: int) -> None:
        """An import_records upsert for an existing row (the last one per key wins)."""
        self.records.pop((entity_type, source_id), None)
        self.records[(entity_type, source_id)] = (local_type, local_id)

    def stage(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        """An import_staging upsert (the last one per key wins)."""
        self.staging[(kind, key)] = jsonb_safe(payload)

    @staticmethod
    def _owner(owner: tuple[int | None, int | None]) -> dict[str, int | None]:
        local, index = owner
        return {"contact_id": local, "contact_ord": None if index is None else index + 1}

    @property
    def empty(self) -> bool:
        return not (
            self.contacts
            or self.fields
            or self.addresses
            or self.tags
            or self.records
            or self.staging
        )

    async def execute(
        self, session: AsyncSession, *, account_id: int, import_id: int, source: str
    ) -> list[int]:
        """Write everything; returns the new contacts' local ids in `add_contact` order."""
        if self.empty:
            return []
        base = len(self.contacts) + len(self.fields) + len(self.addresses)
        params = {
            "account_id": account_id,
            "import_id": import_id,
            "source": source,
            "contacts": self.contacts,
            "fields": self.fields,
            "addresses": self.addresses,
            "tags": [
                {**self._owner((local, index)), "tag_id": tag}
                for local, index, tag in sorted(self.tags, key=repr)
            ],
            "records": [
                {"etype": etype, "sid": sid, "ltype": ltype, "lid": lid, "seq": base + seq}
                for seq, ((etype, sid), (ltype, lid)) in enumerate(self.records.items())
            ],
            "staging": [
                {"kind": kind, "key": key, "payload": payload}
                for (kind, key), payload in self.staging.items()
            ],
        }
        ids = list((await session.scalars(_STATEMENT, params)).all())
        if len(ids) != len(self.contacts):  # pragma: no cover - the database broke its promise
            msg = f"inserted {len(ids)} contacts, expected {len(self.contacts)}"
            raise RuntimeError(msg)
        return ids
