"""What a merge did (or would do): the report, the refusals, the field choices (dedup.md §5.4).

The report is plain data built from the merge plan, so a preview and the merge that follows
it on the same data produce equal reports; `as_json()` is what the audit row, the
contact_merges row and the gateway serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from kith_common.errors import Conflict

__all__ = [
    "FIELD_CHOICE_FIELDS",
    "MERGE_KINDS",
    "MergeConflict",
    "MergeReport",
    "ReportContact",
    "ReportField",
]

FIELD_CHOICE_FIELDS: Final = (
    "first_name",
    "middle_name",
    "last_name",
    "nickname",
    "birthdate",
    "description",
    "job_title",
    "company",
    "avatar",
)
"""The fields a user picks a side for; `birthdate` carries `birthdate_year_unknown`."""

MERGE_KINDS: Final = (
    "notes",
    "activities",
    "calls",
    "life_events",
    "documents",
    "photos",
    "addresses",
    "contact_fields",
    "tags",
    "reminders",
    "relationships",
    "conversations",
    "gifts",
    "debts",
    "pets",
    "tasks",
    "first_met_through",
    "merged_into",
    "import_records",
)
"""Row kinds a merge moves or drops, in the order of the steps (dedup.md §5.3)."""

MergeConflictCode = Literal[
    "not_found", "not_live", "same_contact", "already_merged", "candidate_mismatch"
]
_CONFLICT_STATUS: Final[dict[str, int]] = {
    "not_found": 404,
    "same_contact": 400,
    "not_live": 409,
    "already_merged": 409,
    "candidate_mismatch": 422,
}


class MergeConflict(Conflict):
    """A merge refused for what the contacts are, not for a fault: retrying cannot help.

    The dedup handler records it as a failed merge (`kith.evt.contacts.merge_failed`) and
    acks; the gateway answers `status` (dedup.md §5.1). `merged_into_id` names the contact a
    not-live side was merged into, if any.
    """

    def __init__(
        self, code: MergeConflictCode, detail: str = "", *, merged_into_id: int | None = None
    ) -> None:
        super().__init__(detail or code, code=code)
        self.status = _CONFLICT_STATUS[code]
        self.merged_into_id = merged_into_id


@dataclass(frozen=True, slots=True)
class ReportContact:
    id: int
    display_name: str
    display_name_after: str | None = None


@dataclass(frozen=True, slots=True)
class ReportField:
    """One survivor field the merge changes (only changed fields are listed)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class MergeReport:
    """survivor, loser, changed fields, moved counts, dropped ids, candidate ids by outcome."""

    survivor: ReportContact
    loser: ReportContact
    fields: tuple[ReportField, ...]
    moved: dict[str, int]
    dropped: dict[str, list[int]]
    candidates: dict[str, list[int]]
    dropped_photo_storage_keys: tuple[str, ...] = field(default=())

    def dropped_counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self.dropped.items()}

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (dates as ISO strings): the audit metadata and the API's report."""
        return {
            "survivor": {
                "id": self.survivor.id,
                "display_name_before": self.survivor.display_name,
                "display_name_after": self.survivor.display_name_after,
            },
            "loser": {"id": self.loser.id, "display_name": self.loser.display_name},
            "fields": [
                {"field": f.field, "from": _plain(f.old), "to": _plain(f.new)} for f in self.fields
            ],
            "moved": dict(self.moved),
            "dropped": {kind: list(ids) for kind, ids in self.dropped.items()},
            "candidates": {k: list(v) for k, v in self.candidates.items()},
        }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
