"""A stored file as an HTTP response: the same headers for the API and the console.

- `ETag` is the content hash; a matching `If-None-Match` answers 304 without the bytes.
- `Cache-Control: private`: the bytes are one account's, never for a shared cache.
- A photo is shown inline only when its type is an image; anything else, and every document,
  is an attachment whose `Content-Disposition` carries the original file name, quoted so no
  name can break the header (an ASCII fallback plus RFC 6266 `filename*`).
- `nosniff` and a sandboxing CSP keep a hostile file from running as a page of this origin.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi.responses import Response

from kith_gateway.services.media import StoredFile

_UNSAFE = re.compile(r"[^A-Za-z0-9 !#$&+,.;=@^_`{}~()\[\]-]")


def disposition(kind: str, file_name: str | None) -> str:
    name = (file_name or "download").strip() or "download"
    fallback = _UNSAFE.sub("_", name)[:200]
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name[:200], safe='')}"


def file_response(stored: StoredFile, *, attachment: bool) -> Response:
    inline = not attachment and stored.content_type.lower().startswith("image/")
    headers = {
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": disposition("inline" if inline else "attachment", stored.file_name),
    }
    if stored.etag is not None:
        headers["ETag"] = stored.etag
    if stored.data is None:
        return Response(status_code=304, headers=headers)
    media_type = stored.content_type if inline or attachment else "application/octet-stream"
    return Response(stored.data, media_type=media_type, headers=headers)
