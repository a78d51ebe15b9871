"""The running stack's settings, from Pulumi's config: the one module of the program that reads it.

Parsing and validation are runtime/stack's (plain Python, shared with the local pipeline
and the operator commands); this adds only what needs the Pulumi engine, and the check that
the settings carry the stack's declared peak (runtime/capacity/).
"""

from __future__ import annotations

import json
from typing import Any

from runtime.capacity.check import check_peak
from runtime.capacity.figures import MissingFigure
from runtime.stack import PROJECT, Settings, SettingsError, parse_settings


def from_pulumi_config() -> Settings:
    """Settings of the running stack. Raises pulumi.RunError, which Pulumi prints without a trace."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    prefix = f"{PROJECT}:"
    # The engine hands every value over as text: objects and numbers as JSON, strings bare.
    values: dict[str, Any] = {}
    for full_key, text in {**get_config_env(), **CONFIG.get()}.items():
        if full_key.startswith(prefix):
            try:
                values[full_key[len(prefix) :]] = json.loads(text)
            except ValueError:
                values[full_key[len(prefix) :]] = text
    try:
        settings = parse_settings(values)
        # A stack that cannot carry the audience it declares is refused before any resource.
        check_peak(settings)
        return settings
    except (SettingsError, MissingFigure) as error:
        raise pulumi.RunError(str(error)) from None
