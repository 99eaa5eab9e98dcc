"""Secrets at rest: AES-256-GCM under the key derived from `KITH_SECRET_KEY`.

The Monica API key is the only secret Kith stores (ARCHITECTURE §6). It is encrypted before it
reaches PostgreSQL and decrypted only in the memory of the process that calls Monica. The blob
is `version (1 byte) || nonce (12 bytes) || ciphertext+tag`. Key rotation: new blobs use
`KITH_SECRET_KEY`; decryption also tries `KITH_SECRET_KEY_PREVIOUS` (docs/operations.md). A
purpose string is bound as associated data, so a blob copied from one column into another
does not decrypt there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kith_common.errors import Permanent

__all__ = ["MONICA_API_KEY", "SecretDecryptError", "decrypt_secret", "encrypt_secret"]

_VERSION = b"\x01"
_NONCE_BYTES = 12
MONICA_API_KEY = b"kith:monica-api-key"
"""Associated data for a Monica API key (imports and connection checks)."""


class SecretDecryptError(Permanent):
    """The blob was not made with this secret key (rotated `KITH_SECRET_KEY`, or corrupted)."""

    code = "secret-undecryptable"


def encrypt_secret(key: bytes, secret: str, *, purpose: bytes = MONICA_API_KEY) -> bytes:
    """Encrypt `secret` under the 32-byte `key` (`Settings.encryption_key()`)."""
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, secret.encode(), purpose)


def decrypt_secret(
    key: bytes | Sequence[bytes], blob: bytes, *, purpose: bytes = MONICA_API_KEY
) -> str:
    """Decrypt a blob of `encrypt_secret` with `key`, or the first of several that fits.

    Several keys are a rotation (`Settings.decryption_keys()`: the current key, then the
    previous one), so blobs stored before `KITH_SECRET_KEY` changed still decrypt.

    Raises:
        SecretDecryptError: wrong key, wrong purpose or a damaged blob. The message never
            contains any part of the blob or the secret.
    """
    if len(blob) < 1 + _NONCE_BYTES + 16 or blob[:1] != _VERSION:
        msg = "the stored secret has an unknown format"
        raise SecretDecryptError(msg)
    nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    for candidate in (key,) if isinstance(key, bytes) else key:
        with contextlib.suppress(InvalidTag):
            return AESGCM(candidate).decrypt(nonce, body, purpose).decode()
    msg = (
        "the stored secret cannot be decrypted with the current KITH_SECRET_KEY "
        "(nor KITH_SECRET_KEY_PREVIOUS)"
    )
    raise SecretDecryptError(msg)
