"""A region's alerting: its SNS topic and subscribers, an alarm per stage signal, and "pipeline unhealthy".

Every alarm notifies the region's topic (on ALARM and back to OK) unless the stack
turns paging off or mutes that alarm kind: then the alarm still exists, shows on the
dashboard and counts in the composite, without actions. The topic is encrypted with
the region's key, whose policy lets CloudWatch, Budgets and Cost Anomaly Detection
publish through it (components/encryption.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.operations.signals import Signal
from components.support.policies import ALERT_PUBLISHERS, Statement, policy_document
from components.support.region import Region
from runtime.stack import AlertingSettings

# Every alarm carries its kind as a tag: the runbook (docs/operations.md) has one entry per kind.
ALARM_KIND_TAG = "alarm-kind"
PIPELINE_UNHEALTHY = "pipeline-unhealthy"


@dataclass(frozen=True)
class AlertingArgs:
    environment: str
    region: Region
    settings: AlertingSettings
    key_arn: pulumi.Input[str]
    signals: Sequence[Signal]


def alarm_rule(alarm_names: Sequence[str]) -> str:
    """A composite alarm rule that is in ALARM when any of these alarms is."""
    return " OR ".join(f'ALARM("{name}")' for name in alarm_names)


def metric_alarm(
    name: str,
    alarm_name: str,
    signal: Signal,
    settings: AlertingSettings,
    actions: Sequence[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """The alarm of one signal, tuned by the stack's settings for its kind."""
    tuning = settings.alarms[signal.kind]
    notify = list(actions) if signal.kind not in settings.muted else []
    single = next(iter(signal.metrics.values())) if signal.expression is None else None
    percentile = single is not None and single.statistic.startswith("p")
    queries = (
        None
        if signal.expression is None
        else [
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="e1", expression=signal.expression, label=signal.summary, return_data=True
            ),
            *(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id=query_id,
                    return_data=False,
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        namespace=metric.namespace,
                        metric_name=metric.name,
                        dimensions=dict(metric.dimensions),
                        period=tuning.period_seconds,
                        stat=metric.statistic,
                    ),
                )
                for query_id, metric in signal.metrics.items()
            ),
        ]
    )
    return aws.cloudwatch.MetricAlarm(
        name,
        aws.cloudwatch.MetricAlarmArgs(
            name=alarm_name,
            alarm_description=f"{signal.summary}. Runbook: docs/operations.md#{signal.kind}",
            comparison_operator=signal.comparison,
            threshold=tuning.threshold,
            evaluation_periods=tuning.evaluation_periods,
            datapoints_to_alarm=tuning.datapoints,
            treat_missing_data=signal.missing,
            alarm_actions=notify,
            ok_actions=notify,
            tags={ALARM_KIND_TAG: signal.kind},
            # A single metric is named directly; metric math goes through queries.
            namespace=single.namespace if single else None,
            metric_name=single.name if single else None,
            dimensions=dict(single.dimensions) if single else None,
            period=tuning.period_seconds if single else None,
            statistic=single.statistic if single and not percentile else None,
            extended_statistic=single.statistic if single and percentile else None,
            metric_queries=queries,
        ),
        opts,
    )


class Alerting(pulumi.ComponentResource):
    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm]  # by name within the region (Signal.what)
    pipeline_unhealthy: aws.cloudwatch.CompositeAlarm

    def __init__(self, name: str, args: AlertingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:alerting:Alerting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, settings = args.region, args.settings

        self.topic = aws.sns.Topic(
            f"{name}-topic",
            aws.sns.TopicArgs(name=region.names.alerts_topic, kms_master_key_id=args.key_arn),
            child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            aws.sns.TopicPolicyArgs(
                arn=self.topic.arn,
                policy=policy_document(
                    Statement(
                        sid="AccountManagesTopic",
                        actions=[
                            "sns:Publish",
                            "sns:Subscribe",
                            "sns:GetTopicAttributes",
                            "sns:SetTopicAttributes",
                            "sns:ListSubscriptionsByTopic",
                        ],
                        principals={"AWS": [region.account_root]},
                        resources=[self.topic.arn],
                    ),
                    Statement(
                        sid="AlarmsBudgetsAndAnomaliesPublish",
                        actions=["sns:Publish"],
                        principals={"Service": list(ALERT_PUBLISHERS)},
                        resources=[self.topic.arn],
                        conditions={"StringEquals": {"aws:SourceAccount": region.account_id}},
                    ),
                ),
            ),
            child,
        )
        subscribers = [("email", address) for address in settings.emails]
        subscribers += [("https", endpoint) for endpoint in settings.https_endpoints]
        for index, (protocol, endpoint) in enumerate(subscribers):
            # E-mail and HTTPS subscribers confirm once, from the message SNS sends them.
            aws.sns.TopicSubscription(
                f"{name}-{protocol}-{index}",
                aws.sns.TopicSubscriptionArgs(topic=self.topic.arn, protocol=protocol, endpoint=endpoint),
                child,
            )

        actions: list[pulumi.Input[str]] = [self.topic.arn] if settings.paging else []
        self.alarms = {}
        for signal in args.signals:
            self.alarms[signal.what] = metric_alarm(
                f"{name}-{signal.what}", region.names.alarm(signal.what), signal, settings, actions, child
            )

        # One alarm to look at per region: in ALARM while any stage alarm is.
        self.pipeline_unhealthy = aws.cloudwatch.CompositeAlarm(
            f"{name}-{PIPELINE_UNHEALTHY}",
            aws.cloudwatch.CompositeAlarmArgs(
                alarm_name=region.names.pipeline_unhealthy_alarm,
                alarm_description=f"A stage of the prism-pipeline {args.environment} pipeline in {region.name} is in "
                f"alarm. Runbook: docs/operations.md#{PIPELINE_UNHEALTHY}",
                alarm_rule=alarm_rule([region.names.alarm(what) for what in self.alarms]),
                alarm_actions=actions,
                ok_actions=actions,
                tags={ALARM_KIND_TAG: PIPELINE_UNHEALTHY},
            ),
            pulumi.ResourceOptions(parent=self, depends_on=list(self.alarms.values())),
        )
        self.register_outputs(
            {"topic": self.topic.arn, "pipeline_unhealthy": self.pipeline_unhealthy.arn, "alarms": len(self.alarms)}
        )
