"""kith_common.contact_fields: value and key of every contact-field write (dedup.md §2, §6.5)."""

from __future__ import annotations

import dataclasses

import pytest

from kith_common.contact_fields import (
    FIELD_KINDS,
    EmptyFieldValue,
    InvalidProtocol,
    PreparedField,
    kind_for_protocol,
    normalize_protocol,
    prepare,
    prepare_address,
)
from kith_common.matchkeys import address_key
from kith_common.phones import region_for_locale

# prepare: phones --------------------------------------------------------------------------


def test_gateway_phone_in_en_account_is_stored_e164_with_key() -> None:
    prepared = prepare("phone", "(202) 555-0100", region_for_locale("en"))
    assert prepared == PreparedField(value="+12025550100", match_key="+12025550100")


@pytest.mark.parametrize(
    ("value", "region", "stored", "key"),
    [
        ("555-1234", None, "555-1234", None),
        ("(202) 555-0100", "US", "+12025550100", "+12025550100"),
        ("+44 20 7946 0958", "US", "+442079460958", "+442079460958"),
        ("tel:+44-20-7946-0958", "US", "+442079460958", "+442079460958"),
        ("+1 202 555 0100", None, "+12025550100", "+12025550100"),
        ("+1-555-1234", None, "+15551234", None),
        ("5559876", None, "5559876", None),
        ("2025550100", "US", "+12025550100", "+12025550100"),
        ("  N/A  ", "US", "N/A", None),
        ("+", None, "+", None),
        ("0044 20 7946 0958", "US", "0044 20 7946 0958", None),
        ("0044 20 7946 0958", "GB", "+442079460958", "+442079460958"),
    ],
)
def test_phone_value_and_key(value: str, region: str | None, stored: str, key: str | None) -> None:
    assert prepare("phone", value, region) == PreparedField(value=stored, match_key=key)


def test_preparing_a_prepared_phone_changes_nothing() -> None:
    first = prepare("phone", "(202) 555-0100", "US")
    assert prepare("phone", first.value, "US") == first
    assert prepare("phone", first.value, None) == first


def test_two_layouts_of_one_phone_share_a_key() -> None:
    assert (
        prepare("phone", "+12025550100").match_key
        == prepare("phone", "+1 202 555 0100").match_key
        is not None
    )


# prepare: emails and other kinds ----------------------------------------------------------


def test_email_is_stored_stripped_and_keyed_lowercase() -> None:
    prepared = prepare("email", "  Foo@BAR.com ", "US")
    assert prepared == PreparedField(value="Foo@BAR.com", match_key="foo@bar.com")


@pytest.mark.parametrize("kind", ["impp", "url", "social", "other", None])
def test_other_kinds_are_stripped_without_key(kind: str | None) -> None:
    assert prepare(kind, "  +1 202 555 0100 ", "US") == PreparedField(
        value="+1 202 555 0100", match_key=None
    )


def test_a_phone_number_on_a_non_phone_type_is_not_normalized() -> None:
    assert prepare("social", "(202) 555-0100", "US").value == "(202) 555-0100"


def test_an_email_on_a_non_email_type_has_no_key() -> None:
    assert prepare("url", "shared@example.com").match_key is None


@pytest.mark.parametrize("kind", [*sorted(FIELD_KINDS), None])
@pytest.mark.parametrize("value", [None, "", "   ", "\t\n\u00a0"])
def test_blank_value_is_refused(kind: str | None, value: str | None) -> None:
    with pytest.raises(EmptyFieldValue):
        prepare(kind, value, "US")


def test_bare_tel_prefix_is_a_blank_phone() -> None:
    with pytest.raises(EmptyFieldValue):
        prepare("phone", " tel: ", "US")


def test_empty_field_value_is_a_value_error() -> None:
    assert issubclass(EmptyFieldValue, ValueError)


@pytest.mark.parametrize("kind", ["Phone", "tel:", "fax"])
def test_unknown_kind_is_a_caller_error(kind: str) -> None:
    with pytest.raises(ValueError, match="unknown contact field kind"):
        prepare(kind, "x")


def test_empty_kind_reads_as_other() -> None:
    assert prepare("", " x ") == PreparedField(value="x", match_key=None)


def test_prepared_field_is_a_frozen_slotted_dataclass() -> None:
    prepared = prepare("email", "a@x.com")
    assert not hasattr(prepared, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.value = "b@x.com"  # type: ignore[misc]


# addresses --------------------------------------------------------------------------------


def test_prepare_address_is_the_address_key() -> None:
    assert prepare_address("  123 Main St  ", "90210") == address_key("123  MAIN   st", "90210")
    assert prepare_address("   ", "90210") is None


# protocols --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_input", "expected"),
    [
        ("tel", "tel:"),
        ("tel:", "tel:"),
        ("TEL", "tel:"),
        (" Tel: ", "tel:"),
        ("mailto", "mailto:"),
        ("MAILTO:", "mailto:"),
        ("impp", "impp:"),
        ("IMPP:", "impp:"),
        ("https://", "https://"),
        ("http://", "http://"),
        ("https://twitter.com/", "https://twitter.com/"),
        ("https://linkedin.com/in/", "https://linkedin.com/in/"),
        ("HTTPS://Example.com/Path", "https://Example.com/Path"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_normalize_protocol(user_input: str | None, expected: str | None) -> None:
    assert normalize_protocol(user_input) == expected


@pytest.mark.parametrize("user_input", ["skype:", "telegram:", "ftp://", "tel::", "https:", "www."])
def test_protocol_the_database_refuses_is_invalid(user_input: str) -> None:
    with pytest.raises(InvalidProtocol):
        normalize_protocol(user_input)
    assert issubclass(InvalidProtocol, ValueError)


@pytest.mark.parametrize(
    ("protocol", "kind"),
    [
        ("mailto:", "email"),
        ("tel:", "phone"),
        ("impp:", "impp"),
        ("https://", "url"),
        ("http://", "url"),
        ("https://twitter.com/", "social"),
        ("http://example.com/u/", "social"),
        ("https://t.me/", "social"),
        (None, "other"),
    ],
)
def test_kind_for_protocol_mirrors_the_generated_column(protocol: str | None, kind: str) -> None:
    assert kind_for_protocol(protocol) == kind


@pytest.mark.parametrize(
    ("user_input", "kind"),
    [
        ("tel", "phone"),
        ("MAILTO", "email"),
        ("Impp", "impp"),
        ("HTTP://", "url"),
        ("https://wa.me/", "social"),
    ],
)
def test_user_protocol_input_gets_its_kind(user_input: str, kind: str) -> None:
    assert kind_for_protocol(normalize_protocol(user_input)) == kind


def test_kind_for_protocol_is_case_sensitive_like_the_column() -> None:
    assert kind_for_protocol("TEL:") == "other"
    assert kind_for_protocol(normalize_protocol("TEL:")) == "phone"
