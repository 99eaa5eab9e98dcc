"""The connection check (importer.md §2): take the check row, call `GET /api/me`, answer.

The gateway stored the URL and the encrypted key; the request carries only the check id, so
the key never travels on NATS. The row is deleted when taken (one answer per check), and every
failure becomes a readable message with a machine code, never an exception.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.crypto import SecretDecryptError, decrypt_secret
from kith_common.db.models import ImportConnectionCheck
from kith_common.events.payloads.imports import CheckConnectionReply, MonicaUser
from kith_common.monica.client import origin_of
from kith_common.monica.errors import (
    MonicaAuthError,
    MonicaError,
    MonicaNotFound,
    MonicaNotJson,
    MonicaRefused,
    MonicaUnavailable,
)
from kith_common.monica.urls import api_root
from kith_importer.config import ImporterConfig
from kith_importer.monica import open_client

__all__ = ["BUSY", "check_bucket", "check_connection"]

BUSY = CheckConnectionReply(
    ok=False,
    code="error",
    message="Too many connection checks are running right now; try again in a moment.",
)


def check_bucket(api_url: str) -> str:
    """The limiter bucket of every check against one Monica host, whatever the key."""
    return f"monica-check:{origin_of(api_root(api_url))}"


async def check_connection(
    sessions: async_sessionmaker[AsyncSession], config: ImporterConfig, check_id: uuid.UUID
) -> CheckConnectionReply:
    async with sessions() as session, session.begin():
        taken = (
            await session.execute(
                delete(ImportConnectionCheck)
                .where(ImportConnectionCheck.id == check_id)
                .returning(
                    ImportConnectionCheck.api_url,
                    ImportConnectionCheck.api_key_encrypted,
                    ImportConnectionCheck.expires_at,
                )
            )
        ).first()
    if taken is None or taken.expires_at < dt.datetime.now(dt.UTC):
        return CheckConnectionReply(
            ok=False, code="error", message="The check expired or was already answered; try again."
        )
    try:
        api_key = decrypt_secret(config.decryption_keys, taken.api_key_encrypted)
    except SecretDecryptError:
        return CheckConnectionReply(
            ok=False, code="error", message="The key could not be read; try again."
        )
    client = open_client(
        config, sessions, taken.api_url, api_key, bucket=check_bucket(taken.api_url)
    )
    try:
        user = await client.me()
    except MonicaError as err:
        return CheckConnectionReply(ok=False, code=err.code, message=_message(err))
    finally:
        await client.aclose()
    name = user.get("name") or " ".join(
        str(p) for p in (user.get("first_name"), user.get("last_name")) if p
    )
    user_id = user.get("id")
    email = user.get("email")
    return CheckConnectionReply(
        ok=True,
        code="ok",
        message=f"Connected to Monica as {name}.",
        monica_user=MonicaUser(
            id=user_id if isinstance(user_id, int) else 0,
            name=str(name or "?"),
            email=email if isinstance(email, str) else None,
        ),
    )


def _message(err: MonicaError) -> str:
    if isinstance(err, MonicaAuthError):
        return "Monica rejected the API key (401). Create a new personal access token."
    if isinstance(err, MonicaNotJson):
        return "This URL answers with a web page, not the Monica API. Check the base URL."
    if isinstance(err, MonicaNotFound):
        return "No Monica API was found at this URL (404). Check the base URL."
    if isinstance(err, MonicaRefused):
        return err.message
    if isinstance(err, MonicaUnavailable):
        return f"Monica could not be reached: {err.message}"
    return f"Monica answered unexpectedly: {err.message}"
