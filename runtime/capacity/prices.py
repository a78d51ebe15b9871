"""The price table (prices.json): list prices with their date and, per line, the page they come from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PRICES_FILE: Final = Path(__file__).resolve().parent / "prices.json"
HOURS_PER_MONTH: Final = 730  # AWS's own pricing examples count a month as 730 hours


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str
    estimate: bool


@dataclass(frozen=True)
class PriceTable:
    date: str
    basis: str
    prices: dict[str, Price]

    def __getitem__(self, name: str) -> float:
        return self.prices[name].usd


def price_table(path: Path = PRICES_FILE) -> PriceTable:
    document = json.loads(path.read_text())
    prices = {
        name: Price(float(line["usd"]), line["unit"], line["source"], line.get("confidence") == "estimate")
        for name, line in document["prices"].items()
    }
    return PriceTable(document["date"], document["basis"], prices)
