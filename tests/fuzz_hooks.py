"""Schemathesis hooks for tests/test_api_fuzz.py (loaded through `SCHEMATHESIS_HOOKS`).

An `Idempotency-Key` names one request: sent again with another body it is refused with 422
(`idempotency-key-reused`), as the IETF draft requires. The fuzzer draws header values from a small
space and would reuse one key across different bodies, which is the client's mistake, not the
server's; so every valid request gets a key of its own. Negative cases are left as drawn.
"""

import re
import uuid

import schemathesis

from backend.idempotency import KEY_PATTERN


@schemathesis.hook
def before_call(context, case, kwargs):  # noqa: ANN001
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return  # a negative case stays exactly as drawn (editing it would make schemathesis re-judge it)
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key):
        case.headers = {**case.headers, "Idempotency-Key": uuid.uuid4().hex}  # cases may share the dict
