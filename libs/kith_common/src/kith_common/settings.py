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

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "KITH_"

# A development-only secret: `Settings.require_production_secret` refuses it outside `kith dev`
# and tests, the way the FastAPI template refuses "changethis".
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105  # refused in production


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
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
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
    monica_max_photo_page_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    photo_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    document_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    stream_prefix: str = Field(
        default="",
        description="Prefix for stream names and subjects; tests isolate themselves with it.",
        pattern=r"^[A-Za-z0-9_]*$",
    )

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
        raw = self.secret_key.get_secret_value().encode()
        try:
            decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
        except ValueError:
            decoded = b""
        if len(decoded) == 32:
            return decoded
        return hashlib.sha256(raw).digest()

    def require_production_secret(self) -> None:
        """Refuse the built-in development secret; called by `kith serve` outside dev mode."""
        if self.is_dev_secret:
            msg = (
                f"{ENV_PREFIX}SECRET_KEY: the built-in development key is not allowed here; "
                "set a random secret (e.g. `openssl rand -base64 32`)"
            )
            raise SettingsError(msg)


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
