"""The recovery figures of a region loss: from the stack settings, and the failover page says the same."""

from __future__ import annotations

import dataclasses

from runtime.stack.failover import project_stacks, recovery_figures, recovery_table
from runtime.stack.reference import ROOT


def test_the_failover_page_holds_the_figures_the_stack_settings_give() -> None:
    page = (ROOT / "docs" / "failover.md").read_text()
    assert recovery_table(project_stacks()) in page, "run `python -m runtime.stack.failover` and paste its table"


def test_the_figures_follow_the_settings() -> None:
    dev = project_stacks()["dev"]
    figures = recovery_figures(dev)
    assert (figures.acknowledged_kept_h, figures.raw_bucket_behind_s) == (
        dev.streams["raw"].retention_hours,
        dev.delivery.buffer_interval_seconds,
    )
    with_rtc = dataclasses.replace(dev, replication=dataclasses.replace(dev.replication, time_control=True))
    assert recovery_figures(with_rtc).replicated == "99.99 % within 15 min (RTC)"
    assert recovery_figures(dev).replicated == "no bound (no RTC)"


def test_every_stack_is_a_column() -> None:
    assert list(project_stacks()) == ["dev", "datamart", "slowprod", "loadtest"]
