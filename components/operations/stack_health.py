"""One alarm for the whole stack, over both regions: "stack unhealthy", in the home region.

CloudWatch composite alarms only see alarms of their own region, so the other region's
"pipeline unhealthy" is relayed: its state changes go, as EventBridge events, to the home
region's default bus; a rule there starts an Express state machine that records the state
as a metric (1 in ALARM, 0 otherwise) with CloudWatch's own PutMetricData (an SDK
integration, no code to run); a mirror alarm in the home region follows that metric and
keeps its last state between changes. The stack alarm is in ALARM while the home region's
composite, the mirror, or the relay's own failure alarms are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.operations.alerting import ALARM_KIND_TAG, Alerting, alarm_rule, metric_alarm
from components.operations.signals import relay_failures, relay_undelivered
from components.support.policies import Statement, service_role
from components.support.region import Region
from runtime.names import StackNames
from runtime.stack import AlertingSettings

RELAY_NAMESPACE = "prism/pipeline"
RELAY_METRIC = "RegionUnhealthy"
RELAY_DIMENSION = "AlarmName"
REGION_UNHEALTHY = "region-unhealthy"
STACK_UNHEALTHY = "stack-unhealthy"


@dataclass(frozen=True)
class RegionHealth:
    region: Region
    alerting: Alerting


@dataclass(frozen=True)
class StackHealthArgs:
    environment: str
    settings: AlertingSettings
    home: RegionHealth
    other: RegionHealth


def alarm_state_changes(alarm_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """EventBridge pattern: state changes of one alarm."""
    return pulumi.Output.json_dumps(
        {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"], "resources": [alarm_arn]}
    )


def state_change_rule(
    name: str,
    region: Region,
    alarm_arn: pulumi.Input[str],
    target_arn: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.EventRule:
    """A rule of the region's default bus that sends an alarm's state changes to one target."""
    rule = aws.cloudwatch.EventRule(
        f"{name}-rule",
        aws.cloudwatch.EventRuleArgs(
            name=region.names.alarm_relay_rule,
            description="Carries a region's pipeline-unhealthy state to the stack alarm's region",
            event_pattern=alarm_state_changes(alarm_arn),
        ),
        opts,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-target", aws.cloudwatch.EventTargetArgs(rule=rule.name, arn=target_arn, role_arn=role_arn), opts
    )
    return rule


def relay_definition() -> str:
    """ALARM -> 1, anything else -> 0, put as the region's RegionUnhealthy metric."""
    return json.dumps(
        {
            "Comment": "Records a region's composite alarm state as a metric of the home region",
            "StartAt": "InAlarm",
            "States": {
                "InAlarm": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.detail.state.value", "StringEquals": "ALARM", "Next": "Unhealthy"}],
                    "Default": "Healthy",
                },
                "Unhealthy": {"Type": "Pass", "Result": 1, "ResultPath": "$.unhealthy", "Next": "Record"},
                "Healthy": {"Type": "Pass", "Result": 0, "ResultPath": "$.unhealthy", "Next": "Record"},
                "Record": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
                    "Parameters": {
                        "Namespace": RELAY_NAMESPACE,
                        "MetricData": [
                            {
                                "MetricName": RELAY_METRIC,
                                "Dimensions": [{"Name": RELAY_DIMENSION, "Value.$": "$.detail.alarmName"}],
                                "Value.$": "$.unhealthy",
                            }
                        ],
                    },
                    "Retry": [
                        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 2.0}
                    ],
                    "End": True,
                },
            },
        }
    )


class StackHealth(pulumi.ComponentResource):
    relay: aws.sfn.StateMachine
    mirror: aws.cloudwatch.MetricAlarm
    stack_unhealthy: aws.cloudwatch.CompositeAlarm

    def __init__(self, name: str, args: StackHealthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:stack_health:StackHealth", name, None, opts)
        home, other = args.home.region, args.other.region
        in_home = pulumi.ResourceOptions(parent=self, provider=home.provider)
        in_other = pulumi.ResourceOptions(parent=self, provider=other.provider)
        other_composite = args.other.alerting.pipeline_unhealthy
        settings = args.settings
        home_actions: list[pulumi.Input[str]] = [args.home.alerting.topic.arn] if settings.paging else []
        other_actions: list[pulumi.Input[str]] = [args.other.alerting.topic.arn] if settings.paging else []

        # Home: event -> state machine -> metric.
        recorder = service_role(
            f"{name}-relay",
            home.names.role("alarm-relay"),
            f"Records {other.name}'s pipeline health as a metric in {home.name}",
            "states.amazonaws.com",
            home.account_id,
            [
                Statement(
                    sid="PutRelayedHealth",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],  # PutMetricData has no resource ARN; the namespace condition limits it
                    conditions={"StringEquals": {"cloudwatch:namespace": RELAY_NAMESPACE}},
                )
            ],
            in_home,
        )
        self.relay = aws.sfn.StateMachine(
            f"{name}-relay",
            aws.sfn.StateMachineArgs(
                name=home.names.alarm_relay_state_machine,
                type="EXPRESS",
                role_arn=recorder.role.arn,
                definition=relay_definition(),
            ),
            pulumi.ResourceOptions(parent=self, provider=home.provider, depends_on=[recorder.policy]),
        )
        starter = service_role(
            f"{name}-relay-start",
            home.names.role("alarm-relay-start"),
            "EventBridge starts the alarm relay",
            "events.amazonaws.com",
            home.account_id,
            [Statement(sid="StartRelay", actions=["states:StartExecution"], resources=[self.relay.arn])],
            in_home,
        )
        home_rule = state_change_rule(
            f"{name}-home", home, other_composite.arn, self.relay.arn, starter.role.arn, in_home
        )

        # Other region: its composite's state changes -> the home region's default bus.
        home_bus = pulumi.Output.concat(
            "arn:", home.partition, ":events:", home.name, ":", home.account_id, ":event-bus/default"
        )
        forwarder = service_role(
            f"{name}-forward",
            other.names.role("alarm-relay-forward"),
            f"EventBridge forwards alarm state changes to {home.name}",
            "events.amazonaws.com",
            other.account_id,
            [Statement(sid="PutToHomeBus", actions=["events:PutEvents"], resources=[home_bus])],
            in_other,
        )
        other_rule = state_change_rule(
            f"{name}-other", other, other_composite.arn, home_bus, forwarder.role.arn, in_other
        )

        # The relay's own failures: in each region, where they happen.
        failures = relay_failures(self.relay.arn)
        undelivered_home = relay_undelivered(home_rule.name)
        relay_alarms = [
            metric_alarm(
                f"{name}-{failures.what}", home.names.alarm(failures.what), failures, settings, home_actions, in_home
            ),
            metric_alarm(
                f"{name}-home-{undelivered_home.what}",
                home.names.alarm(undelivered_home.what),
                undelivered_home,
                settings,
                home_actions,
                in_home,
            ),
        ]
        undelivered_other = relay_undelivered(other_rule.name)
        metric_alarm(
            f"{name}-other-{undelivered_other.what}",
            other.names.alarm(undelivered_other.what),
            undelivered_other,
            settings,
            other_actions,
            in_other,
        )

        # The other region's health, as seen from home: keeps its last state between changes.
        mirror_name = home.names.alarm(f"{REGION_UNHEALTHY}-{other.code}")
        self.mirror = aws.cloudwatch.MetricAlarm(
            f"{name}-mirror",
            aws.cloudwatch.MetricAlarmArgs(
                name=mirror_name,
                alarm_description=f"{other.names.pipeline_unhealthy_alarm} is in ALARM (relayed from {other.name}). "
                f"Runbook: docs/operations.md#{REGION_UNHEALTHY}",
                namespace=RELAY_NAMESPACE,
                metric_name=RELAY_METRIC,
                dimensions={RELAY_DIMENSION: other.names.pipeline_unhealthy_alarm},
                statistic="Maximum",
                period=60,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                # A value is put only when the state changes: between changes, keep the last state.
                treat_missing_data="ignore",
                alarm_actions=home_actions,
                ok_actions=home_actions,
                tags={ALARM_KIND_TAG: REGION_UNHEALTHY},
            ),
            in_home,
        )

        home_composite = args.home.region.names.pipeline_unhealthy_alarm
        watched = [
            home_composite,
            mirror_name,
            *(home.names.alarm(what) for what in (failures.what, undelivered_home.what)),
        ]
        self.stack_unhealthy = aws.cloudwatch.CompositeAlarm(
            f"{name}-{STACK_UNHEALTHY}",
            aws.cloudwatch.CompositeAlarmArgs(
                alarm_name=StackNames(args.environment).stack_unhealthy_alarm,
                alarm_description=f"The prism-pipeline {args.environment} pipeline is unhealthy in {home.name} or "
                f"{other.name}. Runbook: docs/operations.md#{STACK_UNHEALTHY}",
                alarm_rule=alarm_rule(watched),
                alarm_actions=home_actions,
                ok_actions=home_actions,
                tags={ALARM_KIND_TAG: STACK_UNHEALTHY},
            ),
            pulumi.ResourceOptions(
                parent=self,
                provider=home.provider,
                depends_on=[args.home.alerting.pipeline_unhealthy, self.mirror, *relay_alarms],
            ),
        )
        self.register_outputs({"stack_unhealthy": self.stack_unhealthy.arn, "relay": self.relay.arn})
