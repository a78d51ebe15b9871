"""Reading stack settings: a section of the ``prism-pipeline:*`` config, key by key.

A bad value stops the program with the key a user must edit, the rule it breaks and the
value found, e.g. ``prism-pipeline:streams.raw.shards must be >= 1, got 0``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from runtime.stack.model import PROJECT

Choice = TypeVar("Choice", bound=str)


class SettingsError(ValueError):
    """A stack setting is missing or wrong; the message names the key to edit."""

    def __init__(self, key: str, problem: str, value: object) -> None:
        self.key = f"{PROJECT}:{key}"
        super().__init__(f"{self.key} {problem}, got {value!r}")


class Section:
    """Reads one config object, naming every key by its full dotted path.

    Unknown keys are errors too: a typo must not silently fall back to a default.
    """

    def __init__(self, path: str, values: Mapping[str, Any], rules: KeyRules | None = None) -> None:
        self._path = path
        self._values = values
        self._read: set[str] = set()
        self._rules = rules

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self._values.get(name)

    def _rule(self, name: str, kind: str, default: object, accepts: str = "", required: bool | None = None) -> None:
        if self._rules is not None:
            self._rules.note(self.key(name), kind, default, accepts, default is None if required is None else required)

    def section(self, name: str) -> Section:
        value = self._get(name)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise SettingsError(self.key(name), "must be an object", value)
        return Section(self.key(name), value, self._rules)

    def item(self, name: str, index: int, value: Mapping[str, Any]) -> Section:
        """The object at ``name[index]`` of a list read with `entries`."""
        return Section(self.key(f"{name}[{index}]"), value, self._rules)

    def string(self, name: str, default: str | None = None, pattern: re.Pattern[str] | None = None,
               rule: str = "") -> str:  # fmt: skip
        self._rule(name, "text", default, rule)
        return self._string(name, default, pattern, rule)

    def _string(self, name: str, default: str | None, pattern: re.Pattern[str] | None, rule: str) -> str:
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(self.key(name), "must be a non-empty string", value)
        if pattern is not None and not pattern.match(value):
            raise SettingsError(self.key(name), f"must be {rule}", value)
        return value

    def optional_string(self, name: str, pattern: re.Pattern[str], rule: str) -> str | None:
        self._rule(name, "text", None, rule, required=False)
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self._string(name, None, pattern, rule)

    def strings(self, name: str, default: tuple[str, ...] | None) -> tuple[str, ...]:
        self._rule(name, "list of text", default)
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise SettingsError(self.key(name), "must be a list of non-empty strings", value)
        return tuple(value)

    def entries(self, name: str) -> list[Any]:
        """A list of objects, each read with `item` by the caller; [] when unset."""
        self._rule(name, "list of objects", (), required=False)
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            raise SettingsError(self.key(name), "must be a list of objects", value)
        return value

    def choice(self, name: str, choices: tuple[Choice, ...], default: Choice) -> Choice:
        """One of `choices` (a Literal's values), typed as that Literal."""
        self._rule(name, "one of", default, ", ".join(choices))
        value = self._string(name, default, None, "")
        for choice in choices:
            if choice == value:
                return choice
        raise SettingsError(self.key(name), f"must be one of {', '.join(choices)}", value)

    def present(self, name: str) -> bool:
        """Whether the key is set (without reading it)."""
        return self._values.get(name) is not None

    def raw(self, name: str) -> Any:
        """The value as given, for an error message."""
        return self._values.get(name)

    def integer(self, name: str, default: int | None, minimum: int, maximum: int | None = None) -> int:
        self._rule(name, "whole number", default, _bounds(minimum, maximum, ">="))
        return self._integer(name, default, minimum, maximum)

    def _integer(self, name: str, default: int | None, minimum: int, maximum: int | None) -> int:
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        # `pulumi config set --path` may store a number as text.
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        # Bools are ints in Python and never a valid count.
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(self.key(name), "must be a whole number", value)
        if value < minimum:
            raise SettingsError(self.key(name), f"must be >= {minimum}", value)
        if maximum is not None and value > maximum:
            raise SettingsError(self.key(name), f"must be <= {maximum}", value)
        return value

    def optional_integer(self, name: str, minimum: int) -> int | None:
        self._rule(name, "whole number", None, _bounds(minimum, None, ">="), required=False)
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self._integer(name, None, minimum, None)

    def number(self, name: str, default: float | None, above: float = 0.0, maximum: float | None = None) -> float:
        """A number strictly greater than `above` (thresholds, amounts)."""
        self._rule(name, "number", default, _bounds(above, maximum, ">"))
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        return self._number(self.key(name), value, above, maximum)

    def optional_number(self, name: str, above: float = 0.0, maximum: float | None = None) -> float | None:
        """A number strictly greater than `above`, or None when the key is absent."""
        self._rule(name, "number", None, _bounds(above, maximum, ">"), required=False)
        value = self._get(name)
        if value is None:
            return None
        return self._number(self.key(name), value, above, maximum)

    def numbers(self, name: str, default: tuple[float, ...], above: float = 0.0) -> tuple[float, ...]:
        self._rule(name, "list of numbers", default, _bounds(above, None, ">"))
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, list):
            raise SettingsError(self.key(name), "must be a list of numbers", value)
        return tuple(self._number(f"{self.key(name)}[{i}]", item, above, None) for i, item in enumerate(value))

    @staticmethod
    def _number(key: str, value: Any, above: float, maximum: float | None) -> float:
        if isinstance(value, str):  # `pulumi config set --path` may store a number as text
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(key, "must be a number", value)
        if not value > above:
            raise SettingsError(key, f"must be > {above:g}", value)
        if maximum is not None and value > maximum:
            raise SettingsError(key, f"must be <= {maximum:g}", value)
        return float(value)

    def boolean(self, name: str, default: bool) -> bool:
        self._rule(name, "true or false", default)
        value = self._get(name)
        if value is None:
            return default
        if value in ("true", "false"):  # text, as `pulumi config set` stores it
            return bool(value == "true")
        if not isinstance(value, bool):
            raise SettingsError(self.key(name), "must be true or false", value)
        return value

    def finish(self) -> None:
        for name in sorted(set(self._values) - self._read):
            raise SettingsError(self.key(name), "is not a known setting", self._values[name])


def _bounds(low: float, high: float | None, relation: str) -> str:
    def number(value: float) -> str:
        return str(int(value)) if float(value).is_integer() else f"{value:g}"

    if high is None:
        return f"{relation} {number(low)}"
    return f"{number(low)} to {number(high)}" if relation == ">=" else f"{relation} {number(low)}, <= {number(high)}"


@dataclass
class KeyRule:
    """What one key accepts, as its reader checks it: the settings reference is written from these."""

    key: str
    kind: str  # text, whole number, number, true or false, one of, list of ...
    default: object  # None: required, or unset
    accepts: str  # bounds, choices or the rule of a pattern
    required: bool


@dataclass
class KeyRules:
    """Every key the readers were asked for, in reading order; the first reading of a key wins."""

    rules: dict[str, KeyRule] = field(default_factory=dict)

    def note(self, key: str, kind: str, default: object, accepts: str, required: bool) -> None:
        self.rules.setdefault(key, KeyRule(key, kind, default, accepts, required))


def stack_file_values(path: Path) -> dict[str, Any]:
    """The ``prism-pipeline:*`` values of a ``Pulumi.<stack>.yaml`` file, namespace removed."""
    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    prefix = f"{PROJECT}:"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
