"""kith_common.matchkeys against dedup.md §2 and the key bullets of §7."""

from __future__ import annotations

import phonenumbers
import pytest

from kith_common import phones
from kith_common.matchkeys import (
    ADDRESS_KEY_SEPARATOR,
    KEY_VERSION,
    RULES_REVISION,
    address_key,
    email_key,
    phone_key,
)

# email_key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("SHARED@Example.COM", "shared@example.com"),
        ("  Foo@BAR.com  ", "foo@bar.com"),
        ("\tfoo@bar.com\u00a0\u3000", "FOO@bar.COM"),
        ("A@x.com", "a@x.com"),
    ],
)
def test_email_spellings_share_a_key(left: str, right: str) -> None:
    assert email_key(left) == email_key(right) == right.lower()


def test_email_key_is_stripped_and_lowercased() -> None:
    assert email_key("  Foo@BAR.com ") == "foo@bar.com"


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n\u00a0"])
def test_blank_email_has_no_key(value: str | None) -> None:
    assert email_key(value) is None


def test_different_emails_have_different_keys() -> None:
    assert email_key("alice@example.com") != email_key("bob@example.com")


def test_inner_whitespace_of_an_email_is_kept() -> None:
    assert email_key(" a b@x.com ") == "a b@x.com"


# phone_key --------------------------------------------------------------------------------


def test_phone_layouts_share_a_key() -> None:
    assert phone_key("+1 202 555 0100") == phone_key("+12025550100") == "+12025550100"


def test_phone_key_uses_the_region_for_bare_numbers() -> None:
    assert phone_key("2025550100", phones.region_for_locale("en")) == "+12025550100"
    assert phone_key("2025550100") is None
    assert phone_key("5559876") is None


@pytest.mark.parametrize("value", ["+1-555-1234", "+15551234", "+", "-", "()", "abc", "N/A", "x"])
def test_invalid_or_garbage_phone_has_no_key(value: str) -> None:
    assert phone_key(value) is None
    assert phone_key(value, "US") is None


@pytest.mark.parametrize(
    ("value", "region"),
    [("(202) 555-0100", "US"), ("0044 20 7946 0958", "GB"), ("+44 20 7946 0958", None)],
)
def test_phone_key_delegates_to_phones(value: str, region: str | None) -> None:
    assert phone_key(value, region) == phones.match_key(value, region)


# address_key ------------------------------------------------------------------------------


def test_address_key_joins_line1_and_postal_code() -> None:
    assert address_key("123 Main St", "90210") == f"123 main st{ADDRESS_KEY_SEPARATOR}90210"
    assert ADDRESS_KEY_SEPARATOR == "\x1f"


@pytest.mark.parametrize(
    ("line1", "postal"),
    [
        ("  123 Main St  ", "90210"),
        ("123  MAIN   st", " 90210 "),
        ("123\tMain\u00a0St", "90210"),
        ("123 main st", "\n90210\n"),
    ],
)
def test_address_case_and_spacing_do_not_matter(line1: str, postal: str) -> None:
    assert address_key(line1, postal) == address_key("123 Main St", "90210")


def test_postal_code_case_and_spacing_do_not_matter() -> None:
    assert address_key("10 Downing St", "SW1A  2aa") == address_key("10 downing st", "sw1a 2AA")


def test_different_line1_same_postal_code_differ() -> None:
    assert address_key("123 Main St", "90210") != address_key("456 Oak Ave", "90210")


@pytest.mark.parametrize(
    ("line1", "postal"),
    [("   ", "90210"), ("", "90210"), (None, "90210"), ("123 Main St", " "), ("123 Main St", None)],
)
def test_address_without_line1_or_postal_code_has_no_key(
    line1: str | None, postal: str | None
) -> None:
    assert address_key(line1, postal) is None


def test_separator_inside_a_part_cannot_forge_a_key() -> None:
    # "a\x1fb" + "c" must not collide with "a" + "b\x1fc".
    forged = address_key(f"a{ADDRESS_KEY_SEPARATOR}b", "c")
    assert forged != address_key("a", f"b{ADDRESS_KEY_SEPARATOR}c")
    assert forged is not None
    assert forged.count(ADDRESS_KEY_SEPARATOR) == 1


# KEY_VERSION ------------------------------------------------------------------------------


def test_key_version_names_phonenumbers_and_the_rules_revision() -> None:
    assert phonenumbers.__version__ == "9.0.43"
    assert phonenumbers.__version__ in KEY_VERSION
    assert KEY_VERSION.endswith(f"rules-{RULES_REVISION}")
