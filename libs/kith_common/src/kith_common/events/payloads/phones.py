"""Payloads of the phone renormalize backfill (dedup.md §6.6)."""

from __future__ import annotations

from pydantic import Field

from kith_common.events.envelope import Payload

__all__ = ["PhonesRenormalized", "RenormalizePhones"]


class RenormalizePhones(Payload):
    """Re-derive stored phone values and every match key of one account (resumable)."""

    account_id: int


class PhonesRenormalized(Payload):
    """The backfill finished; a full scan follows when match keys changed."""

    account_id: int
    scanned: int = Field(description="Contact fields and addresses read.")
    updated: int = Field(description="Rows whose stored value changed.")
    keys_changed: int = Field(description="Rows whose match key changed.")
