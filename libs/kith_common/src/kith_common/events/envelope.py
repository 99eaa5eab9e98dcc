"""The JSON envelope every message on the bus carries (ARCHITECTURE §3, the event contract).

`id` is also the `Nats-Msg-Id` header and the outbox row id, so a message has one identity from
the producer's transaction to every consumer's inbox. `data` is a typed payload per subject;
other systems read these documents, so renaming a field is a breaking change.

Strict writers, tolerant readers: a payload built in code refuses unknown fields, so a typo or a
secret never rides along; a payload *read* from the bus (validated with `READER_CONTEXT`) drops
fields it does not know, and any `schema_version` is accepted. During a rolling upgrade a new
producer's optional field therefore reaches an old consumer as a message it handles, not one it
dead-letters (docs/events.md, compatibility rules).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

P = TypeVar("P", bound=BaseModel)

SCHEMA_VERSION = 1
"""The envelope and payload schema version this code writes. Bumped when a payload gains a
field (an additive change); readers accept any version, older or newer."""

TOLERANT = "kith_tolerant_reader"
READER_CONTEXT: dict[str, Any] = {TOLERANT: True}
"""Validation context of every read from the bus: unknown payload fields are ignored."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Payload(BaseModel):
    """Base of every typed payload: strict when built, tolerant when read.

    Building one with an unknown field raises (strict writer). Validating with
    `READER_CONTEXT` first drops the keys the model does not declare, at every nesting level
    (the context reaches nested payloads), so a newer producer's additions are ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _ignore_unknown_when_reading(cls, data: Any, info: ValidationInfo) -> Any:
        if not (info.context and info.context.get(TOLERANT)) or not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        known.update(f.alias for f in cls.model_fields.values() if f.alias)
        return {key: value for key, value in data.items() if key in known}


class EnvelopeHead(BaseModel):
    """The fields every envelope has, whatever its payload.

    Unknown top-level fields are ignored (pydantic's default), so a reader tolerates a newer
    envelope as it tolerates a newer payload.
    """

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Also the Nats-Msg-Id header.")
    schema_version: int = Field(
        default=SCHEMA_VERSION,
        ge=1,
        description="The schema version the producer wrote; a reader accepts any version and "
        "ignores fields it does not know (docs/events.md).",
    )
    type: str = Field(description="The subject's fact or verb, e.g. `import.completed`.")
    occurred_at: dt.datetime = Field(default_factory=_now)
    account_id: int | None = Field(
        default=None, description="The account the message concerns; None for system messages."
    )
    generation: int | None = Field(
        default=None,
        description="The account generation current when produced; older ones are dropped.",
    )
    correlation_id: uuid.UUID | None = Field(
        default=None, description="Carried from the HTTP request that started the chain."
    )


class Envelope(EnvelopeHead, Generic[P]):
    """One message: identity, type, account scope, generation fence value, and its payload."""

    data: P


class RawEnvelope(EnvelopeHead):
    """An envelope whose payload has not been validated yet (the bus wrapper's first parse)."""

    data: dict[str, Any] = Field(default_factory=dict)
