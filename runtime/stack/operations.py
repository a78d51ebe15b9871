"""Parsers of what watches the pipeline: alarm subscribers and tuning, and the stack's budget.

Every alarm kind has a default tuning here (the unit of each threshold is in
docs/operations.md); a stack overrides any field under ``alerting.alarms.<kind>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from runtime.stack.model import ALARM_KINDS, AlarmKind, AlarmTuning, AlertingSettings, BudgetSettings, DeliverySettings
from runtime.stack.reader import Section, SettingsError

# threshold, period (s), evaluation periods, datapoints that must breach
ALARM_DEFAULTS: Mapping[AlarmKind, AlarmTuning] = {
    "alb-target-5xx-rate": AlarmTuning(1.0, 60, 5, 3),  # % of requests
    "alb-elb-5xx-rate": AlarmTuning(1.0, 60, 5, 3),  # % of requests
    "alb-target-p99": AlarmTuning(0.5, 60, 5, 3),  # seconds
    "alb-unhealthy-hosts": AlarmTuning(1, 60, 3, 3),  # tasks
    "ingest-cpu": AlarmTuning(85, 60, 5, 5),  # % of the service's CPU
    "ingest-memory": AlarmTuning(85, 60, 5, 5),  # % of the service's memory
    "ingest-unavailable": AlarmTuning(1, 60, 3, 2),  # 503 answers per period
    "ingest-events-rejected": AlarmTuning(100, 300, 1, 1),  # events per period
    "ingest-kinesis-retries": AlarmTuning(100, 60, 5, 3),  # records per period
    "stream-write-throttled": AlarmTuning(1, 60, 5, 3),  # records per period
    "stream-iterator-age": AlarmTuning(300_000, 60, 5, 5),  # ms
    "delivery-freshness": AlarmTuning(900, 300, 1, 1),  # seconds
    "delivery-failures": AlarmTuning(1, 300, 1, 1),  # success ratio below this
    "delivery-behind-stream": AlarmTuning(300_000, 60, 5, 5),  # ms
    "sessionizer-downtime": AlarmTuning(1, 60, 1, 1),  # ms
    "sessionizer-restarts": AlarmTuning(1, 300, 1, 1),  # restarts per period
    "sessionizer-failed-checkpoints": AlarmTuning(1, 300, 1, 1),  # failures per period
    "sessionizer-behind-stream": AlarmTuning(60_000, 60, 5, 5),  # ms
    "sessionizer-late-events": AlarmTuning(100, 300, 1, 1),  # events per period, per reason
    "writer-errors": AlarmTuning(1, 60, 5, 3),  # failed invocations per period
    "writer-throttles": AlarmTuning(1, 60, 5, 3),  # throttled invocations per period
    "writer-iterator-age": AlarmTuning(60_000, 60, 5, 5),  # ms
    "writer-failed-batches": AlarmTuning(1, 60, 1, 1),  # messages waiting
    "timestream-user-errors": AlarmTuning(1, 300, 1, 1),  # errors per period
    "timestream-system-errors": AlarmTuning(1, 300, 1, 1),  # errors per period
    "influxdb-disk": AlarmTuning(80, 300, 3, 3),  # % of the instance's storage in use
    "replication-failures": AlarmTuning(1, 300, 1, 1),  # operations per period
    "replication-latency": AlarmTuning(900, 300, 3, 3),  # seconds
    "reconciler-errors": AlarmTuning(1, 300, 1, 1),  # failed invocations per period
    "reconciler-failed-objects": AlarmTuning(1, 60, 1, 1),  # objects waiting
    "reconciler-undelivered": AlarmTuning(1, 300, 1, 1),  # notifications per period
    "alarm-relay-failures": AlarmTuning(1, 300, 1, 1),  # failures per period
    "alarm-relay-undelivered": AlarmTuning(1, 300, 1, 1),  # events per period
    "replay-errors": AlarmTuning(1, 300, 1, 1),  # failed invocations per period
    "replay-failed-objects": AlarmTuning(1, 60, 1, 1),  # objects waiting
}

# A success ratio is at most 1.
_RATIO_ALARMS: tuple[AlarmKind, ...] = ("delivery-failures",)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_HTTPS_ENDPOINT = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/\S*)?$")
# CloudWatch evaluates at most one day of standard-resolution periods.
_MAX_EVALUATION_SECONDS = 86_400


def parse_alerting(section: Section, delivery: DeliverySettings) -> AlertingSettings:
    paging = section.boolean("paging", True)
    emails = section.strings("emails", ())
    for index, email in enumerate(emails):
        if not _EMAIL.match(email):
            raise SettingsError(section.key(f"emails[{index}]"), "must be an e-mail address", email)
    endpoints = section.strings("httpsEndpoints", ())
    for index, endpoint in enumerate(endpoints):
        if not _HTTPS_ENDPOINT.match(endpoint):
            raise SettingsError(section.key(f"httpsEndpoints[{index}]"), "must be an https:// URL", endpoint)
    if paging and not emails and not endpoints:
        raise SettingsError(section.key("emails"), "must list at least one subscriber when alerting.paging is "
                            "true (or set paging: false)", list(emails))  # fmt: skip
    muted = section.strings("muted", ())
    for index, kind in enumerate(muted):
        if kind not in ALARM_KINDS:
            raise SettingsError(section.key(f"muted[{index}]"), "must name an alarm kind of docs/operations.md", kind)
    alarms_section = section.section("alarms")
    alarms = {kind: _tuning(alarms_section, kind) for kind in ALARM_KINDS}
    alarms_section.finish()
    freshness = alarms["delivery-freshness"].threshold
    if freshness <= delivery.buffer_interval_seconds:
        # Firehose holds data up to its buffer interval on purpose: that is not staleness.
        raise SettingsError(alarms_section.key("delivery-freshness.threshold"),
                            f"must be > delivery.bufferIntervalSeconds ({delivery.buffer_interval_seconds})",
                            freshness)  # fmt: skip
    section.finish()
    return AlertingSettings(
        paging=paging,
        emails=emails,
        https_endpoints=endpoints,
        muted=tuple(kind for kind in ALARM_KINDS if kind in muted),
        alarms=alarms,
    )


def _tuning(alarms: Section, kind: AlarmKind) -> AlarmTuning:
    default = ALARM_DEFAULTS[kind]
    section = alarms.section(kind)
    maximum = 1.0 if kind in _RATIO_ALARMS else None
    threshold = section.number("threshold", default.threshold, 0.0, maximum)
    period = section.integer("periodSeconds", default.period_seconds, 60)
    if period % 60:
        raise SettingsError(section.key("periodSeconds"), "must be a multiple of 60", period)
    evaluation_periods = section.integer("evaluationPeriods", default.evaluation_periods, 1)
    if evaluation_periods * period > _MAX_EVALUATION_SECONDS:
        raise SettingsError(section.key("evaluationPeriods"), f"must be <= {_MAX_EVALUATION_SECONDS // period} "
                            f"(one day of {period} s periods)", evaluation_periods)  # fmt: skip
    datapoints = section.integer("datapointsToAlarm", min(default.datapoints, evaluation_periods), 1)
    if datapoints > evaluation_periods:
        raise SettingsError(section.key("datapointsToAlarm"), f"must be <= evaluationPeriods ({evaluation_periods})",
                            datapoints)  # fmt: skip
    section.finish()
    return AlarmTuning(threshold, period, evaluation_periods, datapoints)


def parse_budget(section: Section) -> BudgetSettings:
    budget = BudgetSettings(
        monthly_limit_usd=section.number("monthlyLimitUsd", None),
        actual_alerts_percent=section.numbers("actualAlertsPercent", (80.0, 100.0)),
        forecast_alerts_percent=section.numbers("forecastAlertsPercent", (100.0,)),
        anomaly_alert_usd=section.number("anomalyAlertUsd", 50.0),
    )
    # AWS Budgets allows at most 10 notifications per budget.
    notifications = len(budget.actual_alerts_percent) + len(budget.forecast_alerts_percent)
    if notifications > 10:
        raise SettingsError(section.key("actualAlertsPercent"), "and forecastAlertsPercent must hold at most 10 "
                            "thresholds together", notifications)  # fmt: skip
    section.finish()
    return budget
