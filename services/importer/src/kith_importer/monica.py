"""Building the Monica client of one import or check: limiter bucket, guard and caps."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kith_common.monica.client import MonicaClient, origin_of
from kith_common.monica.ratelimit import RateLimiter, bucket_key
from kith_common.monica.urls import api_root
from kith_importer.config import ImporterConfig

__all__ = ["open_client"]


def open_client(
    config: ImporterConfig,
    sessions: async_sessionmaker[AsyncSession],
    api_url: str,
    api_key: str,
    *,
    bucket: str | None = None,
) -> MonicaClient:
    """A client whose limiter is the bucket every replica shares for this host and key.

    `bucket` replaces that key (the connection check spaces all its requests to one host in
    one bucket, so a flood of made-up keys cannot each get a fresh one).
    """
    limiter = RateLimiter(
        sessions,
        bucket or bucket_key(origin_of(api_root(api_url)), api_key),
        per_window=config.rate_limit_per_window,
        window_seconds=config.rate_window_seconds,
    )
    return MonicaClient(
        api_url,
        api_key,
        limiter=limiter,
        allow_private=config.allow_private_hosts,
        allowed_hosts=config.allowed_hosts,
        max_response_bytes=config.max_response_bytes,
        backoff_base=config.backoff_base,
        request_deadline=config.request_deadline,
        max_retry_after=config.max_retry_after,
    )
