"""The cleanup registry covers every deleted table exactly once (reset.md §3, data-model §1)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import BigInteger, Column, MetaData, Table

from kith_common import resets
from kith_common.db.base import Base, table_info
from kith_reset.domains import DOMAINS, uncovered_tables


def test_every_deleted_table_has_exactly_one_cleanup_domain_that_owns_it() -> None:
    assert uncovered_tables(Base.metadata) == []
    named = Counter(step.name for d in DOMAINS for step in d.tables)
    owner_of = {step.name: d.durable for d in DOMAINS for step in d.tables}
    for name, table in Base.metadata.tables.items():
        if table.info["reset"] == "delete":
            assert named[name] == 1, name
            assert table.info["owner"] == owner_of[name], name
        else:
            assert name not in named, f"{name} is preserved but a domain deletes it"


def test_a_new_account_table_in_no_domain_fails_the_coverage_check() -> None:
    scratch = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(scratch)
    Table(
        "scratch_new_data",
        scratch,
        Column("id", BigInteger, primary_key=True),
        Column("account_id", BigInteger),
        info=table_info("reset-notes", "delete"),
    )
    Table("scratch_unmarked", scratch, Column("account_id", BigInteger, primary_key=True))
    assert uncovered_tables(scratch) == ["scratch_new_data", "scratch_unmarked"]


def test_admission_and_the_service_agree_on_domains_and_stages() -> None:
    assert tuple((d.name, d.stage) for d in DOMAINS) == resets.DOMAINS
