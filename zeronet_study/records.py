"""Typed records and their JSON: dataclasses in memory, plain JSON on disk (results.json).

:func:`to_json` turns a dataclass (recursively: lists, tuples, dicts, NumPy
scalars) into JSON values, NaN and inf into null (strict JSON); :func:`from_json`
builds the dataclass back from them, checking every field's presence. Field
metadata shapes the JSON where a record's layout is older than its class:

* ``OPTIONAL``: a field that is None is left out, and may be absent (a number
  that is there but NaN is written as null, and read back as NaN);
* ``FLATTEN``: a nested record (or None) whose fields sit in the parent's
  object, not under a key of their own;
* ``json_key("name")``: the key, when it is no Python name (``first_step_above_1e-12``).

A class may also list ``JSON_PROPERTIES``: properties written after its
fields (values derived from them, recorded for the reader) and ignored on
reading.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

R = TypeVar("R")

OPTIONAL = {"optional": True}
FLATTEN = {"flatten": True}


def json_key(key: str, **more: bool) -> dict[str, Any]:
    """Field metadata: this field's key in the JSON object is ``key``."""
    return {"key": key, **more}


def _key(field: dataclasses.Field) -> str:
    return field.metadata.get("key", field.name)


def to_json(value: Any) -> Any:
    """``value`` as JSON values: records as objects, NaN/inf as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if field.metadata.get("flatten"):
                if item is not None:
                    out.update(to_json(item))
            elif item is not None or not field.metadata.get("optional"):
                out[_key(field)] = to_json(item)
        for name in getattr(type(value), "JSON_PROPERTIES", ()):
            out[name] = to_json(getattr(value, name))
        return out
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def from_json(cls: type[R], data: Any) -> R:
    """The ``cls`` record that :func:`to_json` wrote as ``data``.

    Raises:
        ValueError: naming the record and key, if a required key is missing or
            ``data`` is not an object where a record is expected.
    """
    return _build(cls, data, cls.__name__)


def _build(tp: Any, data: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _record(tp, data, where)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        records = [a for a in args if dataclasses.is_dataclass(a) or typing.get_origin(a)]
        return _build(records[0], data, where) if len(records) == 1 else data
    if origin is list:
        return [_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(data)]
    if origin is tuple:
        return tuple(_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
    if origin is dict:
        return {k: _build(args[1], v, f"{where}[{k!r}]") for k, v in data.items()}
    return data  # str, int, float, bool, Any: JSON's own values


def _record(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.metadata.get("flatten"):
            (inner,) = [a for a in typing.get_args(hints[field.name]) if a is not type(None)]
            if any(_key(f) in data for f in dataclasses.fields(inner)):
                values[field.name] = _record(inner, data, where)
            else:
                values[field.name] = None
        elif _key(field) in data and data[_key(field)] is None and field.metadata.get("optional"):
            values[field.name] = math.nan  # present: not left out as None, so a NaN
        elif _key(field) in data:
            values[field.name] = _build(hints[field.name], data[_key(field)],
                                        f"{where}.{_key(field)}")
        elif field.default is dataclasses.MISSING and \
                field.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: expected the key {_key(field)!r}, got "
                             f"{sorted(data)}")
    return cls(**values)
