"""The fake Monica reproduces the API behaviours the importer depends on (API §12)."""

from __future__ import annotations

import hashlib
import random
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kith_common.testing.fake_monica import FakeMonica, FakeMonicaServer, Fault, World, generate
from kith_common.testing.fake_monica.app import _tie_page
from kith_common.testing.fake_monica.media import add_document

JSON = {"Accept": "application/json", "Authorization": "Bearer test-token"}


def _get(server: FakeMonicaServer, path: str, **params: object) -> httpx.Response:
    return httpx.get(server.url + path, params=params, headers=JSON)


def test_listing_has_the_laravel_envelope_with_page_only_links(server: FakeMonicaServer) -> None:
    body = _get(server, "/api/contacts", limit=10, page=2, with_="x").json()
    assert set(body["meta"]) == {
        "current_page",
        "from",
        "last_page",
        "links",
        "path",
        "per_page",
        "to",
        "total",
    }
    assert body["meta"]["current_page"] == 2
    assert body["links"]["next"].endswith("?page=3")
    assert "limit" not in body["links"]["next"]
    assert len(body["data"]) == 10


def test_default_limit_is_15_and_past_the_end_is_empty(server: FakeMonicaServer) -> None:
    assert len(_get(server, "/api/contacts").json()["data"]) == 15
    body = _get(server, "/api/contacts", limit=100, page=9).json()
    assert body["data"] == []
    assert body["meta"]["from"] is None
    assert body["meta"]["total"] > 0


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [({"limit": 101}, 400, 30), ({"sort": "name"}, 400, 39), ({"sort": "called_at"}, 500, 40)],
)
def test_paging_errors_use_monicas_codes(
    server: FakeMonicaServer, params: dict[str, object], status: int, code: int
) -> None:
    response = _get(server, "/api/contacts", **params)
    assert response.status_code == status
    assert response.json()["error"]["error_code"] == code


def test_bad_token_is_401_with_json_accept_and_a_login_redirect_without(
    server: FakeMonicaServer,
) -> None:
    bad = {"Authorization": "Bearer nope"}
    response = httpx.get(server.url + "/api/me", headers={**bad, "Accept": "application/json"})
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}
    redirect = httpx.get(server.url + "/api/me", headers=bad)
    assert redirect.status_code == 302
    assert redirect.headers["location"].endswith("/login")


def test_listing_excludes_partial_inactive_and_other_book_but_direct_get_finds_them(
    fake: FakeMonica, server: FakeMonicaServer
) -> None:
    body = _get(server, "/api/contacts", limit=100).json()
    listed = {c["id"] for c in body["data"]}
    own = [c for c in fake.world.contacts.values() if c.account_id == 1]
    hidden = [c for c in own if c.is_partial or not c.is_active or c.address_book]
    assert hidden
    assert body["meta"]["total"] == len(own) - len(hidden)
    assert not listed & {c.id for c in hidden}
    partial = next(c for c in hidden if c.is_partial)
    data = _get(server, f"/api/contacts/{partial.id}", **{"with": "contactfields"}).json()["data"]
    assert data["is_partial"] is True
    for absent in ("contactFields", "addresses", "tags", "statistics", "notes"):
        assert absent not in data
    assert "relationships" not in data["information"]


def test_a_listed_contact_shows_its_own_counts_newest_notes_and_relationships() -> None:
    """A listing page gathers its contacts' items together; each must still get only its own."""
    world = generate(contacts=40, seed=9, notes_per_contact=2.0, relationship_ratio=0.3)
    fake = FakeMonica(world)
    ann, bob = fake.listed_contacts()[:2]
    for _ in range(2):
        world.add_item("calls", contact_id=ann.id)
    world.add_item("activities", attendee_ids=[ann.id, bob.id])
    for day in (3, 9, 1, 7, 5):
        world.add_item("notes", contact_id=ann.id, body=f"day {day}", created_at=f"2024-01-0{day}")
    with FakeMonicaServer(fake) as server:
        page = _get(server, "/api/contacts", limit=100, **{"with": "contactfields"}).json()["data"]
        for data in page:
            direct = _get(server, f"/api/contacts/{data['id']}", **{"with": "contactfields"})
            assert data == direct.json()["data"]
    shown = {data["id"]: data for data in page}
    assert shown[ann.id]["statistics"]["number_of_calls"] == 2
    assert shown[bob.id]["statistics"]["number_of_calls"] == 0
    assert shown[ann.id]["statistics"]["number_of_activities"] == 1
    assert shown[bob.id]["statistics"]["number_of_activities"] == 1
    for cid, data in shown.items():
        notes = [n for n in world.items["notes"] if n["contact_id"] == cid]
        assert data["statistics"]["number_of_notes"] == len(notes)
        newest = sorted(notes, key=lambda n: (n["created_at"], n["id"]), reverse=True)[:3]
        assert [n["id"] for n in data["notes"]] == [n["id"] for n in newest]
        related = data["information"]["relationships"]
        linked = {e["contact"]["id"] for group in related.values() for e in group["contacts"] or []}
        assert linked == {r["of_contact"] for r in world.relationships if r["contact_is"] == cid}
    assert any(data["notes"] for data in page)
    assert [n["body"] for n in shown[ann.id]["notes"]] == ["day 9", "day 7", "day 5"]
    assert sum(
        len(g["contacts"] or []) for d in page for g in d["information"]["relationships"].values()
    )


def test_other_tenants_and_unknown_ids_are_404_error_31(
    fake: FakeMonica, server: FakeMonicaServer
) -> None:
    other = next(c for c in fake.world.contacts.values() if c.account_id != 1)
    for cid in (other.id, 10**7):
        response = _get(server, f"/api/contacts/{cid}")
        assert response.status_code == 404
        assert response.json()["error"]["error_code"] == 31


def test_tie_groups_drop_rows_deterministically_while_total_stays_right() -> None:
    fake = FakeMonica(generate(contacts=1000, seed=3))
    expected = fake.expected_unlisted(100)
    assert 5 <= len(expected) <= 30
    with FakeMonicaServer(fake) as server:
        first = _get(server, "/api/contacts", limit=100, page=1).json()
        seen: set[int] = set()
        for page in range(1, first["meta"]["last_page"] + 1):
            seen |= {
                c["id"] for c in _get(server, "/api/contacts", limit=100, page=page).json()["data"]
            }
        total = first["meta"]["total"]
    assert total == len(fake.listed_contacts())
    assert {c.id for c in fake.listed_contacts()} - seen == expected
    assert FakeMonica(generate(contacts=1000, seed=3)).expected_unlisted(100) == expected


def test_hosted_ids_spread_a_hundredfold_and_a_burst_larger_than_a_page_tears() -> None:
    world = generate(contacts=300, seed=4, id_spread=100, large_bursts=(150,))
    fake = FakeMonica(world)
    ids = sorted(c.id for c in world.contacts.values())
    assert len(ids) == 300  # no other tenant is materialised
    assert ids[-1] - ids[0] > 300 * 50
    stamps = [c.created_at for c in world.contacts.values()]
    assert max(stamps.count(s) for s in stamps) == 150
    assert fake.expected_unlisted(100)  # the big burst straddles pages and loses members
    gap = next(i for i in range(ids[0], ids[-1]) if i not in world.contacts)
    with FakeMonicaServer(fake) as server:
        assert _get(server, f"/api/contacts/{gap}").status_code == 404
    # without the knobs a seed draws the very same world as before they existed
    plain = generate(contacts=300, seed=4)
    assert sorted(plain.contacts) == list(range(1, 301))


def test_account_wide_lists_drop_tied_items_when_asked() -> None:
    world = generate(contacts=200, seed=5, misc_per_contact=1.0)
    fake = FakeMonica(world, tie_drop={"contacts", "calls"})
    assert fake.expected_unlisted_items("calls", limit=7)  # all calls share one called_at
    assert not fake.expected_unlisted_items("gifts", limit=7)  # only when asked


def _every_group_shuffled(
    rows: list[tuple[int, int]], descending: bool, limit: int, page: int, salt: tuple[int, ...]
) -> list[tuple[int, int]]:
    """The tie drop as API §11.1 states it: every tie group permuted, then LIMIT/OFFSET."""
    ordered = sorted(rows, reverse=descending)
    groups: list[list[tuple[int, int]]] = []
    for row in ordered:
        if groups and groups[-1][0][0] == row[0]:
            groups[-1].append(row)
        else:
            groups.append([row])
    shuffled: list[tuple[int, int]] = []
    for group in groups:
        if len(group) > 1:
            digest = hashlib.sha256(repr((*salt, group[0][0])).encode()).digest()
            random.Random(digest).shuffle(group)
        shuffled.extend(group)
    return shuffled[(page - 1) * limit : page * limit]


@settings(max_examples=300, deadline=None)
@given(
    keys=st.lists(st.integers(0, 12), max_size=120),
    descending=st.booleans(),
    limit=st.integers(1, 30),
    page=st.integers(1, 12),
)
def test_a_page_shows_what_shuffling_every_tie_group_would(
    keys: list[int], descending: bool, limit: int, page: int
) -> None:
    """The fake shuffles only the groups a page overlaps; what a page shows is unchanged."""
    rows = [(key, row_id) for row_id, key in enumerate(keys)]
    salt = (17, "contacts", limit, page)
    shown = _tie_page(
        rows,
        lambda r: r[0],
        descending,
        limit,
        page,
        salt=salt,
        shuffle=True,
        tiebreak=lambda r: r[1],
    )
    assert shown == _every_group_shuffled(rows, descending, limit, page, salt)


def test_rate_limit_answers_429_with_retry_after_and_counts_only_authenticated() -> None:
    fake = FakeMonica(generate(contacts=5), rate_limit=3, rate_window=30)
    with FakeMonicaServer(fake) as server:
        httpx.get(server.url + "/api/me", headers={"Accept": "application/json"})
        answers = [_get(server, "/api/me") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    assert answers[3].json()["error"]["error_code"] == 34
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert fake.stats()["too_many"] == 1


def test_throttled_files_spend_the_tokens_budget_and_links_can_be_relative() -> None:
    world = generate(contacts=2)
    add_document(world, contact_id=next(iter(world.contacts)), name="r.pdf", relative=True)
    fake = FakeMonica(world, rate_limit=2, rate_window=30, throttle_files=True)
    fake.add_fault(Fault("/public/{file}", status=503, retry_after=7))
    with FakeMonicaServer(fake) as server:
        [doc] = _get(server, "/api/documents", limit=10).json()["data"]
        scripted = httpx.get(server.url + doc["link"], headers=JSON)
        anonymous = httpx.get(server.url + doc["link"])
        over = httpx.get(server.url + doc["link"], headers=JSON)
    assert doc["link"] == "/public/r.pdf"
    assert (scripted.status_code, scripted.headers["Retry-After"]) == (503, "7")
    assert anonymous.status_code == 200  # no token: not this user's budget
    assert over.status_code == 429
    assert fake.count("/public/{file}", 429) == 1


def test_account_wide_notes_are_newest_first_and_405_on_index_less_routes(
    server: FakeMonicaServer,
) -> None:
    notes = _get(server, "/api/notes", limit=100).json()["data"]
    stamps = [n["created_at"] for n in notes]
    assert stamps == sorted(stamps, reverse=True)
    assert notes[0]["contact"]["object"] == "contact"
    assert _get(server, "/api/contactfields").status_code == 405
    assert _get(server, "/api/relationships").status_code == 405


def test_world_round_trips_through_a_json_fixture(fake: FakeMonica) -> None:
    again = World.from_json(fake.world.to_json())
    assert again.contacts == fake.world.contacts
    assert FakeMonica(again).expected_unlisted(10) == fake.expected_unlisted(10)


def test_counters_and_ordered_log_record_every_request(
    fake: FakeMonica, server: FakeMonicaServer
) -> None:
    _get(server, "/api/me")
    _get(server, "/api/contacts/999999")
    assert fake.count("/api/me", 200) == 1
    assert fake.count("/api/contacts/{id}", 404) == 1
    assert [e.endpoint for e in fake.log] == ["/api/me", "/api/contacts/{id}"]
    assert httpx.get(server.url + "/__fake/stats").json()["total"] == 2


def test_latency_delays_every_answer_as_a_remote_monica_would(fake: FakeMonica) -> None:
    fake.latency = 0.3
    with FakeMonicaServer(fake) as slow:
        started = time.monotonic()
        assert _get(slow, "/api/contacts", limit=1).status_code == 200
        assert time.monotonic() - started >= 0.3
