"""The program's refusal of a stack whose settings cannot carry its declared peak."""

from __future__ import annotations

from runtime.capacity.figures import Figures
from runtime.capacity.model import StageNeed, capacity_model
from runtime.stack.model import Settings
from runtime.stack.reader import SettingsError


def _short(need: StageNeed) -> str:
    return (f"{need.stage} in {need.region} needs {need.need:,.4g} {need.unit} ({need.basis}), "
            f"{need.key} gives {need.setting:,.4g}")  # fmt: skip


def check_peak(settings: Settings, figures: Figures | None = None) -> None:
    """Raises SettingsError naming the setting, the stage and the need of every stage short of the peak."""
    shortfalls = capacity_model(settings, figures=figures).shortfalls
    if not shortfalls:
        return
    first, *others = shortfalls
    also = "".join(f"; also {_short(need)}" for need in others)
    raise SettingsError(first.key, f"cannot carry capacity.peakViewers ({settings.capacity.peak_viewers:,}): "
                        f"{_short(first)}{also} (python -m runtime.ops capacity --stack {settings.environment})",
                        first.setting)  # fmt: skip
