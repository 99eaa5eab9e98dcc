"""The Monica v4 API client: the only HTTP path to Monica (importer.md §5).

- `urls`: base URL normalisation and the instance name used in `import_records.source`.
- `ssrf` (in `kith_common.ssrf`): the address guard every request passes.
- `ratelimit`: the GCRA limiter shared by every process calling one host and key.
- `retry`: the one retry layer (policy and loop), shared by the client and document downloads.
- `client`: httpx over the guard, the retry layer, metrics, size caps, readable errors.
"""

from kith_common.monica.urls import api_root, normalize_api_url, source_instance, source_name

__all__ = ["api_root", "normalize_api_url", "source_instance", "source_name"]
