"""InfluxDB's answer as Grafana's data frames, and what Grafana does to frames before it draws them:
math expressions and transformations.

- A ``time_series`` target gives one series per value column of each InfluxDB series, named as
  Grafana names them: ``measurement.column``, then its tags ``{tag: value}``.
- A ``table`` target gives one table: time, then the tags, then the value columns.
- A math expression (``$B / $A``) is computed point by point between series with the same tags,
  at the times both have; a division by zero gives no value there (Grafana draws a gap).
- The groupBy transformation groups rows by its ``groupby`` fields and reduces its ``aggregate``
  fields; a reduced column is named ``field (reducer)``.
"""

from __future__ import annotations

import ast
import operator
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.local.dashboard.grafana import DashboardError


@dataclass(frozen=True)
class Series:
    name: str
    labels: Mapping[str, str]
    times: tuple[int, ...]  # epoch ms
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...] = field(default_factory=tuple)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    return float(value) if isinstance(value, int | float) else None


def series_of(answer: Sequence[Mapping[str, Any]]) -> list[Series]:
    """A time_series target's frames from InfluxDB's series (queried with epoch=ms)."""
    frames = []
    for influx in answer:
        tags = dict(influx.get("tags") or {})
        suffix = " {" + ", ".join(f"{k}: {v}" for k, v in tags.items()) + "}" if tags else ""
        columns = influx["columns"]
        times = tuple(int(row[0]) for row in influx["values"])
        for index, column in enumerate(columns[1:], start=1):
            values = tuple(_number(row[index]) for row in influx["values"])
            frames.append(Series(f"{influx['name']}.{column}{suffix}", tags, times, values))
    return frames


def table_of(answer: Sequence[Mapping[str, Any]]) -> Table:
    """A table target's one table: time, the tags, the value columns, every InfluxDB series' rows."""
    if not answer:
        return Table(())
    tag_keys = list(dict.fromkeys(key for influx in answer for key in (influx.get("tags") or {})))
    value_columns = list(dict.fromkeys(column for influx in answer for column in influx["columns"][1:]))
    rows = []
    for influx in answer:
        tags = influx.get("tags") or {}
        for values in influx["values"]:
            by_column = dict(zip(influx["columns"], values, strict=True))
            rows.append(
                (by_column["time"], *(tags.get(k) for k in tag_keys), *(by_column.get(c) for c in value_columns))
            )
    return Table(("time", *tag_keys, *value_columns), tuple(rows))


# -- math expressions ------------------------------------------------------------------------

_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}  # fmt: skip
_REF = re.compile(r"\$\{?([A-Za-z]\w*)\}?")
Operand = list[Series] | float


def _apply(op: Callable[[float, float], float], left: Operand, right: Operand) -> Operand:
    def point(a: float | None, b: float | None) -> float | None:
        if a is None or b is None:
            return None
        try:
            return op(a, b)
        except ZeroDivisionError:
            return None

    if isinstance(left, float) and isinstance(right, float):
        return op(left, right)
    if isinstance(left, float) or isinstance(right, float):
        many = right if isinstance(left, float) else left
        assert isinstance(many, list)
        return [Series(s.name, s.labels, s.times, tuple(
            point(left, v) if isinstance(left, float) else point(v, right)  # type: ignore[arg-type]
            for v in s.values)) for s in many]  # fmt: skip
    out = []
    for a in left:
        for b in (s for s in right if dict(s.labels) == dict(a.labels)):
            at_b = dict(zip(b.times, b.values, strict=True))
            times = tuple(t for t in a.times if t in at_b)
            at_a = dict(zip(a.times, a.values, strict=True))
            out.append(Series(a.name, a.labels, times, tuple(point(at_a[t], at_b[t]) for t in times)))
    return out


def math(expression: str, refs: Mapping[str, list[Series]], name: str) -> list[Series]:
    """Grafana's math expression over the targets' series; the result series are called ``name``."""
    source = _REF.sub(lambda match: f"__ref_{match.group(1)}", expression)
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        raise DashboardError(f"math expression {expression!r}: not read by the page") from None

    def evaluate(node: ast.expr) -> Operand:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _apply(_OPERATORS[type(node.op)], evaluate(node.left), evaluate(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _apply(operator.mul, -1.0, evaluate(node.operand))
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id.startswith("__ref_"):
            ref = node.id.removeprefix("__ref_")
            if ref not in refs:
                raise DashboardError(f"math expression {expression!r}: no target {ref}")
            return list(refs[ref])
        raise DashboardError(f"math expression {expression!r}: {ast.dump(node)} is not read by the page")

    result = evaluate(tree)
    if isinstance(result, float):
        raise DashboardError(f"math expression {expression!r} names no target")
    return [Series(name + (s.name[s.name.index(" {"):] if " {" in s.name else ""), s.labels, s.times, s.values)
            for s in result]  # fmt: skip


# -- transformations -------------------------------------------------------------------------


def _reduce(reducer: str, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    numbers = [float(v) for v in present if isinstance(v, int | float) and not isinstance(v, bool)]
    reducers: dict[str, Callable[[], Any]] = {
        "distinctCount": lambda: len(set(present)),
        "count": lambda: len(present),
        "sum": lambda: sum(numbers),
        "mean": lambda: statistics.fmean(numbers) if numbers else None,
        "min": lambda: min(numbers) if numbers else None,
        "max": lambda: max(numbers) if numbers else None,
        "first": lambda: values[0] if values else None,
        "last": lambda: values[-1] if values else None,
    }
    if reducer not in reducers:
        raise DashboardError(f"groupBy: reducer {reducer} is not applied by the page")
    return reducers[reducer]()


def group_by(table: Table, options: Mapping[str, Any]) -> Table:
    """Grafana's groupBy transformation."""
    fields = options.get("fields", {})
    keys = [name for name, spec in fields.items() if spec.get("operation") == "groupby" and name in table.columns]
    reduced = [(name, reducer) for name, spec in fields.items() if spec.get("operation") == "aggregate"
               and name in table.columns for reducer in spec.get("aggregations", [])]  # fmt: skip
    index = {name: table.columns.index(name) for name in table.columns}
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in table.rows:
        groups.setdefault(tuple(row[index[k]] for k in keys), []).append(row)
    rows = tuple(
        (*group, *(_reduce(reducer, [r[index[name]] for r in members]) for name, reducer in reduced))
        for group, members in groups.items()
    )
    return Table((*keys, *(f"{name} ({reducer})" for name, reducer in reduced)), rows)


def transform(table: Table, transformations: Sequence[Mapping[str, Any]]) -> Table:
    for transformation in transformations:
        if transformation["id"] == "groupBy":
            table = group_by(table, transformation.get("options", {}))
        else:
            raise DashboardError(f"transformation {transformation['id']} is not applied by the page")
    return table
