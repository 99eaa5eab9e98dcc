"""Turning Monica's photo objects into bytes: the dataUrl rule and the image check.

Pure functions, no I/O (importer.md §9): a photo is `data:<mime>;base64,<data>`; anything
else is `no_data_url`, bad base64 or bytes that are no known image are `decode_error`, and
more than the byte cap is `too_large` (checked on the encoded length first, so a huge string
is never decoded).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["Decoded", "Rejected", "decode_data_url", "document_extension", "sniff_image"]

_DATA_URL: Final = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,", re.I)
_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
    (b"BM", "image/bmp", ".bmp"),
    (b"II*\x00", "image/tiff", ".tif"),
    (b"MM\x00*", "image/tiff", ".tif"),
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A photo's bytes, its sniffed type and its SHA-256 (hex)."""

    data: bytes
    content_type: str
    extension: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a photo cannot be stored: `no_data_url`, `decode_error` or `too_large`."""

    reason: str


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the magic bytes, or None when it is no known image."""
    for magic, mime, ext in _SIGNATURES:
        if data.startswith(magic):
            return mime, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return ("image/avif", ".avif") if data[8:12] == b"avif" else ("image/heic", ".heic")
    return None


def decode_data_url(value: object, *, max_bytes: int) -> Decoded | Rejected:
    """Decode Monica's `dataUrl` (API §10: the image re-encoded by Monica, or null)."""
    if not isinstance(value, str):
        return Rejected("no_data_url")
    match = _DATA_URL.match(value)
    if match is None:
        return Rejected("no_data_url")
    encoded = value[match.end() :].strip()
    if len(encoded) // 4 * 3 > max_bytes + 3:
        return Rejected("too_large")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return Rejected("decode_error")
    if len(data) > max_bytes:
        return Rejected("too_large")
    sniffed = sniff_image(data)
    if sniffed is None:
        return Rejected("decode_error")
    mime, ext = sniffed
    return Decoded(data, mime, ext, hashlib.sha256(data).hexdigest())


def document_extension(file_name: str | None, content_type: str | None) -> str:
    """A safe extension for a document key: the file name's, else the type's, else none."""
    if file_name and "." in file_name:
        ext = "." + file_name.rsplit(".", 1)[1].lower()
        if re.fullmatch(r"\.[a-z0-9]{1,10}", ext):
            return ext
    if content_type:
        guessed = mimetypes.guess_extension(content_type.split(";")[0].strip())
        if guessed:
            return guessed
    return ""
