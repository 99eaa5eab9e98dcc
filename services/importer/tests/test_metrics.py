"""The importer's metrics as an operator's dashboard and alerts read them (ARCHITECTURE §7):
one completed import with a contact the listing dropped, one that Monica refuses."""

from __future__ import annotations

from typing import Any

import pytest

from kith_common.metrics import REGISTRY, render_latest
from kith_common.testing.fake_monica import FakeMonica, World
from kith_common.testing.plugin import eventually


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _refused() -> float:
    """Monica requests answered 401, whatever the endpoint."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == "kith_monica_requests_total" and sample.labels.get("status") == "401"
    )


@pytest.fixture
def world() -> World:
    world = World(seed=3)
    world.add_user("test-token")
    for i in range(1, 5):
        world.add_contact(
            id=i, first_name=f"M{i}", last_name="Y", created_at=f"2021-02-{i:02d}T00:00:00Z"
        )
    world.hidden_ids = {3}  # the listing drops it; the coverage backfill must recover it,
    world.relate(1, "friend", 3)  # found through the relationship that names it
    return world


async def test_imports_by_outcome_backfill_recoveries_and_monica_requests_are_counted(
    run_import: Any, fake: FakeMonica
) -> None:
    completed = ("kith_importer_imports_total", {"source": "monica_api", "outcome": "completed"})
    failed = ("kith_importer_imports_total", {"source": "monica_api", "outcome": "failed"})
    recovered = ("kith_importer_backfill_contacts_total", {"outcome": "full"})
    direct = ("kith_monica_requests_total", {"endpoint": "/contacts/{id}", "status": "200"})
    watched = (completed, failed, recovered, direct)
    refused_before = _refused()
    before = {name + str(labels): _value(name, **labels) for name, labels in watched}

    def delta(name: str, labels: dict[str, str]) -> float:
        return _value(name, **labels) - before[name + str(labels)]

    row = await run_import()
    assert row.status == "completed"
    await eventually(lambda: delta(*completed) == 1, what="the completed import is counted")
    assert delta(*recovered) == 1
    assert delta(*direct) == fake.count("/api/contacts/{id}") == 1

    row = await run_import(token="revoked-token")
    assert row.status == "failed"
    await eventually(lambda: delta(*failed) == 1, what="the failed import is counted")
    assert _refused() > refused_before
    assert delta(*completed) == 1

    body = render_latest()[0].decode()
    assert 'kith_importer_imports_total{outcome="completed",source="monica_api"}' in body
    assert 'kith_importer_backfill_contacts_total{outcome="full"}' in body
    # The custom registry carries the process and GC collectors the dashboard reads.
    assert _value("process_resident_memory_bytes") > 0
    assert "python_gc_collections_total" in body
