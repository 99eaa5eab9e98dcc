"""Every `KITH_*` setting, read once through pydantic-settings.

Only `build_app` and the CLI call `get_settings()`; everything below them takes plain values.
A bad value stops start-up with a message that names the environment variable
(see `SettingsError`), so an operator knows what to fix without reading a traceback.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kith_common.ssrf import AllowedHosts, parse_allowed_hosts

ENV_PREFIX = "KITH_"

# A development-only secret: `Settings.require_production_secret` refuses it outside `kith dev`
# and tests, the way the FastAPI template refuses "changethis".
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105  # refused in production
# Secret keys printed in this repository, which anyone can read: refused by `kith serve` like
# the development key (docker-compose.yml's fallback, deploy/k8s/base/secret.example.yaml's).
PUBLISHED_SECRET_KEYS = frozenset(
    {
        DEV_SECRET_KEY,
        "compose-insecure-default-set-KITH_SECRET_KEY-in-env",
        "CHANGE-ME",
    }
)
MIN_SECRET_BYTES = 32
_MIN_DISTINCT_CHARACTERS = 12  # "aaaa…" or "1234…" is long, not random
_GENERATE = "generate one with `openssl rand -base64 32`"


class SettingsError(RuntimeError):
    """A setting has a bad value; the message names the variable."""


class Settings(BaseSettings):
    """The one settings model every service reads (ARCHITECTURE §9)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
    )

    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/kith"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = Field(
        default=None,
        description="The service's NATS user (deploy: one per service, account KITH); none "
        "for a server without authentication.",
    )
    nats_password: SecretStr | None = Field(
        default=None, validate_default=True, description="The NATS user's password."
    )
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    secret_key_previous: SecretStr | None = Field(
        default=None,
        description="The key before a rotation: still decrypts what it encrypted, never encrypts.",
    )
    storage_url: str = "file:///var/lib/kith"
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    gateway_port: int = Field(default=8000, ge=0, le=65535)
    monica_rate_limit_per_minute: int = Field(default=55, ge=0)
    monica_rate_limit_window_seconds: float = Field(
        default=60.0,
        gt=0,
        description="The limiter's window (importer.md §5: a test setting shortens it).",
    )
    import_allow_private_hosts: bool = False
    import_allowed_hosts: str = Field(
        default="",
        description="Non-public hosts the importer may contact: host names and CIDRs, "
        "comma-separated (link-local and metadata addresses are refused regardless).",
    )
    event_retention_days: int = Field(default=7, ge=1)
    max_upload_mb: int = Field(default=20, ge=1)
    vcard_max_cards: int = Field(
        default=50_000,
        ge=1,
        description="Cards one vCard file may hold (the upload cap limits bytes, not cards).",
    )
    reset_batch_size: int = Field(default=1000, ge=1)
    reset_stall_seconds: int = Field(default=900, ge=1)
    reset_import_stop_timeout_seconds: int = Field(default=120, ge=1)
    shutdown_grace_seconds: int = Field(default=20, ge=0)
    # Every service records itself in service_instances and beats this often; readers call an
    # instance gone after three missed beats (kith_common.presence).
    presence_interval_seconds: float = Field(default=10.0, gt=0, le=300)
    nats_replicas: int = Field(default=1, ge=1, le=5)
    import_key_ttl_hours: int = Field(default=24, ge=1)
    monica_max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    monica_request_deadline_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Longest one Monica request may take, connect + headers + body.",
    )
    monica_max_retry_after_seconds: float = Field(
        default=120.0,
        ge=0,
        description="Longest 429 Retry-After honoured; a longer one fails the phase.",
    )
    connection_checks_per_minute: int = Field(
        default=10,
        ge=1,
        description="Monica connection checks one account may start per minute (then 429).",
    )
    connection_check_concurrency: int = Field(
        default=8,
        ge=1,
        description="Connection checks one importer process runs at once; more are refused.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Proxies whose X-Forwarded-For/-Proto the HTTP servers believe (uvicorn's "
        "--forwarded-allow-ips: comma-separated IPs or CIDRs, '*' for any); empty: none.",
    )
    stream_revalidate_seconds: float = Field(
        default=30.0,
        gt=0,
        le=30,
        description="How often an open event stream checks its token again (closes if revoked).",
    )
    streams_per_token: int = Field(
        default=5, ge=1, description="Event streams one token may hold open per gateway process."
    )
    monica_max_photo_page_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    photo_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    document_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    stream_prefix: str = Field(
        default="",
        description="Prefix for stream names and subjects; tests isolate themselves with it.",
        pattern=r"^[A-Za-z0-9_]*$",
    )

    @field_validator("secret_key_previous", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty `KITH_SECRET_KEY_PREVIOUS` (the example Secret's) means no rotation."""
        return None if value == "" else value

    @field_validator("import_allowed_hosts")
    @classmethod
    def _allowed_hosts(cls, value: str) -> str:
        parse_allowed_hosts(value)  # a bad entry stops start-up, naming the variable
        return value

    def allowed_hosts(self) -> AllowedHosts:
        """`KITH_IMPORT_ALLOWED_HOSTS`, parsed."""
        return parse_allowed_hosts(self.import_allowed_hosts)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept a plain postgres URL and pin the asyncpg driver, as operators paste either."""
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if not value.startswith("postgresql+asyncpg://"):
            msg = "must be a postgresql:// URL"
            raise ValueError(msg)
        return value

    @field_validator("nats_url")
    @classmethod
    def _nats_scheme(cls, value: str) -> str:
        for url in value.split(","):
            if not url.strip().startswith(("nats://", "tls://", "ws://", "wss://")):
                msg = "must be nats://host:port (comma-separated for a cluster)"
                raise ValueError(msg)
        return value

    @field_validator("nats_password")
    @classmethod
    def _nats_credentials_together(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        """A user without a password (or the reverse) is a half-configured Secret: refuse it."""
        if (info.data.get("nats_user") is None) != (value is None):
            msg = "set together with KITH_NATS_USER, or neither"
            raise ValueError(msg)
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, value: str) -> str:
        if not value.startswith(("file://", "s3://")):
            msg = "must be file:///path or s3://bucket/prefix"
            raise ValueError(msg)
        return value

    @property
    def is_dev_secret(self) -> bool:
        return self.secret_key.get_secret_value() == DEV_SECRET_KEY

    def encryption_key(self) -> bytes:
        """A 32-byte AES key derived from `KITH_SECRET_KEY` (any length accepted)."""
        return _derive(self.secret_key.get_secret_value())

    def decryption_keys(self) -> tuple[bytes, ...]:
        """The current key, then the previous one (`KITH_SECRET_KEY_PREVIOUS`) if set.

        Rotation: set the old key as `KITH_SECRET_KEY_PREVIOUS` and a new `KITH_SECRET_KEY`;
        secrets stored before still decrypt, new ones use the new key. Drop the previous key
        once nothing encrypted with it is left (stored Monica keys live ≤ 24 h).
        """
        keys = [self.encryption_key()]
        if self.secret_key_previous is not None:
            keys.append(_derive(self.secret_key_previous.get_secret_value()))
        return tuple(keys)

    def require_production_secret(self) -> None:
        """Refuse a published or weak secret key; called by `kith serve` outside dev mode."""
        problem = secret_key_problem(self.secret_key.get_secret_value())
        if problem is not None:
            msg = f"{ENV_PREFIX}SECRET_KEY: {problem}; {_GENERATE}"
            raise SettingsError(msg)


def _derive(secret: str) -> bytes:
    raw = secret.encode()
    decoded = _decoded(raw)
    if len(decoded) == 32:
        return decoded
    return hashlib.sha256(raw).digest()


def _decoded(raw: bytes) -> bytes:
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except ValueError:
        return b""


def secret_key_problem(secret: str) -> str | None:
    """Why `secret` must not protect production data, or None when it may.

    Refused: a key printed in this repository (anyone has it), or less than 32 bytes of key
    material: base64 (`openssl rand -base64 32`) counts decoded, hex counts decoded, anything
    else counts its bytes; a long key of few distinct characters is refused as well.
    """
    if secret in PUBLISHED_SECRET_KEYS:
        if secret == DEV_SECRET_KEY:
            return "the built-in development key is not allowed here"
        return "this key is a published example (it is printed in Kith's repository)"
    if _key_material(secret) < MIN_SECRET_BYTES:
        return f"the key holds less than {MIN_SECRET_BYTES} bytes of key material"
    if len(set(secret)) < _MIN_DISTINCT_CHARACTERS:
        return "the key repeats too few characters to be random"
    return None


def _key_material(secret: str) -> int:
    """Bytes a key encodes: decoded for hex and strict base64, else its length in bytes."""
    text = secret.strip()
    if text and len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
        return len(text) // 2
    standard = text.translate(str.maketrans("-_", "+/"))
    try:
        return len(base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True))
    except ValueError:
        return len(secret.encode())


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a validation failure into one readable message per variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # overrides come from tests/CLI
    except ValidationError as err:
        lines = []
        for error in err.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from err


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once (build_app and the CLI only)."""
    return load_settings()
