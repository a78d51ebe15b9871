"""The capacity model as a person reads it (a table per region) and as a program does (JSON)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from runtime.capacity.cost import RegionCost, per_thousand_viewer_hours
from runtime.capacity.model import CapacityModel, StageNeed
from runtime.capacity.prices import PriceTable


def show_number(value: float) -> str:
    """A figure as the table shows it: whole above 100, two decimals below, two digits when tiny."""
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}" if value >= 0.01 else f"{value:.2g}"


def show_headroom(need: StageNeed) -> str:
    """What the setting gives beyond the need, as a share of the need; SHORT when it gives less."""
    if need.setting is None:
        return "-"
    headroom = need.headroom
    if headroom is None:
        return "-"
    shown = ">+999%" if headroom > 9.99 else f"{headroom:+.0%}"
    return shown + ("" if need.carried else " SHORT")


def table(model: CapacityModel, costs: list[RegionCost], prices: PriceTable) -> str:
    settings = model.settings
    profile = model.profile
    alone = settings.capacity.each_region_carries_peak
    lines = [
        f"stack {settings.environment}: {model.viewers:,} concurrent viewers "
        + ("(each region alone carries them)" if alone else "(split between regions)"),
        f"a viewer: {profile.events_per_viewer_minute:.1f} events a minute of {profile.event_bytes:g} bytes, "
        f"a session every {1 / profile.sessions_per_viewer_minute:g} min",
        "",
    ]  # fmt: skip
    for region in settings.regions:
        load = model.loads[region.name]
        lines.append(f"{region.name}: sized for {load.viewers:,.0f} viewers, {load.events:,.0f} events/s")
        rows = [
            (n.stage, show_number(n.need), "-" if n.setting is None else show_number(n.setting), n.unit,
             show_headroom(n), n.key)
            for n in model.needs if n.region == region.name
        ]  # fmt: skip
        header = ("stage", "need", "setting", "unit", "headroom", "key")
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            lines.append("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        lines.append("")
    for cost in costs:
        lines.append(f"{cost.region}: monthly cost carrying {cost.viewers:,.0f} viewers: {cost.total:,.0f} USD")
        for line in cost.lines:
            lines.append(f"  {line.item:42} {line.usd:>10,.0f}  {line.basis}")
        lines.append("")
    lines.append(f"both regions: {sum(c.total for c in costs):,.0f} USD a month, "
                 f"{per_thousand_viewer_hours(costs):.2f} USD per 1,000 viewer-hours "
                 f"(list prices of {prices.date}, runtime/capacity/prices.json)")  # fmt: skip
    lines.append("")
    lines.append("sources:")
    for source in sorted({source for need in model.needs for source in need.sources} | set(profile.sources.values())):
        lines.append(f"  {source}")
    return "\n".join(lines)


def document(model: CapacityModel, costs: list[RegionCost], prices: PriceTable) -> dict[str, Any]:
    return {
        "stack": model.settings.environment,
        "viewers": model.viewers,
        "eachRegionCarriesPeak": model.settings.capacity.each_region_carries_peak,
        "profile": asdict(model.profile),
        "stages": [{**asdict(need), "carried": need.carried, "headroom": need.headroom} for need in model.needs],
        "monthlyCost": [
            {
                "region": c.region,
                "viewers": c.viewers,
                "totalUsd": round(c.total, 2),
                "lines": [asdict(line) for line in c.lines],
            }
            for c in costs
        ],
        "usdPerThousandViewerHours": round(per_thousand_viewer_hours(costs), 4),
        "prices": {"date": prices.date, "basis": prices.basis},
    }
