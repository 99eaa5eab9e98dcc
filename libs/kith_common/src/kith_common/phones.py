"""Phone numbers: the one normalisation, match key, display layout and region list (dedup.md §6).

Every writer of a tel: contact field stores `normalize(value, region)` and its `match_key`
(through `kith_common.contact_fields.prepare`), and every reader shows `format_number`.

Invariants:
- `normalize` is idempotent for a fixed region, and never guesses: a number without a `+`
  and without a supported region comes back as typed (stripped), as does anything that does
  not parse to a possible number.
- `match_key(x, r) == match_key(normalize(x, r), r)`: a key is the E.164 form of a *valid*
  number, so garbage ("+", "N/A") and fictional ranges (555) never share a key.
- Nothing here touches the network or the clock; results depend only on the arguments and
  the pinned phonenumbers metadata (whose version is part of `matchkeys.KEY_VERSION`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers
import pyuca
from babel import Locale, UnknownLocaleError
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

__all__ = [
    "PHONE_FORMATS",
    "SUPPORTED_REGIONS",
    "PhoneFormat",
    "Region",
    "format_number",
    "match_key",
    "normalize",
    "region_for_locale",
    "supported_regions",
]

SUPPORTED_REGIONS: Final[frozenset[str]] = frozenset(phonenumbers.SUPPORTED_REGIONS)
"""ISO 3166-1 alpha-2 codes phonenumbers has metadata for (245 in 9.0.43, incl. AC, TA, XK)."""

PhoneFormat = Literal["e164", "national", "international", "raw"]
PHONE_FORMATS: Final[tuple[PhoneFormat, ...]] = ("e164", "national", "international", "raw")
"""Values of accounts.phone_format (data-model §3.1), in display order."""

_LAYOUTS: Final[dict[str, int]] = {
    "e164": PhoneNumberFormat.E164,
    "national": PhoneNumberFormat.NATIONAL,
    "international": PhoneNumberFormat.INTERNATIONAL,
}

# dedup.md §6.4: the fallback when a locale names no supported region.
_LANGUAGE_REGIONS: Final[dict[str, str]] = {
    "en": "US",
    "fr": "FR",
    "de": "DE",
    "es": "ES",
    "it": "IT",
    "pt": "PT",
    "nl": "NL",
    "ru": "RU",
    "ja": "JP",
    "zh": "CN",
    "ko": "KR",
    "ar": "SA",
}

_DEFAULT_LOCALE: Final = "en"
_TEL_PREFIX: Final = "tel:"
# phonenumbers reads the full-width plus as a plus too; treating it alike keeps
# "＋1 202 555 0100" from being mistaken for a bare number.
_PLUS_SIGNS: Final = ("+", "\uff0b")
_SUBTAG_SEPARATOR: Final = re.compile(r"[-_]")


@dataclass(frozen=True, slots=True)
class Region:
    """One entry of the phone-region picker: `label` is "Name (+calling_code)"."""

    code: str
    label: str
    calling_code: int


def _strip(value: str | None) -> str | None:
    """dedup.md §6.1 step 1: outer Unicode whitespace and leading `tel:` (any case) removed.

    Every leading `tel:` goes, not just the first, so that the result is a fixed point.
    """
    if value is None:
        return None
    text = value.strip()
    while text[:4].lower() == _TEL_PREFIX:
        text = text[4:].strip()
    return text or None


def _region(default_region: str | None) -> str | None:
    """dedup.md §6.1 step 2 (D): upper-cased; one phonenumbers does not know counts as none."""
    if default_region is None:
        return None
    code = default_region.strip().upper()
    return code if code in SUPPORTED_REGIONS else None


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    """dedup.md §6.1 steps 3-5; None when there is nothing to parse against or parsing fails.

    With a region, phonenumbers strips that region's own international prefix (00 in GB, FR,
    DE; 011 in US/CA; 010 in JP); elsewhere a leading 00 stays national digits.
    """
    if text.startswith(_PLUS_SIGNS):
        region = None  # the number carries its own country code
    elif region is None:
        return None  # bare numbers are never guessed
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _stable_e164(number: PhoneNumber) -> str | None:
    """E.164 of `number` if phonenumbers reads that string back as itself, else None.

    E.164 never carries an extension: "+1 202 555 0100 x5" gives "+12025550100". The
    read-back check keeps stored values fixed points: a few degenerate inputs (JE
    "0000000000" → "+440000000000", read back as "+44000000000") would otherwise change
    on every renormalize run.
    """
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    try:
        again = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    return e164 if phonenumbers.format_number(again, PhoneNumberFormat.E164) == e164 else None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What `normalize` and `match_key` need to know about one stripped text in one region."""

    possible: bool
    valid: bool
    e164: str | None  # the stable E.164 form (`_stable_e164`), when possible or valid


@functools.lru_cache(maxsize=16_384)
def _facts(text: str, region: str | None) -> _Facts:
    """Parse once per (text, region): a field's `normalize` and `match_key`, and the same
    number on many contacts, share one parse. Pure (phonenumbers metadata is pinned), so
    caching changes no result."""
    number = _parse(text, region)
    if number is None:
        return _Facts(possible=False, valid=False, e164=None)
    possible = phonenumbers.is_possible_number(number)
    valid = phonenumbers.is_valid_number(number)
    e164 = _stable_e164(number) if possible or valid else None
    return _Facts(possible=possible, valid=valid, e164=e164)


def normalize(value: str | None, default_region: str | None = None) -> str | None:
    """The stored form of a phone value: E.164 when it parses to a possible number.

    Args:
        value: what the user or the import typed.
        default_region: region for numbers without a `+`; upper-cased, unknown ones ignored.

    Returns:
        None for None or blank input. E.164 (extension dropped) when the value parses to a
        *possible* number; validity is not checked. Otherwise the stripped value unchanged:
        bare numbers without a region, garbage, parses that are not even possible (US
        "0044 20 7946 0958" would otherwise become "+100442079460958") and the rare E.164
        that phonenumbers would not read back as itself.
    """
    text = _strip(value)
    if text is None:
        return None
    facts = _facts(text, _region(default_region))
    if not facts.possible:
        return text
    return facts.e164 or text


def match_key(value: str | None, default_region: str | None = None) -> str | None:
    """The dedup key of a phone value: its E.164 form if valid, else None (dedup.md §6.2).

    Possible-but-invalid numbers (555 ranges, "+15551234") get no key: they are not to be
    trusted to identify a person.
    """
    text = _strip(value)
    if text is None:
        return None
    facts = _facts(text, _region(default_region))
    return facts.e164 if facts.valid else None


def format_number(value: str | None, phone_format: str) -> str | None:
    """A stored phone value laid out for display (dedup.md §6.3).

    Named `format_number` rather than the spec's `format` so the module does not shadow the
    `format()` builtin (for itself and for star-importers); it mirrors
    `phonenumbers.format_number`.

    Args:
        value: the stored value, normally E.164.
        phone_format: one of `PHONE_FORMATS`.

    Returns:
        None for None or "". "raw", an unknown format, or a value that does not parse
        without a region (bare digits, garbage) → the value unchanged. Otherwise the number
        in E.164, national or international layout, driven by its own country code.
    """
    if value is None or value == "":
        return None
    layout = _LAYOUTS.get(phone_format)
    if layout is None:
        return value
    try:
        number = phonenumbers.parse(value, None)
    except NumberParseException:
        return value
    return phonenumbers.format_number(number, layout)


def region_for_locale(locale: str | None) -> str | None:
    """The default phone region of an account locale (dedup.md §6.4).

    A supported region subtag wins ("en-GB" → GB, "fr_CA" → CA, "zh-Hant-TW" → TW); else the
    language's usual region (en → US, fr → FR, ...); else None.
    """
    if not locale:
        return None
    # POSIX forms ("en_US.UTF-8", "de_DE@euro") carry an encoding or modifier after the tag.
    tag = locale.strip().split(".", 1)[0].split("@", 1)[0]
    language, *rest = _SUBTAG_SEPARATOR.split(tag)
    if not (2 <= len(language) <= 8 and language.isascii() and language.isalpha()):
        return None  # not a language tag at all ("", "_GB", "-")
    if rest and len(rest[0]) == 4 and rest[0].isalpha():
        rest = rest[1:]  # a script subtag ("Hant") precedes the region
    if rest and len(rest[0]) == 2 and rest[0].isascii() and rest[0].isalpha():
        code = rest[0].upper()
        if code in SUPPORTED_REGIONS:
            return code
    return _LANGUAGE_REGIONS.get(language.lower())


def supported_regions(locale: str | None = _DEFAULT_LOCALE) -> list[Region]:
    """Every supported region named in `locale`, for a region picker (dedup.md §6.4).

    Labels are "Name (+cc)" in the locale's language, sorted accent- and case-insensitively
    (Unicode collation), then by code: in fr, "États-Unis (+1)" falls between "Eswatini" and
    "Éthiopie". "fr-CA" and "fr_CA" are both accepted; an unknown or malformed locale gives
    the English list. Computed once per locale; the caller gets its own list.
    """
    return list(_regions_in(_babel_locale(locale)))


def _babel_locale(tag: str | None) -> Locale:
    if tag:
        try:
            parsed = Locale.parse(tag.strip().replace("-", "_"))
        except (ValueError, TypeError, UnknownLocaleError):
            parsed = None
        # "root" parses but names no territory: treat it as unknown too.
        if parsed is not None and parsed.territories:
            return parsed
    return Locale.parse(_DEFAULT_LOCALE)


@functools.cache
def _collator() -> pyuca.Collator:
    return pyuca.Collator()  # loads the DUCET table once (~0.2 s)


# Keyed by the parsed Locale, not the caller's string, so the cache is bounded by CLDR's
# locales however many spellings (or garbage) callers send.
@functools.cache
def _regions_in(locale: Locale) -> tuple[Region, ...]:
    collator = _collator()
    names = locale.territories
    regions = []
    for code in SUPPORTED_REGIONS:
        name = names.get(code)
        if not name:
            continue
        calling_code = phonenumbers.country_code_for_region(code)
        regions.append(
            Region(code=code, label=f"{name} (+{calling_code})", calling_code=calling_code)
        )

    def order(region: Region) -> tuple[tuple[int, ...], str]:
        key: tuple[int, ...] = collator.sort_key(region.label)
        return key, region.code

    return tuple(sorted(regions, key=order))
