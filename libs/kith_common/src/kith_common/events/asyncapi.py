"""The AsyncAPI 3.0.0 document of the bus, rendered from the registry and payload models.

`docs/asyncapi.yaml` is this module's output, committed; a test fails when they disagree, so the
published contract can never drift from the code (ARCHITECTURE §3). Regenerate with
`python -m kith_common.events.asyncapi > docs/asyncapi.yaml` (or `kith docs asyncapi`).

Built here from the pydantic JSON schemas rather than with FastStream's generator: FastStream
0.7.8's document orders channels unstably, points `correlationId` at a header we do not send (it
is an envelope field), cannot express the request/reply of `check_connection`, writes `custom`
as protocol and binding versions, percent-encodes component names (`Envelope%5B...%5D`,
`kith.dlq.%3E`) and marks `id`/`occurred_at` optional although every envelope carries them.
Patching all of that afterwards would be more code than this, and tied to FastStream internals.

The output is deterministic: keys sorted, no timestamps, schemas in serialization mode (what a
subscriber receives: every field present).
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import CoreSchema, core_schema

from kith_common.events import subjects as s
from kith_common.events.envelope import Payload
from kith_common.events.examples import example_envelope
from kith_common.events.registry import SUBJECTS, SubjectSpec, envelope_model, reply_type

__all__ = ["ASYNCAPI_VERSION", "CONTRACT_VERSION", "build_document", "render_asyncapi"]

ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"
"""The contract's own version: bump the major on any breaking change (a renamed field)."""

_REF = "#/components/schemas/{model}"

_INFO_DESCRIPTION = """\
Every message Kith sends over NATS: commands (`kith.cmd.<domain>.<verb>`, stream `KITH_CMD`,
work-queue retention: each handled once), events (`kith.evt.<domain>.<fact>`, stream
`KITH_EVT`, limits retention, 7 days by default: subscribe to `kith.evt.>` with your own durable
consumer), one request/reply subject (`kith.rpc.import.check_connection`, core NATS, no stream)
and dead letters (`kith.dlq.<durable>`, stream `KITH_DLQ`).

Each message body is a JSON envelope: `id` (also the `Nats-Msg-Id` header, so a duplicate
publish inside the stream's duplicate window is dropped; consumers must still deduplicate by
`id`), `type` (the subject without `kith.<kind>.`), `occurred_at`, `account_id`, `generation`
(the account's generation when produced; a consumer drops messages of an older generation, which
is how an account reset fences stale work), `correlation_id` (the HTTP request id that started the
chain), `schema_version` (the schema the producer wrote) and `data`, typed per subject. Producers
validate strictly; Kith's consumers ignore fields they do not know and accept any
`schema_version`, so an added optional field is compatible and a renamed one is a breaking
change (docs/events.md, compatibility rules). No secret and no file content is ever on the bus."""


class _WireSchema(GenerateJsonSchema):
    """JSON schema of what goes on the wire: every field is always written, no field titles."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)

    def field_title_should_be_set(self, schema: CoreSchema | Any) -> bool:
        return False


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                out[key] = _REF.format(model=renames.get(name, name))
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def _schemas(specs: list[SubjectSpec]) -> dict[str, Any]:
    """Every envelope, payload and nested schema; envelopes named `<Payload>Envelope`."""
    payloads: list[type[Payload]] = []
    for spec in specs:
        payloads.append(spec.payload)
        if spec.reply is not None:
            payloads.append(spec.reply)
    inputs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (envelope_model(p), "serialization") for p in payloads
    ]
    refs, defs = models_json_schema(inputs, ref_template=_REF, schema_generator=_WireSchema)
    renames = {
        refs[(envelope_model(p), "serialization")]["$ref"].rsplit("/", 1)[-1]: _envelope_name(p)
        for p in payloads
    }
    schemas = {renames.get(k, k): _rename_refs(v, renames) for k, v in defs["$defs"].items()}
    for payload in payloads:
        schema = schemas[_envelope_name(payload)]
        schema["title"] = _envelope_name(payload)
        schema["description"] = (
            f"The JSON envelope of a message whose `data` is `{payload.__name__}`."
        )
    return schemas


def _envelope_name(payload: type[Payload]) -> str:
    return f"{payload.__name__}Envelope"


def _type_schema(spec: SubjectSpec) -> dict[str, Any]:
    if spec.kind == "dlq":
        return {
            "description": "`dlq.<durable>` of the consumer that gave up.",
            "pattern": r"^dlq\.[a-z][a-z0-9-]*$",
            "type": "string",
        }
    return {"const": spec.message_type, "type": "string"}


def _message(
    name: str, spec: SubjectSpec, payload: type[Payload], envelope: str, *, reply: bool = False
) -> dict[str, Any]:
    example = example_envelope(spec.subject, reply=reply).model_dump(mode="json")
    message: dict[str, Any] = {
        "examples": [{"name": "example", "payload": example}],
        "name": name,
        "title": payload.__name__,
        "summary": (payload.__doc__ or "").strip().splitlines()[0],
        "contentType": "application/json",
        "correlationId": {
            "description": "The HTTP request id (`X-Request-Id`) that started the chain.",
            "location": "$message.payload#/correlation_id",
        },
        "payload": {"$ref": _REF.format(model=envelope)},
    }
    if spec.stream is not None:
        message["headers"] = {
            "properties": {
                "Nats-Msg-Id": {
                    "description": "The envelope `id` (JetStream duplicate detection).",
                    "format": "uuid",
                    "type": "string",
                }
            },
            "required": ["Nats-Msg-Id"],
            "type": "object",
        }
    return message


def _channel_description(spec: SubjectSpec) -> str:
    where = f"Stream `{spec.stream}`" if spec.stream else "Core NATS request/reply, no stream"
    lines = [
        spec.description,
        "",
        f"{where}; kind: {spec.kind}.",
        "Producers: " + "; ".join(spec.producers) + ".",
    ]
    if spec.consumers:
        lines.append("Consumers: " + "; ".join(spec.consumers) + ".")
    return "\n".join(lines)


def build_document() -> dict[str, Any]:
    """The AsyncAPI document as plain data (see `render_asyncapi`)."""
    specs = sorted(SUBJECTS.values(), key=lambda spec: spec.subject)
    schemas = _schemas(specs)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    for spec in specs:
        if spec.kind == "dlq":
            channel_id = s.DLQ_PREFIX.rstrip(".")
            address = s.DLQ_PREFIX + "{durable}"
        else:
            channel_id = address = spec.subject
        envelope = _envelope_name(spec.payload)
        schemas[envelope]["properties"]["type"] = _type_schema(spec)
        messages[spec.payload.__name__] = _message(
            spec.payload.__name__, spec, spec.payload, envelope
        )
        channel: dict[str, Any] = {
            "address": address,
            "description": _channel_description(spec),
            "messages": {
                spec.payload.__name__: {"$ref": f"#/components/messages/{spec.payload.__name__}"}
            },
            "servers": [{"$ref": "#/servers/nats"}],
            "x-kith-kind": spec.kind,
            "x-kith-stream": spec.stream,
        }
        if spec.kind == "dlq":
            channel["parameters"] = {
                "durable": {"description": "The durable consumer that gave up, e.g. reset-notes."}
            }
        channels[channel_id] = channel
        channel_ref = {"$ref": f"#/channels/{channel_id}"}
        message_ref = {"$ref": f"#/channels/{channel_id}/messages/{spec.payload.__name__}"}

        send: dict[str, Any] = {
            "action": "send",
            "channel": channel_ref,
            "messages": [message_ref],
            "summary": "Published by " + "; ".join(spec.producers) + ".",
        }
        if spec.reply is not None:
            reply_id = f"{spec.subject}.reply"
            reply_envelope = _envelope_name(spec.reply)
            schemas[reply_envelope]["properties"]["type"] = {
                "const": reply_type(spec.subject),
                "type": "string",
            }
            messages[spec.reply.__name__] = _message(
                spec.reply.__name__, spec, spec.reply, reply_envelope, reply=True
            )
            channels[reply_id] = {
                "address": None,
                "description": "The requester's reply inbox (NATS `reply_to`).",
                "messages": {
                    spec.reply.__name__: {"$ref": f"#/components/messages/{spec.reply.__name__}"}
                },
                "servers": [{"$ref": "#/servers/nats"}],
            }
            send["reply"] = {
                "channel": {"$ref": f"#/channels/{reply_id}"},
                "messages": [{"$ref": f"#/channels/{reply_id}/messages/{spec.reply.__name__}"}],
            }
        operations[f"{channel_id}.send"] = send

        if spec.consumers:
            consumed_by = "Consumed by " + "; ".join(spec.consumers) + "."
        else:
            consumed_by = "No durable consumer in Kith; the gateway's live stream forwards it."
        if spec.kind == "event":
            consumed_by += " Any system may subscribe with its own durable consumer."
        operations[f"{channel_id}.receive"] = {
            "action": "receive",
            "channel": channel_ref,
            "messages": [message_ref],
            "summary": consumed_by,
        }
        if "reply" in send:
            operations[f"{channel_id}.receive"]["reply"] = send["reply"]

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Kith events",
            "version": CONTRACT_VERSION,
            "description": _INFO_DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "The NATS server with JetStream named by KITH_NATS_URL "
                "(this is its default).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


class _Dumper(yaml.SafeDumper):
    """Safe YAML: multi-line strings as literal blocks, and no anchors for repeated objects."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_asyncapi() -> str:
    """The AsyncAPI 3.0.0 document of every subject, as deterministic YAML (sorted keys)."""
    return yaml.dump(
        build_document(),
        Dumper=_Dumper,
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def main() -> None:
    """Write the document to stdout as UTF-8 (`python -m kith_common.events.asyncapi`)."""
    sys.stdout.buffer.write(render_asyncapi().encode())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
