"""The JSON envelope every message on the bus carries (ARCHITECTURE §3, the event contract).

`id` is also the `Nats-Msg-Id` header and the outbox row id, so a message has one identity from
the producer's transaction to every consumer's inbox. `data` is a typed payload per subject;
other systems read these documents, so renaming a field is a breaking change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

P = TypeVar("P", bound=BaseModel)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Payload(BaseModel):
    """Base of every typed payload: strict about unknown fields so drift is caught early."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvelopeHead(BaseModel):
    """The fields every envelope has, whatever its payload."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Also the Nats-Msg-Id header.")
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
