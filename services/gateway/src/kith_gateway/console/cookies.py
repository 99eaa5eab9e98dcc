"""The console's session cookie and CSRF token.

Signed with a key derived from the encryption key for this one purpose, so a cookie signature
and a stored Monica key never share key material (callers pass `Settings.encryption_key()`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "kith_console"
MAX_AGE_SECONDS = 12 * 3600
# The sign-in form's own CSRF binding: a random nonce cookie, before any session exists.
LOGIN_COOKIE = "kith_login"
LOGIN_MAX_AGE_SECONDS = 3600


def new_login_nonce() -> str:
    return secrets.token_hex(16)


def _signing_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"kith:console-cookie", hashlib.sha256).digest()


def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_signing_key(secret), salt="kith-console")


def issue(secret: bytes, token_hash: bytes) -> str:
    return _serializer(secret).dumps(token_hash.hex())


def read(secret: bytes, cookie: str | None) -> bytes | None:
    """The token hash named by a valid, unexpired cookie."""
    if not cookie:
        return None
    try:
        value = _serializer(secret).loads(cookie, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    try:
        return bytes.fromhex(str(value))
    except ValueError:
        return None


def csrf(secret: bytes, cookie: str) -> str:
    return hmac.new(_signing_key(secret), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, cookie: str | None, given: str | None) -> bool:
    return bool(cookie and given) and hmac.compare_digest(csrf(secret, cookie or ""), given or "")
