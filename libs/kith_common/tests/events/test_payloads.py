"""Payload models: strict about unknown fields, immutable, and never carrying a secret."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from kith_common.events.envelope import Payload
from kith_common.events.examples import EXAMPLES, REPLIES
from kith_common.events.payloads.imports import ImportOptions
from kith_common.events.registry import SUBJECTS

ALL_PAYLOADS = sorted(
    {spec.payload for spec in SUBJECTS.values()}
    | {spec.reply for spec in SUBJECTS.values() if spec.reply is not None},
    key=lambda model: model.__name__,
)
ALL_EXAMPLES = {type(example): example for example in [*EXAMPLES.values(), *REPLIES.values()]}

# Storage keys name files in storage (data-model §4); `keys_changed` counts match keys
# (dedup.md §6.6). Anything else called "key" may be the Monica API key leaking onto the bus.
ALLOWED_KEY_FIELDS = {"dropped_photo_storage_keys", "keys_changed"}
SECRET_WORDS = ("key", "secret", "password", "token", "credential")


def nested_models(annotation: Any) -> set[type[BaseModel]]:
    """Every pydantic model an annotation mentions, through unions, lists, dicts, Optional."""
    found: set[type[BaseModel]] = set()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.add(annotation)
    for arg in typing.get_args(annotation):
        found |= nested_models(arg)
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            found |= nested_models(arg)
    return found


def all_fields(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Field names of `model` and of every model nested in it, as `Model.field`."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(f"{model.__name__}.{name}")
        for nested in nested_models(info.annotation):
            names |= all_fields(nested, seen)
    return names


def test_every_payload_has_an_example() -> None:
    assert set(ALL_EXAMPLES) == set(ALL_PAYLOADS)


@pytest.mark.parametrize("model", ALL_PAYLOADS, ids=lambda m: m.__name__)
def test_unknown_field_is_rejected(model: type[Payload]) -> None:
    data = ALL_EXAMPLES[model].model_dump(mode="json")
    data["unexpected"] = 1
    with pytest.raises(ValidationError, match="unexpected"):
        model.model_validate(data)


@pytest.mark.parametrize("model", ALL_PAYLOADS, ids=lambda m: m.__name__)
def test_example_survives_json(model: type[Payload]) -> None:
    example = ALL_EXAMPLES[model]
    assert model.model_validate_json(example.model_dump_json()) == example


@pytest.mark.parametrize("model", ALL_PAYLOADS, ids=lambda m: m.__name__)
def test_payload_is_immutable(model: type[Payload]) -> None:
    example = ALL_EXAMPLES[model]
    field = next(iter(model.model_fields))
    with pytest.raises(ValidationError, match="frozen"):
        setattr(example, field, getattr(example, field))


@pytest.mark.parametrize("model", ALL_PAYLOADS, ids=lambda m: m.__name__)
def test_no_field_could_carry_a_secret(model: type[Payload]) -> None:
    suspicious = {
        qualified
        for qualified in all_fields(model)
        if any(word in qualified.split(".")[1] for word in SECRET_WORDS)
        and qualified.split(".")[1] not in ALLOWED_KEY_FIELDS
        and not qualified.split(".")[1].endswith(("storage_key", "storage_keys"))
    }
    assert suspicious == set()


def test_secret_guard_sees_nested_models() -> None:
    assert "ImportOptions.phone_default_region" in all_fields(
        SUBJECTS["kith.evt.import.completed"].payload
    )


def test_import_options_refuse_the_api_key() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        ImportOptions.model_validate({"api_key": "s3cret", "photos": True})


def test_import_options_default_as_the_wizard() -> None:
    options = ImportOptions()
    assert options.auto_merge_duplicates
    assert options.notes
    assert not options.photos
    assert not options.documents
    assert options.phone_default_region == ""
