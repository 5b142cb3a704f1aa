"""The OpenAPI document tells the truth about what the server accepts and answers.

- Errors: Litestar describes failures with its own default error body; ours are RFC 9457 problems,
  rewritten by the handlers in `mobile_api.problems`. `document_problems` replaces those descriptions,
  once, after the document is built.
- Unknown fields: a msgspec struct declared with `forbid_unknown_fields=True` refuses a body with any
  other field (422), so its schema says `additionalProperties: false` (`ClosedStructSchemaPlugin`);
  a struct without it ignores unknown fields, and its schema leaves them allowed.
- Constraints: those of list items and union members, which Litestar leaves out, are copied from
  msgspec; integer parameters carry their 64-bit bounds (`document_contract`).
"""

from __future__ import annotations

import msgspec
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
    """Litestar's schema for msgspec structs, made to say what msgspec enforces: `additionalProperties:
    false` where the struct forbids unknown fields, and the constraints Litestar leaves out — those of
    list items and of the members of a union (`list[Annotated[str, Meta(pattern=…)]]`,
    `Annotated[str, Meta(min_length=4)] | None`)."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator) -> Schema:  # type: ignore[no-untyped-def]
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        info = msgspec.inspect.type_info(field_definition.type_)
        for field in info.fields:  # type: ignore[attr-defined]
            if isinstance(prop := (schema.properties or {}).get(field.encode_name), Schema):
                _constrain(prop, field.type)
        return schema


def _constrain(schema: Schema, info: msgspec.inspect.Type) -> None:
    """Copy msgspec's constraints of `info` into `schema` where Litestar left them out."""
    while isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    if isinstance(info, msgspec.inspect.UnionType):
        members = [m for m in info.types if not isinstance(m, msgspec.inspect.NoneType)]
        alternatives = [a for a in (schema.one_of or schema.any_of or []) if isinstance(a, Schema)]
        typed = [a for a in alternatives if a.type != OpenAPIType.NULL]
        if len(members) == len(typed):
            for member, alternative in zip(members, typed):
                _constrain(alternative, member)
        return
    if isinstance(info, msgspec.inspect.StrType) and schema.type == OpenAPIType.STRING:
        schema.pattern = schema.pattern or info.pattern
        schema.min_length = schema.min_length if schema.min_length is not None else info.min_length
        schema.max_length = schema.max_length if schema.max_length is not None else info.max_length
    elif isinstance(info, (msgspec.inspect.IntType, msgspec.inspect.FloatType)) and schema.type in (
            OpenAPIType.INTEGER, OpenAPIType.NUMBER):
        for ours, theirs in (("minimum", "ge"), ("maximum", "le"), ("exclusive_minimum", "gt"),
                             ("exclusive_maximum", "lt")):
            if getattr(schema, ours) is None and getattr(info, theirs) is not None:
                setattr(schema, ours, getattr(info, theirs))
    elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.FrozenSetType,
                           msgspec.inspect.VarTupleType)) and schema.type == OpenAPIType.ARRAY:
        schema.min_items = schema.min_items if schema.min_items is not None else info.min_length
        schema.max_items = schema.max_items if schema.max_items is not None else info.max_length
        if isinstance(schema.items, Schema):
            _constrain(schema.items, info.item_type)
    elif isinstance(info, msgspec.inspect.DictType) and isinstance(schema.additional_properties, Schema):
        _constrain(schema.additional_properties, info.value_type)


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


# msgspec reads integers as 64-bit: a larger parameter is refused (422).
_INT64 = (-(2**63), 2**63 - 1)


def document_contract(app: Litestar) -> None:
    """The one pass over the built document: failures as problems, integer parameters with their bounds."""
    document_problems(app)
    for operation in _operations(app):
        for parameter in operation.parameters or []:
            schema = getattr(parameter, "schema", None)
            if isinstance(schema, Schema) and schema.type == OpenAPIType.INTEGER:
                schema.minimum = _INT64[0] if schema.minimum is None else max(schema.minimum, _INT64[0])
                schema.maximum = _INT64[1] if schema.maximum is None else min(schema.maximum, _INT64[1])


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
