"""Alerting and budget settings: subscribers, alarm tuning and the budget, validated with the key named."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.stack import ALARM_KINDS, SettingsError, parse_settings
from runtime.stack.operations import ALARM_DEFAULTS
from tests.stack.test_settings import valid_values, with_value

ALARMS = "alerting.alarms"

BAD_OPERATIONS = [
    # (what is wrong, dotted key, value, the message it must give)
    ("paging without a subscriber", "alerting.paging", True,
     "prism-pipeline:alerting.emails must list at least one subscriber when alerting.paging is true"),
    ("not an e-mail address", "alerting.emails", ["oncall.example.com"],
     "prism-pipeline:alerting.emails[0] must be an e-mail address, got 'oncall.example.com'"),
    ("e-mails not a list", "alerting.emails", "oncall@example.com",
     "prism-pipeline:alerting.emails must be a list of non-empty strings, got 'oncall@example.com'"),
    ("plain HTTP endpoint", "alerting.httpsEndpoints", ["http://chat.example.com/hook"],
     "prism-pipeline:alerting.httpsEndpoints[0] must be an https:// URL, got 'http://chat.example.com/hook'"),
    ("muting an unknown alarm", "alerting.muted", ["cpu"],
     "prism-pipeline:alerting.muted[0] must name an alarm kind of docs/operations.md, got 'cpu'"),
    ("a typo in alerting", "alerting.pager", True, "prism-pipeline:alerting.pager is not a known setting"),
    ("an unknown alarm kind", f"{ALARMS}.ingest-cpus", {"threshold": 90},
     "prism-pipeline:alerting.alarms.ingest-cpus is not a known setting"),
    ("zero threshold", f"{ALARMS}.ingest-cpu.threshold", 0,
     "prism-pipeline:alerting.alarms.ingest-cpu.threshold must be > 0, got 0"),
    ("negative threshold", f"{ALARMS}.writer-iterator-age.threshold", -5,
     "prism-pipeline:alerting.alarms.writer-iterator-age.threshold must be > 0, got -5"),
    ("threshold not a number", f"{ALARMS}.alb-target-p99.threshold", "high",
     "prism-pipeline:alerting.alarms.alb-target-p99.threshold must be a number, got 'high'"),
    ("success ratio above 1", f"{ALARMS}.delivery-failures.threshold", 2,
     "prism-pipeline:alerting.alarms.delivery-failures.threshold must be <= 1, got 2"),
    ("period under a minute", f"{ALARMS}.writer-errors.periodSeconds", 30,
     "prism-pipeline:alerting.alarms.writer-errors.periodSeconds must be >= 60, got 30"),
    ("period not whole minutes", f"{ALARMS}.writer-errors.periodSeconds", 90,
     "prism-pipeline:alerting.alarms.writer-errors.periodSeconds must be a multiple of 60, got 90"),
    ("more datapoints than periods", f"{ALARMS}.writer-errors.datapointsToAlarm", 9,
     "prism-pipeline:alerting.alarms.writer-errors.datapointsToAlarm must be <= evaluationPeriods (5), got 9"),
    ("more than a day of periods", f"{ALARMS}.stream-iterator-age.evaluationPeriods", 2000,
     "prism-pipeline:alerting.alarms.stream-iterator-age.evaluationPeriods must be <= 1440"),
    ("freshness within the buffer interval", f"{ALARMS}.delivery-freshness.threshold", 30,
     "prism-pipeline:alerting.alarms.delivery-freshness.threshold must be > delivery.bufferIntervalSeconds (60)"),
    ("no budget amount", "budget.monthlyLimitUsd", ..., "prism-pipeline:budget.monthlyLimitUsd is required"),
    ("negative budget", "budget.monthlyLimitUsd", -100, "prism-pipeline:budget.monthlyLimitUsd must be > 0"),
    ("budget not a number", "budget.monthlyLimitUsd", "lots",
     "prism-pipeline:budget.monthlyLimitUsd must be a number, got 'lots'"),
    ("negative alert percent", "budget.actualAlertsPercent", [80, -1],
     "prism-pipeline:budget.actualAlertsPercent[1] must be > 0, got -1"),
    ("alert percents not a list", "budget.forecastAlertsPercent", 100,
     "prism-pipeline:budget.forecastAlertsPercent must be a list of numbers, got 100"),
    ("too many budget notifications", "budget.actualAlertsPercent", list(range(10, 110, 10)),
     "prism-pipeline:budget.actualAlertsPercent and forecastAlertsPercent must hold at most 10 thresholds"),
    ("zero anomaly amount", "budget.anomalyAlertUsd", 0, "prism-pipeline:budget.anomalyAlertUsd must be > 0, got 0"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "message"), [case[1:] for case in BAD_OPERATIONS],
                         ids=[case[0] for case in BAD_OPERATIONS])  # fmt: skip
def test_bad_operations_setting_fails_naming_the_key(path: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(with_value(path, value))
    assert str(raised.value).startswith(message)


def test_every_alarm_kind_has_a_default_tuning() -> None:
    assert set(ALARM_DEFAULTS) == set(ALARM_KINDS)


def test_a_stack_tunes_one_field_and_keeps_the_others_default() -> None:
    values = with_value(f"{ALARMS}.ingest-cpu", {"threshold": "70", "evaluationPeriods": 3})
    values["alerting"].update({"paging": True, "emails": ["oncall@prism.example.com"], "muted": ["ingest-memory"]})
    alerting = parse_settings(values).alerting
    cpu = alerting.alarms["ingest-cpu"]
    assert (cpu.threshold, cpu.evaluation_periods, cpu.period_seconds) == (
        70.0,
        3,
        ALARM_DEFAULTS["ingest-cpu"].period_seconds,
    )
    assert cpu.datapoints == 3, "the default datapoints (5) are capped at the periods asked for"
    assert alerting.alarms["writer-errors"] == ALARM_DEFAULTS["writer-errors"]
    assert alerting.muted == ("ingest-memory",)
    assert alerting.paging and alerting.emails == ("oncall@prism.example.com",)


def test_paging_off_needs_no_subscriber() -> None:
    values = valid_values()
    assert parse_settings(values).alerting.paging is False
    assert parse_settings(values).alerting.emails == ()
