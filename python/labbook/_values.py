"""Python values made into what the store keeps: JSON for config, summary and metadata, CSV text
for tables. Errors are labbook.InvalidArgument naming the place (`config.optimizer.lr`, a table's
column) and what was expected.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from labbook._errors import make_error

JsonValue = Any  # None, bool, int, float, str, list of JsonValue, dict of str to JsonValue


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def to_json(value: Any, where: str) -> JsonValue:
    """`value` as plain JSON: numpy scalars and arrays, tensors (anything with .tolist()),
    tuples, sets, paths and argparse namespaces are converted; dict keys must be strings
    (integers are written as JSON would, "3")."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise make_error(
                    "invalid_argument",
                    f"{where}: keys must be strings, got {_type_name(key)} {key!r}",
                )
            name = str(key)
            out[name] = to_json(item, f"{where}.{name}" if where else name)
        return out
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_json(item, f"{where}[{i}]") for i, item in enumerate(items)]
    # numpy scalars and arrays, torch tensors: .tolist() gives Python numbers and lists.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return to_json(tolist(), where)
    raise make_error(
        "invalid_argument",
        f"{where}: expected None, a bool, number, string, list or dict, got "
        f"{_type_name(value)}",
    )


def _csv_field(text: str) -> str:
    # RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:  # numpy scalars, 0-d arrays, tensors
        if getattr(getattr(value, "dtype", None), "kind", None) == "f" and not math.isnan(value):
            return str(value)  # numpy's shortest text for its own precision: float32 0.1 is "0.1"
        value = item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""  # a missing value, as pandas and the dashboard read an empty field
        return repr(value)  # the shortest text that reads back to the same double
    return _csv_field(str(value))


def _is_dataframe(data: Any) -> bool:
    kind = type(data)
    return kind.__name__ == "DataFrame" and kind.__module__.split(".")[0] == "pandas"


def table_csv(data: Any, where: str) -> str:
    """CSV text with a header row from a pandas DataFrame (its index left out), a dict of
    equally long columns, or a list of row dicts (columns in order of first appearance)."""
    if _is_dataframe(data):
        names = [str(name) for name in data.columns]
        columns = [data.iloc[:, i].tolist() for i in range(len(names))]
    elif isinstance(data, Mapping):
        names = []
        columns = []
        for name, column in data.items():
            if isinstance(column, (str, bytes)) or not hasattr(column, "__len__"):
                raise make_error(
                    "invalid_argument",
                    f"{where}: column {str(name)!r}: expected a sequence of values, got "
                    f"{_type_name(column)}",
                )
            names.append(str(name))
            columns.append(list(column))
        for name, column in zip(names, columns):
            if len(column) != len(columns[0]):
                raise make_error(
                    "invalid_argument",
                    f"{where}: column {name!r} has {len(column)} values but column "
                    f"{names[0]!r} has {len(columns[0])}; columns must be equally long",
                )
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)) and all(
        isinstance(row, Mapping) for row in data
    ):
        names = []
        seen: set[str] = set()
        for row in data:
            for name in row:
                if str(name) not in seen:
                    seen.add(str(name))
                    names.append(str(name))
        rows = [{str(k): v for k, v in row.items()} for row in data]
        columns = [[row.get(name) for row in rows] for name in names]
    else:
        raise make_error(
            "invalid_argument",
            f"{where}: expected a pandas DataFrame, a dict of columns or a list of row dicts, "
            f"got {_type_name(data)}",
        )
    if not names:
        raise make_error("invalid_argument", f"{where}: the table has no columns")
    lines = [",".join(_csv_field(name) for name in names)]
    for i in range(len(columns[0])):
        lines.append(",".join(_csv_cell(column[i]) for column in columns))
    return "\n".join(lines) + "\n"
