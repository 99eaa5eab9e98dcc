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


def new_session() -> bytes:
    """A console session's secret: the cookie carries it, the database only its hash."""
    return secrets.token_bytes(32)


def session_id(session_secret: bytes) -> bytes:
    """`console_sessions.id` of a session secret (a leaked table row signs no one in)."""
    return hashlib.sha256(session_secret).digest()


def issue(secret: bytes, session_secret: bytes) -> str:
    return _serializer(secret).dumps(session_secret.hex())


def read(secret: bytes, cookie: str | None) -> bytes | None:
    """The session secret named by a valid, unexpired cookie."""
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
