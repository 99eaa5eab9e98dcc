"""The console's session cookie and CSRF token (signed with `KITH_SECRET_KEY`)."""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "kith_console"
MAX_AGE_SECONDS = 12 * 3600


def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="kith-console")


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
    return hmac.new(secret, b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, cookie: str | None, given: str | None) -> bool:
    return bool(cookie and given) and hmac.compare_digest(csrf(secret, cookie or ""), given or "")
