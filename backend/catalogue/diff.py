"""Field-by-field comparison of two item standards: where a local variant departs from the national
standard (policy 四(一): one standard per item), reported as `path: old → new`, `path: + x`, `path: − x`."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from backend.catalogue.schemas import Difference, ItemStandard

# Lists whose elements are records: compared element by element under this key, so that adding one
# material reports that material, not a change to every later position.
_KEYS = {"materials": "name", "process": "name", "basis": "title"}
# Not part of the standard a citizen meets: search aids and popularity.
_IGNORED = {"aliases", "frequency"}


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def compare(national: dict[str, Any], local: dict[str, Any]) -> list[Difference]:
    """Every difference between two standards, in the order of the standard's fields."""
    # Through the struct, so that fields come in their declared order whatever order jsonb kept.
    national, local = (msgspec.to_builtins(msgspec.convert(s, ItemStandard)) for s in (national, local))
    differences: list[Difference] = []
    for field in dict.fromkeys([*national, *local]):
        if field not in _IGNORED:
            _walk(field, national.get(field), local.get(field), differences, _KEYS.get(field))
    return differences


def _walk(path: str, old: Any, new: Any, out: list[Difference], key: str | None = None) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for name in dict.fromkeys([*old, *new]):
            _walk(f"{path}.{name}", old.get(name), new.get(name), out)
        return
    if isinstance(old, list) and isinstance(new, list):
        _walk_list(path, old, new, out, key)
        return
    out.append(Difference(path=path, change="changed", summary=f"{path}: {_show(old)} → {_show(new)}",
                          national=old, local=new))


def _walk_list(path: str, old: list[Any], new: list[Any], out: list[Difference], key: str | None) -> None:
    if key and all(isinstance(v, dict) and key in v for v in [*old, *new]):
        old_by = {v[key]: v for v in old}
        new_by = {v[key]: v for v in new}
        for name, value in old_by.items():
            if name not in new_by:
                out.append(Difference(path=path, change="removed", summary=f"{path}: − {name}", national=value))
            else:
                _walk(f"{path}[{name}]", value, new_by[name], out)
        for name, value in new_by.items():
            if name not in old_by:
                out.append(Difference(path=path, change="added", summary=f"{path}: + {name}", local=value))
        return
    if all(not isinstance(v, dict | list) for v in [*old, *new]):
        for value in old:
            if value not in new:
                out.append(Difference(path=path, change="removed", summary=f"{path}: − {_show(value)}",
                                      national=value))
        for value in new:
            if value not in old:
                out.append(Difference(path=path, change="added", summary=f"{path}: + {_show(value)}",
                                      local=value))
        return  # the order of plain values (modes, targets, conditions) carries no meaning
    out.append(Difference(path=path, change="changed", summary=f"{path}: {_show(old)} → {_show(new)}",
                          national=old, local=new))
