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


@pytest.mark.parametrize(
    "secret",
    [
        "compose-insecure-default-set-KITH_SECRET_KEY-in-env",  # docker-compose.yml's fallback
        "CHANGE-ME",  # deploy/k8s/base/secret.example.yaml
        "dev-only-insecure-secret-key-change-me",  # the built-in development key
        "Zm9vYmFyYmF6cXV4cXV1eHF1dXg=",  # base64 of 20 bytes
        "0123456789abcdef" * 3,  # hex of 24 bytes
        "aaaabbbbaaaabbbbaaaabbbbaaaabbbbaaaabbbbaaaabbbb",  # long, not random
    ],
)
def test_kith_serve_refuses_published_or_weak_secret_keys_saying_how_to_make_one(
    secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from kith_common.cli.commands import serve

    assert serve(Settings(secret_key=secret), "gateway") == 2
    message = capsys.readouterr().err
    assert "KITH_SECRET_KEY" in message
    assert "openssl rand -base64 32" in message
    assert secret not in message


@pytest.mark.parametrize(
    "secret",
    [
        "kp5Kbfl+70+nco57yhIOmx4bHBiOeeqxi7MvJN4pTX8=",  # openssl rand -base64 32
        "Xq3v1YQy7Zm2d8R0kT5uWb9sLp4nHc6eJfAaGgEoIiU",  # secrets.token_urlsafe(32)
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # hex of 32 bytes
    ],
)
def test_random_secret_keys_of_32_bytes_are_accepted(secret: str) -> None:
    Settings(secret_key=secret).require_production_secret()


def test_a_rotated_key_still_decrypts_what_the_previous_key_encrypted() -> None:
    from kith_common.crypto import SecretDecryptError, decrypt_secret, encrypt_secret

    old = Settings(secret_key="kp5Kbfl+70+nco57yhIOmx4bHBiOeeqxi7MvJN4pTX8=")
    stored = encrypt_secret(old.encryption_key(), "monica-key")
    rotated = Settings(
        secret_key="Xq3v1YQy7Zm2d8R0kT5uWb9sLp4nHc6eJfAaGgEoIiU",
        secret_key_previous=old.secret_key,
    )
    assert decrypt_secret(rotated.decryption_keys(), stored) == "monica-key"
    fresh = encrypt_secret(rotated.encryption_key(), "new-key")  # new blobs: the new key only
    with pytest.raises(SecretDecryptError):
        decrypt_secret(old.encryption_key(), fresh)
    without_previous = Settings(secret_key="Xq3v1YQy7Zm2d8R0kT5uWb9sLp4nHc6eJfAaGgEoIiU")
    with pytest.raises(SecretDecryptError, match="KITH_SECRET_KEY_PREVIOUS"):
        decrypt_secret(without_previous.decryption_keys(), stored)
