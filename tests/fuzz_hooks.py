"""Schemathesis hooks for tests/test_api_fuzz.py (loaded through `SCHEMATHESIS_HOOKS`).

An `Idempotency-Key` names one request: sent again with another body it is refused with 422
(`idempotency-key-reused`), as the IETF draft requires. The fuzzer draws header values from a small
space and would reuse one key across different bodies, which is the client's mistake, not the
server's; so every valid request gets a key of its own. Negative cases are left as drawn.

No string anywhere in the API may hold U+0000 (the OpenAPI document's description says so; PostgreSQL's
text cannot hold it, and the API refuses it with 422 naming the field). The schemas' own keywords cannot
say it for every free text and form value, so a valid request has it taken out of its strings.
"""

import re
import uuid

import schemathesis

from backend.idempotency import KEY_PATTERN


@schemathesis.hook
def before_call(context, case, kwargs):  # noqa: ANN001
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return  # a negative case stays exactly as drawn (editing it would make schemathesis re-judge it)
    case.body, case.query, case.path_parameters = (_without_nul(part) for part in
                                                   (case.body, case.query, case.path_parameters))
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        case.headers = {**case.headers, "Idempotency-Key": uuid.uuid4().hex}  # cases may share the dict


def _without_nul(value):  # noqa: ANN001, ANN202
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value
