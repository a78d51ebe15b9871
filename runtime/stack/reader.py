"""Reading stack settings: a section of the ``prism-pipeline:*`` config, key by key.

A bad value stops the program with the key a user must edit, the rule it breaks and the
value found, e.g. ``prism-pipeline:streams.raw.shards must be >= 1, got 0``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
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

    def __init__(self, path: str, values: Mapping[str, Any]) -> None:
        self._path = path
        self._values = values
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self._values.get(name)

    def section(self, name: str) -> Section:
        value = self._get(name)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise SettingsError(self.key(name), "must be an object", value)
        return Section(self.key(name), value)

    def string(self, name: str, default: str | None = None, pattern: re.Pattern[str] | None = None,
               rule: str = "") -> str:  # fmt: skip
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
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self.string(name, None, pattern, rule)

    def strings(self, name: str, default: tuple[str, ...] | None) -> tuple[str, ...]:
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise SettingsError(self.key(name), "must be a list of non-empty strings", value)
        return tuple(value)

    def entries(self, name: str) -> list[Any]:
        """A list of objects, each read with its own Section by the caller; [] when unset."""
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            raise SettingsError(self.key(name), "must be a list of objects", value)
        return value

    def choice(self, name: str, choices: tuple[Choice, ...], default: Choice) -> Choice:
        """One of `choices` (a Literal's values), typed as that Literal."""
        value = self.string(name, default)
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
        if self._values.get(name) is None:
            self._read.add(name)
            return None
        return self.integer(name, None, minimum)

    def number(self, name: str, default: float | None, above: float = 0.0, maximum: float | None = None) -> float:
        """A number strictly greater than `above` (thresholds, amounts)."""
        value = self._get(name)
        if value is None:
            if default is None:
                raise SettingsError(self.key(name), "is required", None)
            return default
        return self._number(self.key(name), value, above, maximum)

    def numbers(self, name: str, default: tuple[float, ...], above: float = 0.0) -> tuple[float, ...]:
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


def stack_file_values(path: Path) -> dict[str, Any]:
    """The ``prism-pipeline:*`` values of a ``Pulumi.<stack>.yaml`` file, namespace removed."""
    document = yaml.safe_load(path.read_text()) or {}
    config = document.get("config") or {}
    prefix = f"{PROJECT}:"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}
