"""The event contract: envelope, subjects, typed payloads and the subject registry.

Everything a producer or consumer needs to speak on the bus (ARCHITECTURE §3, §10). Renaming a
field or a subject here is a breaking change for other systems; `docs/asyncapi.yaml` is generated
from these models (`python -m kith_common.events.asyncapi`).

Import from the module that defines a name (nothing is re-exported here, so each name has one
home and one list):

- `subjects`: subject and stream constants, `prefixed`, `dlq_subject`, `message_type`.
- `envelope`: `Envelope`, `EnvelopeHead`, `RawEnvelope` and the `Payload` base.
- `payloads`: one `Payload` subclass per subject, by domain.
- `registry`: `SUBJECTS`, `build_envelope`/`parse_envelope`, `build_reply`/`parse_reply`.
- `examples`: one fixed example per subject (the AsyncAPI document and the contract tests).
"""
