"""Settings: every KITH_* variable typed, a bad value named in the error."""

from __future__ import annotations

import pytest

from kith_common.settings import Settings, SettingsError, load_settings


def test_defaults_match_the_architecture() -> None:
    settings = Settings()
    assert settings.metrics_port == 9100
    assert settings.gateway_port == 8000
    assert settings.monica_rate_limit_per_minute == 55
    assert settings.event_retention_days == 7
    assert settings.shutdown_grace_seconds == 20
    assert settings.storage_url == "file:///var/lib/kith"


def test_bad_value_stops_start_up_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITH_METRICS_PORT", "ninety")
    monkeypatch.setenv("KITH_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "KITH_METRICS_PORT" in message
    assert "KITH_LOG_FORMAT" in message


def test_plain_postgres_url_gets_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITH_DATABASE_URL", "postgresql://kith@db:5432/kith")
    assert load_settings().database_url == "postgresql+asyncpg://kith@db:5432/kith"


def test_unknown_url_schemes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITH_STORAGE_URL", "ftp://files")
    with pytest.raises(SettingsError, match="KITH_STORAGE_URL"):
        load_settings()


def test_development_secret_is_refused_outside_dev() -> None:
    with pytest.raises(SettingsError, match="KITH_SECRET_KEY"):
        Settings().require_production_secret()
    Settings(secret_key="a-real-random-secret-value-0123456789").require_production_secret()


def test_encryption_key_is_32_bytes_whatever_the_secret() -> None:
    assert len(Settings(secret_key="short").encryption_key()) == 32
