"""A panel's InfluxQL with Grafana's variables and macros substituted, the way Grafana's InfluxDB
datasource substitutes them before it sends a query.

- ``$timeFilter`` is the dashboard's time range: ``time >= <from>ms and time <= <to>ms``.
- A variable is written ``$name``, ``${name}`` or ``[[name]]``. "All" chosen is the variable's
  custom all value, verbatim (``.*``); without one, every value. Of a variable that takes
  several values or "All", each value is regex-escaped (the queries match tags with
  ``=~ /^$name$/``) and several become ``(a|b)``.

Anything left that looks like a variable is an error naming it: the page never sends Grafana's
syntax to InfluxDB, where it would match nothing and draw an empty panel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from runtime.local.dashboard.grafana import DashboardError, Variable

ALL: Final = "$__all"  # Grafana's value of "All" (and of a variable's URL parameter)
_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_REFERENCE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def escape_regex(value: str) -> str:
    return _REGEX_SPECIAL.sub(lambda match: "\\" + match.group(0), value)


def variable_value(variable: Variable, chosen: Sequence[str], every_value: Sequence[str]) -> str:
    """What ``$name`` becomes, for the values chosen (``$__all``, or none, is "All")."""
    if not chosen or ALL in chosen:
        if variable.all_value is not None:
            return variable.all_value
        chosen = every_value
    if not variable.multi and not variable.include_all:
        return chosen[0]
    escaped = [escape_regex(value) for value in chosen]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def time_filter(start_ms: int, end_ms: int) -> str:
    return f"time >= {start_ms}ms and time <= {end_ms}ms"


def interpolate(query: str, values: Mapping[str, str], start_ms: int, end_ms: int) -> str:
    """The query as Grafana sends it: ``values`` maps each variable to what variable_value gave."""
    macros = {"timeFilter": time_filter(start_ms, end_ms), "__timeFilter": time_filter(start_ms, end_ms)}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in macros:
            return macros[name]
        if name in values:
            return values[name]
        raise DashboardError(f"{match.group(0)} is neither a variable of the dashboard nor a macro the page knows")

    return _REFERENCE.sub(substitute, query)
