"""Settings given as text (environment variables, Managed Flink properties), validated on read.

Every runtime reads its settings through TextSettings, so a wrong value fails the same
way everywhere, naming the setting, the rule and the value found:
``INGEST_LINGER_MS must be >= 0, got -5``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

N = TypeVar("N", int, float)


class InvalidSetting(ValueError):
    """A setting is missing or wrong. Subclasses say what kind of name it is (``label``)."""

    label = ""

    def __init__(self, name: str, problem: str, value: object) -> None:
        self.name = name
        super().__init__(f"{self.label}{name} {problem}, got {value!r}")


class TextSettings:
    def __init__(self, values: Mapping[str, str], error: type[InvalidSetting]) -> None:
        self._values = values
        self._error = error

    def optional(self, name: str) -> str | None:
        return str(self._values.get(name) or "").strip() or None

    def text(self, name: str, default: str | None = None) -> str:
        value = self.optional(name)
        if value is not None:
            return value
        if default is None:
            raise self._error(name, "is required", None)
        return default

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        return self._bounded(name, int, "a whole number", default, minimum, maximum)

    def number(self, name: str, default: float, minimum: float, maximum: float | None = None) -> float:
        return self._bounded(name, float, "a number", default, minimum, maximum)

    def _bounded(self, name: str, convert: Callable[[str], N], kind: str, default: N, minimum: N,
                 maximum: N | None) -> N:  # fmt: skip
        raw = self.text(name, str(default))
        try:
            value = convert(raw)
        except ValueError:
            raise self._error(name, f"must be {kind}", raw) from None
        if value < minimum:
            raise self._error(name, f"must be >= {_show(minimum)}", value)
        if maximum is not None and value > maximum:
            raise self._error(name, f"must be <= {_show(maximum)}", value)
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise self._error(name, f"must be one of {', '.join(choices)}", value)
        return value

    def url(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not value.startswith(("http://", "https://")):
            raise self._error(name, "must be an http:// or https:// URL", value)
        return value


def _show(bound: float) -> str:
    """10485760 as it is; 0.1 rather than 0.10000000000000001."""
    return str(bound) if isinstance(bound, int) else f"{bound:g}"
