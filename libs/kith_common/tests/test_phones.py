"""kith_common.phones against the vectors of dedup.md §6 and §7 (Phones)."""

from __future__ import annotations

import dataclasses
import unicodedata

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kith_common import phones
from kith_common.phones import (
    PHONE_FORMATS,
    SUPPORTED_REGIONS,
    Region,
    format_number,
    match_key,
    normalize,
    region_for_locale,
    supported_regions,
)

# normalize ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n", "\u00a0\u2003", "tel:", " TEL: "])
def test_blank_normalizes_to_none(value: str | None) -> None:
    assert normalize(value) is None
    assert normalize(value, "US") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+12025550100", "+12025550100"),
        ("+1 202 555-0100", "+12025550100"),
        ("  +1 202 555 0100  ", "+12025550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+0", "+0"),
        ("+1-555-1234", "+15551234"),
        ("tel:+1-202-555-0100", "+12025550100"),
        ("TEL:+1-202-555-0100", "+12025550100"),
        ("Tel: +44 20 7946 0958", "+442079460958"),
        ("\u3000+1 (202) 555-0100\u2003", "+12025550100"),
        ("+1 202 555 0100 ext. 123", "+12025550100"),
        ("+12025550100;ext=9", "+12025550100"),
        ("\uff0b1 202 555 0100", "+12025550100"),
    ],
)
def test_number_with_plus_normalizes_without_region(value: str, expected: str) -> None:
    assert normalize(value) == expected


@pytest.mark.parametrize(
    "value",
    ["2025550100", "(202) 555-0100", "0044 20 7946 0958", "5559876", "555-1234"],
)
def test_bare_number_without_region_is_returned_stripped(value: str) -> None:
    assert normalize(value) == value
    assert normalize(f"  {value} ") == value
    assert normalize(value) == normalize(value, None)


def test_bare_number_loses_tel_prefix_but_is_not_guessed() -> None:
    assert normalize("tel:2025550100") == "2025550100"


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("(202) 555-0100", "US", "+12025550100"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+49 151 5555 5555", "US", "+4915155555555"),
        ("555-1234", "US", "+15551234"),
        ("+1-555-1234", "US", "+15551234"),
        ("garbage", "US", "garbage"),
        ("2025550100", "us", "+12025550100"),
        ("2025550100", " us ", "+12025550100"),
        ("+", "US", "+"),
        ("N/A", "US", "N/A"),
        ("  ()  ", "US", "()"),
    ],
)
def test_normalize_with_region(value: str, region: str, expected: str) -> None:
    assert normalize(value, region) == expected


def test_none_with_region_is_none() -> None:
    assert normalize(None, "FR") is None


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", "FR", "+442079460958"),
        ("0044 20 7946 0958", "DE", "+442079460958"),
        ("00 44 20 7946 0958", "GB", "+442079460958"),
        ("00 33 6 12 34 56 78", "DE", "+33612345678"),
        ("0033 6 12 34 56 78", "SA", "+33612345678"),
        ("0033 6 12 34 56 78", "CH", "+33612345678"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("011 44 20 7946 0958", "CA", "+442079460958"),
        ("010 44 20 7946 0958", "JP", "+442079460958"),
    ],
)
def test_regions_own_international_prefix_is_honoured(
    value: str, region: str, expected: str
) -> None:
    assert normalize(value, region) == expected


def test_leading_00_in_an_011_region_is_left_unchanged() -> None:
    # dedup.md §6.1 step 6 (D): parsed as national digits it would be "+100442079460958",
    # which is not even a possible number.
    assert normalize("0044 20 7946 0958", "US") == "0044 20 7946 0958"


@pytest.mark.parametrize("region", ["XX", "xx", "ZZ", "001", "", "   ", "USA"])
def test_unknown_region_is_treated_as_none(region: str) -> None:
    assert normalize("2025550100", region) == "2025550100"
    assert normalize("+12025550100", region) == "+12025550100"
    assert match_key("2025550100", region) is None


def test_region_is_ignored_for_numbers_with_plus() -> None:
    assert normalize("+44 20 7946 0958", "FR") == "+442079460958"
    assert match_key("+44 20 7946 0958", "JP") == "+442079460958"


# match_key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+12025550100", None, "+12025550100"),
        ("+1 202 555 0100", None, "+12025550100"),
        ("(202) 555-0100", "US", "+12025550100"),
        ("2025550100", "US", "+12025550100"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("tel:+44-20-7946-0958", None, "+442079460958"),
        ("+1 202 555 0100 x5", None, "+12025550100"),
    ],
)
def test_valid_number_has_e164_key(value: str, region: str | None, expected: str) -> None:
    assert match_key(value, region) == expected


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("+15551234", None),
        ("+1-555-1234", None),
        ("555-1234", "US"),
        ("+1 555 123 4567", None),
        ("+", None),
        ("-", "US"),
        ("()", "US"),
        ("abc", "US"),
        ("N/A", "US"),
        ("x", "US"),
        ("+0", None),
        ("", "US"),
        ("   ", "US"),
        (None, "US"),
        ("5559876", None),
        ("2025550100", None),
        ("0044 20 7946 0958", "US"),
    ],
)
def test_invalid_garbage_or_bare_number_has_no_key(value: str | None, region: str | None) -> None:
    assert match_key(value, region) is None


def test_layouts_of_one_number_share_a_key() -> None:
    keys = {
        match_key("+1 202 555 0100"),
        match_key("+12025550100"),
        match_key("tel:+1-202-555-0100"),
        match_key("(202) 555-0100", "US"),
        match_key("2025550100", region_for_locale("en")),
        match_key("011 1 202 555 0100", "US"),
        match_key("00 1 202 555 0100", "GB"),
    }
    assert keys == {"+12025550100"}


def test_number_phonenumbers_would_read_back_differently_is_left_unchanged() -> None:
    # Found by the idempotence property: parsed in JE this is "+440000000000", which reads
    # back as "+44000000000"; storing either would change on every renormalize run.
    assert normalize("0000000000", "JE") == "0000000000"
    assert normalize(normalize("0000000000", "JE"), "JE") == "0000000000"
    assert match_key("0000000000", "JE") is None


def test_possible_but_invalid_number_is_stored_but_has_no_key() -> None:
    assert normalize("+1-555-1234") == "+15551234"
    assert match_key("+1-555-1234") is None
    assert match_key("+15551234") is None


# format_number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "national", "international"),
    [
        ("+12345678901", "(234) 567-8901", "+1 234-567-8901"),
        ("+12025550100", "(202) 555-0100", "+1 202-555-0100"),
        ("+442079460958", "020 7946 0958", "+44 20 7946 0958"),
        ("+33123456789", "01 23 45 67 89", "+33 1 23 45 67 89"),
        ("+493012345678", "030 12345678", "+49 30 12345678"),
        ("+819012345678", "090-1234-5678", "+81 90-1234-5678"),
        ("+966501234567", "050 123 4567", "+966 50 123 4567"),
    ],
)
def test_national_and_international_layouts(value: str, national: str, international: str) -> None:
    assert format_number(value, "national") == national
    assert format_number(value, "international") == international
    assert format_number(value, "e164") == value
    assert format_number(value, "raw") == value


def test_e164_tidies_a_spaced_stored_number() -> None:
    assert format_number("+1 202 555 0100", "e164") == "+12025550100"
    assert format_number("+1 202 555 0100", "raw") == "+1 202 555 0100"


@pytest.mark.parametrize("phone_format", [*PHONE_FORMATS, "E164", "unknown", ""])
@pytest.mark.parametrize("value", ["5551234567", "garbage", "+", "N/A", "(202) 555-0100"])
def test_bare_or_garbage_value_is_unchanged_in_every_format(value: str, phone_format: str) -> None:
    assert format_number(value, phone_format) == value


@pytest.mark.parametrize("phone_format", [*PHONE_FORMATS, "unknown"])
@pytest.mark.parametrize("value", [None, ""])
def test_missing_value_formats_to_none(value: str | None, phone_format: str) -> None:
    assert format_number(value, phone_format) is None


@pytest.mark.parametrize("phone_format", ["E164", "National", "pretty"])
def test_unknown_format_returns_value_unchanged(phone_format: str) -> None:
    assert format_number("+12025550100", phone_format) == "+12025550100"


def test_phone_formats_are_the_account_setting_values() -> None:
    assert PHONE_FORMATS == ("e164", "national", "international", "raw")


# region_for_locale ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "US"),
        ("fr", "FR"),
        ("de", "DE"),
        ("es", "ES"),
        ("it", "IT"),
        ("pt", "PT"),
        ("nl", "NL"),
        ("ru", "RU"),
        ("ja", "JP"),
        ("zh", "CN"),
        ("ko", "KR"),
        ("ar", "SA"),
        ("en-GB", "GB"),
        ("en_GB", "GB"),
        ("fr_CA", "CA"),
        ("fr-ca", "CA"),
        ("EN-gb", "GB"),
        ("pt-BR", "BR"),
        ("zh-Hant-TW", "TW"),
        ("sr_Latn_RS", "RS"),
        ("en_US.UTF-8", "US"),
        ("de_AT@euro", "AT"),
        ("en-ZZ", "US"),
        ("en-419", "US"),
        ("zh-Hans", "CN"),
        ("xx-GB", "GB"),
    ],
)
def test_region_for_locale(locale: str, expected: str) -> None:
    assert region_for_locale(locale) == expected


@pytest.mark.parametrize("locale", ["xx", "", None, "   ", "sv", "C", "-", "_GB"])
def test_region_for_unmapped_locale_is_none(locale: str | None) -> None:
    assert region_for_locale(locale) is None


# supported_regions ------------------------------------------------------------------------


def test_supported_regions_match_phonenumbers() -> None:
    assert frozenset(phonenumbers.SUPPORTED_REGIONS) == SUPPORTED_REGIONS
    assert {"AC", "TA", "XK", "US", "GB"} <= SUPPORTED_REGIONS
    assert len(SUPPORTED_REGIONS) == 245


def test_english_region_list_has_one_entry_per_supported_region() -> None:
    regions = supported_regions("en")
    codes = [region.code for region in regions]
    assert len(regions) == len(SUPPORTED_REGIONS) == 245
    assert set(codes) == SUPPORTED_REGIONS
    assert all(len(code) == 2 and code.isupper() for code in codes)
    assert all("(+" in region.label for region in regions)
    by_code = {region.code: region for region in regions}
    assert by_code["US"] == Region(code="US", label="United States (+1)", calling_code=1)
    assert "United Kingdom" in by_code["GB"].label
    assert "+44" in by_code["GB"].label
    assert by_code["GB"].calling_code == 44
    assert by_code["XK"].label == "Kosovo (+383)"


def test_every_label_ends_with_its_calling_code() -> None:
    for region in supported_regions("de"):
        assert region.label.endswith(f" (+{region.calling_code})")
        assert region.calling_code == phonenumbers.country_code_for_region(region.code)


def test_french_list_collates_accents_with_plain_letters() -> None:
    labels = [region.label for region in supported_regions("fr")]
    us = labels.index("États-Unis (+1)")
    assert labels.index("Eswatini (+268)") < us < labels.index("Éthiopie (+251)")
    assert labels[0].startswith("Afghanistan")


def test_region_list_is_sorted_case_and_accent_insensitively() -> None:
    for locale in ("en", "fr", "de", "es"):
        labels = [region.label for region in supported_regions(locale)]
        folded = [_fold(label) for label in labels]
        # Collation may break ties differently from this crude fold, but never the first letter.
        assert [f[0] for f in folded] == sorted(f[0] for f in folded)


def _fold(label: str) -> str:
    decomposed = unicodedata.normalize("NFKD", label)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@pytest.mark.parametrize("locale", ["fr-CA", "fr_CA", "fr-ca", "FR_ca"])
def test_regional_locale_spellings_are_accepted(locale: str) -> None:
    labels = {region.code: region.label for region in supported_regions(locale)}
    assert labels["US"] == "États-Unis (+1)"


@pytest.mark.parametrize("locale", ["xx", "", None, "root", "../../etc", "en__GB", "a" * 300])
def test_unknown_locale_falls_back_to_english(locale: str | None) -> None:
    assert supported_regions(locale) == supported_regions("en")


def test_default_locale_is_english() -> None:
    assert supported_regions() == supported_regions("en")


def test_region_list_is_cached_per_locale_but_callers_get_their_own_copy() -> None:
    first = supported_regions("fr")
    first.clear()
    again = supported_regions("fr")
    assert len(again) == 245
    assert supported_regions("fr") == again


def test_region_is_a_frozen_slotted_dataclass() -> None:
    region = supported_regions("en")[0]
    assert not hasattr(region, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        region.code = "ZZ"  # type: ignore[misc]


# properties -------------------------------------------------------------------------------

_REGIONS = st.one_of(
    st.none(),
    st.sampled_from(sorted(SUPPORTED_REGIONS)),
    st.sampled_from(["us", "gb", "XX", "", "001"]),
)
_PHONE_ALPHABET = "0123456789 +-().x/#*;=\t\u00a0\uff0b\uff10\uff11"


def _example_number(region: str) -> str:
    example = phonenumbers.example_number(region)
    return (
        ""
        if example is None
        else phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    )


_PHONE_LIKE = st.one_of(
    st.text(alphabet=_PHONE_ALPHABET, max_size=24),
    st.builds(
        lambda prefix, body: prefix + body,
        st.sampled_from(["", "+", "00", "011", "010", "tel:", "TEL: ", "+1 ", "+44 "]),
        st.text(alphabet="0123456789 -", max_size=18),
    ),
    st.sampled_from(sorted(SUPPORTED_REGIONS)).map(_example_number),
    st.text(max_size=20),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_PHONE_LIKE, region=_REGIONS)
def test_normalize_is_idempotent(value: str, region: str | None) -> None:
    once = normalize(value, region)
    assert normalize(once, region) == once


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_PHONE_LIKE, region=_REGIONS)
def test_match_key_survives_normalization(value: str, region: str | None) -> None:
    assert match_key(normalize(value, region), region) == match_key(value, region)


@settings(max_examples=100, deadline=None)
@given(value=_PHONE_LIKE, region=_REGIONS)
def test_a_key_is_always_the_normalized_value(value: str, region: str | None) -> None:
    key = match_key(value, region)
    if key is not None:
        assert normalize(value, region) == key


def test_module_does_not_shadow_builtin_format() -> None:
    assert not hasattr(phones, "format")
