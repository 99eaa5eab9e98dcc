"""How an import's progress reads to a person: the time it has left.

A Monica import is bound by Monica's rate limit, so the requests it has left are its time left
(`eta_seconds` of `import.progress`, importer.md §11). The CLI and the console both show it
through `eta_text`, so they say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["eta_text"]


def eta_text(progress: Mapping[str, Any]) -> str:
    """ "about 7 min left (120 of 434 requests)"; empty while no estimate is known.

    Args:
        progress: an import's `progress` as `GET /v1/imports/{id}` serves it (or an
            `import.progress` payload): `eta_seconds`, `requests_done`, `requests_estimated`.
    """
    eta, done = progress.get("eta_seconds"), progress.get("requests_done")
    estimated = progress.get("requests_estimated")
    if not isinstance(eta, int | float) or isinstance(eta, bool) or eta < 0:
        return ""
    if eta < 90:
        left = f"about {max(1, round(eta))} s left"
    elif eta < 5400:
        left = f"about {round(eta / 60)} min left"
    else:
        left = f"about {eta / 3600:.1f} h left"
    if isinstance(done, int) and isinstance(estimated, int):
        left += f" ({done} of {estimated} requests)"
    return left
