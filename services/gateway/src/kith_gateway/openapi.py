"""The committed OpenAPI document (`docs/openapi.json`): `python -m kith_gateway.openapi`.

Built from the app itself with default settings (nothing connects), so the committed file
and the served `/openapi.json` are the same document; a test fails when they drift.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kith_common.service import Runtime
from kith_common.settings import Settings
from kith_gateway.app import create_api


def document() -> dict[str, Any]:
    return create_api(Runtime(Settings(), "gateway")).openapi()


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
