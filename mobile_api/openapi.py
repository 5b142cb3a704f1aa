"""The OpenAPI document tells the truth about what the server accepts and answers.

- Errors: Litestar describes failures with its own default error body; ours are RFC 9457 problems,
  rewritten by the handlers in `mobile_api.problems`. `document_problems` replaces those descriptions,
  once, after the document is built.
- Unknown fields: a msgspec struct declared with `forbid_unknown_fields=True` refuses a body with any
  other field (422), so its schema says `additionalProperties: false` (`ClosedStructSchemaPlugin`);
  a struct without it ignores unknown fields, and its schema leaves them allowed.
"""

from __future__ import annotations

from litestar import Litestar
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from litestar.typing import FieldDefinition

from mobile_api.problems import PROBLEM_BASE, PROBLEM_JSON


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's schema for msgspec structs, plus `additionalProperties: false` where the struct
    forbids unknown fields."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator) -> Schema:  # type: ignore[no-untyped-def]
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        return schema

_PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    title="Problem",
    description="RFC 9457 problem details. `type` resolves under `/problems`; clients switch on it.",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, examples=[PROBLEM_BASE + "validation-error"]),
        "title": Schema(type=OpenAPIType.STRING, examples=["The request has invalid fields"]),
        "status": Schema(type=OpenAPIType.INTEGER, examples=[422]),
        "detail": Schema(type=OpenAPIType.STRING, examples=["#/resident_id: check character should be X, got 3"]),
        "instance": Schema(type=OpenAPIType.STRING, examples=["/citizens"]),
        "request_id": Schema(type=OpenAPIType.STRING, description="Also in the `X-Request-ID` header"),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="For invalid input: one member per offending field (`pointer` into the body) or "
                        "parameter (`parameter` and `in`).",
            items=Schema(type=OpenAPIType.OBJECT, properties={
                "pointer": Schema(type=OpenAPIType.STRING, examples=["#/resident_id"]),
                "parameter": Schema(type=OpenAPIType.STRING),
                "in": Schema(type=OpenAPIType.STRING),
                "detail": Schema(type=OpenAPIType.STRING),
            }, required=["detail"]),
        ),
    },
)

_WHEN = {
    "400": "The request could not be read (malformed JSON, unreadable body)",
    "401": "Sign-in required, or the access token is invalid, expired or revoked",
    "403": "Not allowed: wrong role, outside your division, or a higher assurance level is needed "
           "(`step-up-required`)",
    "422": "Invalid fields; `errors` names each one",
    "default": "Any other failure (404, 409, 413, 429 with `Retry-After`, 503 with `Retry-After`), as a problem",
}


def _problem_response(description: str) -> OpenAPIResponse:
    ref = Reference(ref="#/components/schemas/Problem")
    return OpenAPIResponse(description=description, content={PROBLEM_JSON: OpenAPIMediaType(schema=ref)})


def _operations(app: Litestar) -> list[Operation]:
    found = []
    for item in (app.openapi_schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            if (operation := getattr(item, method)) is not None:
                found.append(operation)
    return found


def document_problems(app: Litestar) -> None:
    """Describe every operation's failures as problem details instead of Litestar's default body."""
    document = app.openapi_schema
    document.components.schemas["Problem"] = _PROBLEM
    for operation in _operations(app):
        responses = {code: r for code, r in (operation.responses or {}).items() if not code.startswith(("4", "5"))}
        takes_input = bool(operation.request_body or operation.parameters)
        codes = ["400", "422"] if takes_input else []
        if operation.security:
            codes += ["401", "403"]
        for code in [*codes, "default"]:
            responses[code] = _problem_response(_WHEN[code])
        operation.responses = responses
