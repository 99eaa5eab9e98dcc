"""SQL of the dedup service: the detection snapshot and writing a run's results (dedup.md §3.4).

Reads take only the run's account and only live contacts. The writes COPY the found pairs
into a temporary table and apply them with set-based statements; they are `text()` because
SQLAlchemy cannot express writes against a temporary table it does not model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kith_common.db.models import (
    Address,
    Contact,
    ContactField,
    ContactFieldType,
    DedupKeyState,
    ImportRecord,
)
from kith_dedup.detection import AccountSnapshot, FoundPair, NameSets
from kith_dedup.evidence import DEFAULT_RATES, AccountStats, Judgement, Profile

__all__ = [
    "WriteCounts",
    "focus_contacts",
    "judged_pairs",
    "key_lists",
    "lock_account_runs",
    "read_names",
    "read_profiles",
    "read_rates",
    "read_snapshot",
    "read_stats",
    "save_full_run",
    "unlock_account_runs",
    "write_results",
]

_LOCK_NAMESPACE = "kith.dedup.run:"


@dataclass(frozen=True, slots=True)
class WriteCounts:
    new_candidates: int
    reopened: int
    obsoleted: int


async def lock_account_runs(session: AsyncSession, account_id: int) -> None:
    """Session-level advisory lock: one detection run per account at a time (§3.5).

    Blocks until a running scan of the account finishes; released by `unlock_account_runs`
    or when the connection closes (a crashed process never leaves it held).
    """
    await session.execute(
        select(func.pg_advisory_lock(func.hashtextextended(_LOCK_NAMESPACE + str(account_id), 0)))
    )


async def unlock_account_runs(session: AsyncSession, account_id: int) -> None:
    await session.execute(
        select(func.pg_advisory_unlock(func.hashtextextended(_LOCK_NAMESPACE + str(account_id), 0)))
    )


# Each live contact's trigram set as one canonical string (show_trgm sorts and dedups), the
# sets joined by \x02, in id order beside the ids: one row, so the 10⁵ sets cross the wire and
# the driver as one text value instead of 10⁵ decoded arrays (bench/dedup: 1.1 s → 0.5 s).
_NAME_KEYS = text(
    r"""
    SELECT coalesce(array_agg(id ORDER BY id), '{}'),
           coalesce(string_agg(
               coalesce(array_to_string(show_trgm(display_name), E'\x01'), ''),
               E'\x02' ORDER BY id), '')
    FROM contacts WHERE account_id = :account AND deleted_at IS NULL
    """
)


async def read_names(session: AsyncSession, account_id: int) -> NameSets:
    """The live contacts grouped by trigram set (PostgreSQL's own tokenisation, §3.2)."""
    ids, blob = (await session.execute(_NAME_KEYS, {"account": account_id})).one()
    if not ids:
        return NameSets((), (), 0)
    return NameSets.from_keys([int(i) for i in ids], blob.split("\x02"))


async def read_snapshot(
    session: AsyncSession,
    account_id: int,
    focus: Sequence[int] | None = None,
    *,
    names: Mapping[tuple[int, int], float] | None = None,
) -> AccountSnapshot:
    """Trigram sets and match keys of the account's live contacts.

    `names`: Q's name pairs already found on the trigram index (a small Q, see
    `focus_name_pairs`): the account's trigram sets are then not read at all.

    Only key rows that can make a pair are read: rows whose key another row of the account
    also has (found by walking the (account_id, match_key) index, no sort), and with `focus`
    (incremental) rows whose key a contact of Q has. Python receives the few thousand rows
    that matter instead of 10⁵, as two aggregated arrays.
    """

    async def keys(model: type[ContactField] | type[Address], *where: Any) -> list[tuple[int, str]]:
        mine = (model.account_id == account_id, model.match_key.is_not(None))
        if focus is None:
            wanted = select(model.match_key).where(*mine).group_by(model.match_key)
            wanted = wanted.having(func.count() > 1)
        else:
            wanted = select(model.match_key).where(*mine, model.contact_id.in_(focus))
        query = (
            select(func.array_agg(model.contact_id), func.array_agg(model.match_key))
            .join(
                Contact,
                (Contact.account_id == model.account_id) & (Contact.id == model.contact_id),
            )
            .where(*mine, Contact.deleted_at.is_(None), model.match_key.in_(wanted), *where)
        )
        ids, values = (await session.execute(query)).one()
        return [(int(c), str(k)) for c, k in zip(ids or (), values or (), strict=True)]

    def of_kind(kind: str) -> Any:
        kinds = select(ContactFieldType.id).where(ContactFieldType.kind == kind)
        return ContactField.contact_field_type_id.in_(kinds)

    judged = await judged_pairs(session, account_id) if focus is None else frozenset()
    if focus is None and not judged:
        # A first full run judges every pair, so it reads every profile (its key lists come
        # from there instead of a second read). Later ones judge only new pairs: they read
        # the shared keys below and, after detection, the profiles of those pairs alone.
        profiles = await read_profiles(session, account_id)
        lists = key_lists(profiles)
        return AccountSnapshot(
            names=await read_names(session, account_id),
            email_keys=lists["email"],
            phone_keys=lists["phone"],
            address_keys=lists["address"],
            profiles=profiles,
        )
    return AccountSnapshot(
        names=await read_names(session, account_id) if names is None else NameSets((), (), 0),
        email_keys=await keys(ContactField, of_kind("email")),
        phone_keys=await keys(ContactField, of_kind("phone")),
        address_keys=await keys(Address),
        name_pairs=names,
        judged=judged,
    )


async def focus_contacts(session: AsyncSession, account_id: int, import_id: int) -> list[int]:
    """Q of an incremental run: live contacts the import created or updated (§3.5)."""
    rows = await session.scalars(
        select(Contact.id)
        .join(
            ImportRecord,
            (ImportRecord.account_id == Contact.account_id)
            & (ImportRecord.local_entity_id == Contact.id),
        )
        .where(
            ImportRecord.account_id == account_id,
            ImportRecord.import_id == import_id,
            ImportRecord.local_entity_type == "contact",
            Contact.deleted_at.is_(None),
        )
        .distinct()
    )
    return sorted(int(cid) for cid in rows)


# A run's pairs go to a temporary table by COPY, then set-based statements apply them. Scores
# travel as integer hundredths and reasons as comma-joined text: asyncpg encodes those ~8×
# faster than numeric and text[] (10⁵ pairs: 0.1 s instead of 0.8 s). No key: the statements
# below hash-join it, after ANALYZE gave the planner its size. Dropped at commit or rollback.
_FOUND_TABLE = text(
    """
    CREATE TEMPORARY TABLE dedup_found (
        lo bigint NOT NULL, hi bigint NOT NULL, cents smallint NOT NULL, reasons text NOT NULL,
        confidence double precision NOT NULL, evidence text
    ) ON COMMIT DROP
    """
)

# Found pairs with a side no longer live (trashed since the snapshot) are forgotten: never
# inserted or reopened, and as "not found" a pending one becomes obsolete.
_FORGET_DEAD = text(
    """
    DELETE FROM dedup_found f
    WHERE NOT EXISTS (
        SELECT 1 FROM contacts c
        WHERE c.account_id = :account AND c.id = f.lo AND c.deleted_at IS NULL
    ) OR NOT EXISTS (
        SELECT 1 FROM contacts c
        WHERE c.account_id = :account AND c.id = f.hi AND c.deleted_at IS NULL
    )
    """
)

# New pairs: pending; a pair that exists in any status is never inserted again. The anti-join
# skips known pairs in one hash join (a rescan of 10⁵ pairs: 0.1 s, against 0.8 s of
# per-row conflict checks); ON CONFLICT still covers a pair a concurrent merge just wrote.
_INSERT = text(
    """
    INSERT INTO duplicate_candidates
        (account_id, contact_id, duplicate_contact_id, score, reasons, status, detected_at,
         confidence, evidence)
    SELECT :account, lo, hi, CAST(cents AS numeric) / 100, string_to_array(reasons, ','),
           'pending', now(), confidence, CAST(evidence AS jsonb)
    FROM dedup_found f
    WHERE NOT EXISTS (
        SELECT 1 FROM duplicate_candidates d
        WHERE d.account_id = :account AND d.contact_id = f.lo AND d.duplicate_contact_id = f.hi
    )
    ON CONFLICT (account_id, contact_id, duplicate_contact_id) DO NOTHING
    """
)

# Obsolete pairs found again (both sides live): pending, with this run's score and reasons
# (contacts restored from trash regain their suggestions). Other statuses are never rewritten.
_REOPEN = text(
    """
    UPDATE duplicate_candidates d
    SET status = 'pending', score = CAST(f.cents AS numeric) / 100,
        reasons = string_to_array(f.reasons, ','), confidence = f.confidence,
        evidence = CAST(f.evidence AS jsonb),
        detected_at = now(), resolved_at = NULL, resolved_by_id = NULL, updated_at = now()
    FROM dedup_found f
    WHERE d.account_id = :account AND d.contact_id = f.lo AND d.duplicate_contact_id = f.hi
      AND d.status = 'obsolete'
    """
)

# Pending pairs found again keep score and reasons; their confidence and evidence are
# rewritten only when not judged yet (rows older than the model) or, in a run over contacts
# just changed through the API, when a side of the pair is one of them: the evidence moved,
# so the pair may move in the list (dedup.md §3.6).
_REJUDGE = """
    UPDATE duplicate_candidates d
    SET confidence = f.confidence, evidence = CAST(f.evidence AS jsonb), updated_at = now()
    FROM dedup_found f
    WHERE d.account_id = :account AND d.contact_id = f.lo AND d.duplicate_contact_id = f.hi
      AND d.status = 'pending' AND f.evidence IS NOT NULL
      AND (d.evidence IS NULL {changed})
      AND d.evidence IS DISTINCT FROM CAST(f.evidence AS jsonb)
"""
_REJUDGE_UNJUDGED = text(_REJUDGE.format(changed=""))
_REJUDGE_CHANGED = text(_REJUDGE.format(changed="OR TRUE"))

# Pending pairs in scope not found with both sides live. Scope: the whole account, or
# (incremental) the pairs touching Q, so an incremental run leaves the account's other
# pending pairs alone.
_OBSOLETE = """
    UPDATE duplicate_candidates d
    SET status = 'obsolete', resolved_at = now(), updated_at = now()
    WHERE d.account_id = :account AND d.status = 'pending' {scope}
      AND NOT EXISTS (
          SELECT 1 FROM dedup_found f WHERE f.lo = d.contact_id AND f.hi = d.duplicate_contact_id
      )
"""
_OBSOLETE_ALL = text(_OBSOLETE.format(scope=""))
_OBSOLETE_TOUCHING = text(
    _OBSOLETE.format(
        scope="AND (d.contact_id = ANY(CAST(:focus AS bigint[]))"
        " OR d.duplicate_contact_id = ANY(CAST(:focus AS bigint[])))"
    )
)


async def _copy_found(
    session: AsyncSession, pairs: Sequence[FoundPair], judged: Mapping[tuple[int, int], Judgement]
) -> None:
    await session.execute(_FOUND_TABLE)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg, inside the session's transaction
    cents: dict[Decimal, int] = {}  # few distinct scores; Decimal arithmetic is slow
    await driver.copy_records_to_table(
        "dedup_found",
        columns=["lo", "hi", "cents", "reasons", "confidence", "evidence"],
        records=[
            (
                p.low,
                p.high,
                cents.get(p.score) or cents.setdefault(p.score, int(p.score * 100)),
                ",".join(p.reasons),
                j.confidence if (j := judged.get((p.low, p.high))) is not None else 0.0,
                j.evidence if j is not None else None,
            )
            for p in pairs
        ],
    )
    await session.execute(text("ANALYZE dedup_found"))


async def write_results(
    session: AsyncSession,
    account_id: int,
    pairs: Sequence[FoundPair],
    focus: Sequence[int] | None,
    judged: Mapping[tuple[int, int], Judgement] | None = None,
    *,
    rejudge: bool = False,
) -> WriteCounts:
    """Apply a run's pairs to duplicate_candidates (the caller holds the generation fence).

    `rejudge`: the focus contacts were just changed, so their pending pairs take this
    run's confidence and evidence (otherwise only unjudged rows do).
    """
    await _copy_found(session, pairs, judged or {})
    account = {"account": account_id}
    await session.execute(_FORGET_DEAD, account)
    inserted = (await session.execute(_INSERT, account)).rowcount  # type: ignore[attr-defined]
    reopened = (await session.execute(_REOPEN, account)).rowcount  # type: ignore[attr-defined]
    await session.execute(_REJUDGE_CHANGED if rejudge else _REJUDGE_UNJUDGED, account)
    if focus is None:
        result = await session.execute(_OBSOLETE_ALL, account)
    else:
        result = await session.execute(_OBSOLETE_TOUCHING, {**account, "focus": list(focus)})
    obsoleted = result.rowcount  # type: ignore[attr-defined]
    return WriteCounts(int(inserted), int(reopened), int(obsoleted))


# Profiles (kith_dedup.evidence): names, birthdays and companies normalised in SQL, so the
# values compared and the values counted for term frequencies are the same strings.
_PROFILE_CONTACTS = """
    SELECT coalesce(array_agg(id), '{{}}'),
           coalesce(array_agg(lower(btrim(display_name))), '{{}}'),
           coalesce(array_agg(CASE WHEN birthdate IS NULL THEN NULL
                                   WHEN birthdate_year_unknown THEN to_char(birthdate, '"--"MM-DD')
                                   ELSE to_char(birthdate, 'YYYY-MM-DD') END), '{{}}'),
           coalesce(array_agg(nullif(lower(btrim(company)), '')), '{{}}')
    FROM contacts
    WHERE account_id = :account AND deleted_at IS NULL {only}
"""
_PROFILE_KEYS = """
    SELECT coalesce(array_agg(f.contact_id), '{{}}'), coalesce(array_agg(t.kind), '{{}}'),
           coalesce(array_agg(f.match_key), '{{}}')
    FROM contact_fields f
    JOIN contact_field_types t ON t.id = f.contact_field_type_id AND t.kind IN ('email', 'phone')
    JOIN contacts c ON c.account_id = f.account_id AND c.id = f.contact_id
    WHERE f.account_id = :account AND f.match_key IS NOT NULL AND c.deleted_at IS NULL {only}
    UNION ALL
    SELECT coalesce(array_agg(a.contact_id), '{{}}'),
           coalesce(array_agg(CAST('address' AS text)), '{{}}'),
           coalesce(array_agg(a.match_key), '{{}}')
    FROM addresses a
    JOIN contacts c ON c.account_id = a.account_id AND c.id = a.contact_id
    WHERE a.account_id = :account AND a.match_key IS NOT NULL AND c.deleted_at IS NULL {only_a}
"""
_ALL_CONTACTS = text(_PROFILE_CONTACTS.format(only=""))
_SOME_CONTACTS = text(_PROFILE_CONTACTS.format(only="AND id = ANY(CAST(:ids AS bigint[]))"))
_ALL_KEYS = text(_PROFILE_KEYS.format(only="", only_a=""))
_SOME_KEYS = text(
    _PROFILE_KEYS.format(
        only="AND f.contact_id = ANY(CAST(:ids AS bigint[]))",
        only_a="AND a.contact_id = ANY(CAST(:ids AS bigint[]))",
    )
)


async def read_profiles(
    session: AsyncSession, account_id: int, ids: Sequence[int] | None = None
) -> dict[int, Profile]:
    """The comparable values of the account's live contacts (all, or those in `ids`)."""
    params: dict[str, Any] = {"account": account_id}
    if ids is not None:
        params["ids"] = list(ids)
    contacts = await session.execute(_ALL_CONTACTS if ids is None else _SOME_CONTACTS, params)
    cids, names, birthdays, companies = contacts.one()
    sets: dict[str, dict[int, set[str]]] = {"email": {}, "phone": {}, "address": {}}
    for owners, kinds, keys in (
        await session.execute(_ALL_KEYS if ids is None else _SOME_KEYS, params)
    ).all():
        for cid, kind, key in zip(owners, kinds, keys, strict=True):
            sets[kind].setdefault(cid, set()).add(key)
    empty: frozenset[str] = frozenset()
    return {
        int(cid): Profile(
            name or "",
            frozenset(sets["email"].get(cid, empty)),
            frozenset(sets["phone"].get(cid, empty)),
            frozenset(sets["address"].get(cid, empty)),
            birthday,
            company,
        )
        for cid, name, birthday, company in zip(cids, names, birthdays, companies, strict=True)
    }


def key_lists(profiles: Mapping[int, Profile]) -> dict[str, list[tuple[int, str]]]:
    """Detection's key lists (email, phone, address) from a full run's profiles."""
    lists: dict[str, list[tuple[int, str]]] = {"email": [], "phone": [], "address": []}
    for cid, p in profiles.items():
        lists["email"].extend((cid, k) for k in p.emails)
        lists["phone"].extend((cid, k) for k in p.phones)
        lists["address"].extend((cid, k) for k in p.addresses)
    return lists


# Term frequencies of given values, one part per kind, all in one statement (an edited
# contact's run is a few round trips in all: this used to be six of them).
_COUNT_PARTS = {
    "contacts": """
        SELECT 'contacts', '', coalesce(
            (SELECT live_contacts FROM dedup_key_state WHERE account_id = :account),
            (SELECT count(*) FROM contacts c
             WHERE c.account_id = :account AND c.deleted_at IS NULL))""",
    "names": """
        SELECT 'names', lower(btrim(c.display_name)), count(*) FROM contacts c
        WHERE c.account_id = :account AND c.deleted_at IS NULL
          AND lower(btrim(c.display_name)) = ANY(CAST(:names AS text[]))
        GROUP BY 2""",
    "birthdays": """
        SELECT 'birthdays', b, count(*) FROM (
            SELECT CASE WHEN birthdate_year_unknown THEN to_char(birthdate, '"--"MM-DD')
                        ELSE to_char(birthdate, 'YYYY-MM-DD') END AS b
            FROM contacts c
            WHERE c.account_id = :account AND c.deleted_at IS NULL AND c.birthdate IS NOT NULL
        ) s WHERE b = ANY(CAST(:birthdays AS text[])) GROUP BY b""",
    "companies": """
        SELECT 'companies', lower(btrim(c.company)), count(*) FROM contacts c
        WHERE c.account_id = :account AND c.deleted_at IS NULL
          AND lower(btrim(c.company)) = ANY(CAST(:companies AS text[]))
        GROUP BY 2""",
    "fields": """
        SELECT 'fields', f.match_key, count(DISTINCT f.contact_id)
        FROM contact_fields f
        JOIN contacts c ON c.account_id = f.account_id AND c.id = f.contact_id
        WHERE f.account_id = :account AND c.deleted_at IS NULL
          AND f.match_key = ANY(CAST(:fields AS text[]))
        GROUP BY 2""",
    "addresses": """
        SELECT 'addresses', a.match_key, count(DISTINCT a.contact_id)
        FROM addresses a
        JOIN contacts c ON c.account_id = a.account_id AND c.id = a.contact_id
        WHERE a.account_id = :account AND c.deleted_at IS NULL
          AND a.match_key = ANY(CAST(:addresses AS text[]))
        GROUP BY 2""",
}


async def read_stats(
    session: AsyncSession, account_id: int, profiles: Mapping[int, Profile]
) -> AccountStats:
    """Term frequencies over the whole account of the values these profiles hold.

    An incremental run judges few pairs: counting just their values on the account's
    indexes is cheaper than reading every profile. Kinds with no value are left out of the
    statement (a birthday count would otherwise scan every contact for nothing).
    """
    ps = list(profiles.values())
    values: dict[str, list[str]] = {
        "names": sorted({p.name for p in ps if p.name}),
        "birthdays": sorted({p.birthday for p in ps if p.birthday}),
        "companies": sorted({p.company for p in ps if p.company}),
        "fields": sorted({k for p in ps for k in (*p.emails, *p.phones)}),
        "addresses": sorted({k for p in ps for k in p.addresses}),
    }
    parts = [_COUNT_PARTS["contacts"]]
    parts += [_COUNT_PARTS[kind] for kind, wanted in values.items() if wanted]
    params: dict[str, Any] = {"account": account_id}
    params.update({kind: wanted for kind, wanted in values.items() if wanted})
    counts: dict[str, dict[str, int]] = {kind: {} for kind in (*values, "contacts")}
    for kind, value, n in (await session.execute(text(" UNION ALL ".join(parts)), params)).all():
        counts[kind][str(value)] = int(n)
    return AccountStats(
        contacts=counts["contacts"].get("", 0),
        names=counts["names"],
        emails=counts["fields"],
        phones=counts["fields"],
        addresses=counts["addresses"],
        birthdays=counts["birthdays"],
        companies=counts["companies"],
        rates=await read_rates(session, account_id),
    )


# Q's name pairs on the trigram GIN index: `%` (similarity ≥ the threshold, set to 0.5 for
# this transaction) finds the partners, `similarity() > 0.5` keeps the strict ones with the
# float4 value a full run computes. For a few contacts this replaces reading and ranking
# every trigram set of the account (~1 s at 100,000 contacts).
_SET_TRGM_THRESHOLD = text("SELECT set_config('pg_trgm.similarity_threshold', '0.5', true)")
_FOCUS_NAME_PAIRS = text(
    """
    SELECT q.id, c.id, similarity(c.display_name, q.display_name)
    FROM contacts q
    JOIN contacts c ON c.account_id = q.account_id AND c.id <> q.id
         AND c.display_name % q.display_name
    WHERE q.account_id = :account AND q.id = ANY(CAST(:focus AS bigint[]))
      AND q.deleted_at IS NULL AND c.deleted_at IS NULL
      AND similarity(c.display_name, q.display_name) > 0.5
    """
)


async def focus_name_pairs(
    session: AsyncSession, account_id: int, focus: Sequence[int]
) -> dict[tuple[int, int], float]:
    """Every live pair with a side in `focus` and similarity > 0.5, as detection gives."""
    await session.execute(_SET_TRGM_THRESHOLD)
    rows = await session.execute(_FOCUS_NAME_PAIRS, {"account": account_id, "focus": list(focus)})
    return {(min(q, c), max(q, c)): float(sim) for q, c, sim in rows.all()}


async def live_contacts(
    session: AsyncSession, account_id: int, contact_ids: Sequence[int]
) -> list[int]:
    """Those of `contact_ids` that are live contacts of the account, ascending."""
    rows = await session.scalars(
        select(Contact.id).where(
            Contact.account_id == account_id,
            Contact.id.in_(list(contact_ids)),
            Contact.deleted_at.is_(None),
        )
    )
    return sorted(int(cid) for cid in rows)


_JUDGED = text(
    """
    SELECT coalesce(array_agg(contact_id), '{}'), coalesce(array_agg(duplicate_contact_id), '{}')
    FROM duplicate_candidates
    WHERE account_id = :account AND status <> 'obsolete' AND evidence IS NOT NULL
    """
)


async def judged_pairs(session: AsyncSession, account_id: int) -> frozenset[tuple[int, int]]:
    """Pairs a full run will not judge again: known, not obsolete, with evidence.

    A full run never rewrites their confidence (only new, reopened and unjudged pairs take
    its judgement), so judging them would be wasted: the weekly rescan skips ~all of them.
    """
    lows, highs = (await session.execute(_JUDGED, {"account": account_id})).one()
    return frozenset(zip(lows, highs, strict=True))


async def save_full_run(
    session: AsyncSession, account_id: int, contacts: int, rates: Mapping[str, float] | None
) -> None:
    """Keep a full run's contact count (and the agreement rates it counted, if it did) for
    the account's later runs, and its time."""
    values: dict[str, Any] = {"live_contacts": contacts, "scanned_at": func.now()}
    if rates is not None:
        values["agreement_rates"] = dict(rates)
    statement = pg_insert(DedupKeyState).values(account_id=account_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[DedupKeyState.account_id],
            set_={name: getattr(statement.excluded, name) for name in values},
        )
    )


async def read_rates(session: AsyncSession, account_id: int) -> dict[str, float]:
    """The agreement rates the account's first full run counted (the defaults before)."""
    saved = await session.scalar(
        select(DedupKeyState.agreement_rates).where(DedupKeyState.account_id == account_id)
    )
    return {**DEFAULT_RATES, **(saved or {})}
