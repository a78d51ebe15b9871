"""The sessionizer's own metrics, as Managed Flink publishes them to CloudWatch.

Managed Flink ships a custom Flink metric to CloudWatch (namespace AWS/KinesisAnalytics,
dimension Application) when it is registered under the metric group named below; each
key-value group under it becomes one more dimension. The job registers late events by
reason this way; the alarms and the dashboard (components/) import these names.
Plain Python: no Flink import, so the Pulumi program can read it.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

# Flink metric groups Managed Flink forwards to CloudWatch must sit under this group.
MANAGED_FLINK_METRIC_GROUP: Final = "kinesisanalytics"
CLOUDWATCH_NAMESPACE: Final = "AWS/KinesisAnalytics"
APPLICATION_DIMENSION: Final = "Application"

LateReason = Literal["unparseable", "behind_watermark", "session_finalised"]
LATE_REASONS: Final[tuple[LateReason, ...]] = get_args(LateReason)
LATE_REASON_DIMENSION: Final = "LateReason"
LATE_EVENTS_METRIC: Final = "lateEvents"
