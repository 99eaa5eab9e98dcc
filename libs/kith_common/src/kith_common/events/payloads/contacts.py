"""Payloads of contact merges: the merge command and its two outcomes (dedup.md §5).

The same events come from the dedup service (API merges) and the importer (auto-merge), both
through `kith_common.merge`.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from kith_common.events.envelope import Payload

__all__ = [
    "ContactCreated",
    "ContactDeleted",
    "ContactRestored",
    "ContactUpdated",
    "ContactsMergeFailed",
    "ContactsMerged",
    "MergeContacts",
    "MergeField",
    "MergeSource",
]

MergeField = Literal[
    "first_name",
    "middle_name",
    "last_name",
    "nickname",
    "birthdate",
    "description",
    "job_title",
    "company",
    "avatar",
]
MergeSource = Literal["api", "auto_merge"]


class MergeContacts(Payload):
    """Merge `loser_id` into `survivor_id`; the merge id is this command's envelope id."""

    survivor_id: int
    loser_id: int
    field_choices: dict[MergeField, Literal["survivor", "loser"]] = Field(
        default_factory=dict,
        description='Which side each field comes from; missing → "survivor"; "loser" copies '
        "even a null (`birthdate` carries `birthdate_year_unknown`).",
    )
    candidate_id: int | None = Field(
        default=None, description="The duplicate candidate this merge resolves, if any."
    )
    requested_by: int = Field(description="The user who asked (actor of the audit row).")


class ContactsMerged(Payload):
    """A merge was applied: the loser is soft-deleted with `merged_into_id` = the survivor."""

    merge_id: uuid.UUID = Field(
        description="The merge command's envelope id, or a new id for an auto-merge."
    )
    survivor_id: int
    loser_id: int
    source: MergeSource
    import_id: int | None = Field(description="The import that auto-merged, if any.")
    moved: dict[str, int] = Field(description="Rows moved to the survivor, by kind.")
    dropped: dict[str, int] = Field(description="Loser rows dropped as duplicates, by kind.")
    dropped_photo_storage_keys: list[str] = Field(
        description="Storage keys of dropped photos; the photos service deletes the files."
    )


class ContactsMergeFailed(Payload):
    """A requested merge was refused (a result, not an error: it is never retried)."""

    merge_id: uuid.UUID
    code: str = Field(
        description="Stable code: `not_found`, `not_live`, `same_contact`, `already_merged`, ..."
    )


class ContactCreated(Payload):
    """A contact was created through the API (issue 18)."""

    contact_id: int


class ContactDeleted(Payload):
    """A contact was moved to the trash through the API."""

    contact_id: int


class ContactRestored(Payload):
    """A contact was restored from the trash through the API."""

    contact_id: int


class ContactUpdated(Payload):
    """A contact, or one of its emails, phones or addresses, was changed through the API.

    Also the reader of all four contact.* events (dedup): `changed` is empty on the others.
    """

    contact_id: int
    changed: list[str] = Field(
        default_factory=list,
        description="What changed: the contact's field names (`first_name`, `company`, …), "
        "or `fields` / `addresses` for its contact fields and addresses.",
    )
