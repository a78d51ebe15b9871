"""What one stage hands another: a resource's name and ARN together, not an unpacked pair."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class Ref:
    name: pulumi.Input[str]
    arn: pulumi.Input[str]
