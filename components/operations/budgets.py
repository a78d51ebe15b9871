"""What the stack costs: a monthly budget and a cost anomaly monitor on the stack's tag, and a budget dashboard.

Costs are filtered on the cost-allocation tag the region providers put on every resource
(``environment``, components/support/region.py); it must be activated once per account
as a cost allocation tag (docs/monitoring.md). Budgets and Cost Explorer are global services served
from us-east-1, and billing metrics live only there: everything here is created through
the provider of the billing region. Notifications go to that region's alerts topic, so
they reach the stack's alert subscribers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.support.region import BILLING_REGION, COST_ALLOCATION_TAG
from runtime.names import StackNames
from runtime.stack import BudgetSettings

# Billing's ServiceName of every service the pipeline runs on.
PIPELINE_SERVICES = (
    "AmazonKinesis",
    "AmazonKinesisFirehose",
    "AmazonKinesisAnalytics",
    "AmazonECS",
    "AmazonEC2",
    "AmazonVPC",
    "AWSELB",
    "AWSGlobalAccelerator",
    "awswaf",
    "AWSLambda",
    "AmazonTimestream",
    "AmazonS3",
    "awskms",
    "AmazonCloudWatch",
    "AmazonSNS",
    "AmazonSQS",
    "AmazonGrafana",
    "AWSStepFunctions",
)
BILLING_NAMESPACE = "AWS/Billing"
ESTIMATED_CHARGES = "EstimatedCharges"


@dataclass(frozen=True)
class BudgetsArgs:
    environment: str
    settings: BudgetSettings
    billing: aws.Provider  # billing_provider(): us-east-1
    alerts_topic_arn: pulumi.Input[str]  # the alerts topic of the billing region (or of the home region)


def budget_dashboard_body(environment: str, limit_usd: float) -> dict[str, Any]:
    def charges(*dimensions: str) -> list[Any]:
        return [BILLING_NAMESPACE, ESTIMATED_CHARGES, *dimensions, "Currency", "USD"]

    common = {"region": BILLING_REGION, "stat": "Maximum", "period": 21_600, "view": "timeSeries"}
    return {
        "start": "-P31D",
        "widgets": [
            {
                "type": "text",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 2,
                "properties": {
                    "markdown": (
                        f"# prism-pipeline {environment}: costs\nEstimated charges are the account's, month to date, "
                        f"by service; the budget `{StackNames(environment).budget}` counts only resources tagged "
                        f"`{COST_ALLOCATION_TAG}={environment}`."
                    )
                },
            },
            {
                "type": "metric",
                "x": 0,
                "y": 2,
                "width": 24,
                "height": 7,
                "properties": {
                    **common,
                    "title": "Estimated charges (USD) and the monthly budget",
                    "metrics": [charges()],
                    "annotations": {"horizontal": [{"label": "monthly budget", "value": limit_usd}]},
                },
            },
            {
                "type": "metric",
                "x": 0,
                "y": 9,
                "width": 24,
                "height": 9,
                "properties": {
                    **common,
                    "title": "Estimated charges by pipeline service (USD)",
                    "stacked": True,
                    "metrics": [charges("ServiceName", service) for service in PIPELINE_SERVICES],
                    "annotations": {"horizontal": [{"label": "monthly budget", "value": limit_usd}]},
                },
            },
        ],
    }


class Budgets(pulumi.ComponentResource):
    budget: aws.budgets.Budget
    anomaly_monitor: aws.costexplorer.AnomalyMonitor
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: BudgetsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:budgets:Budgets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.billing)
        names, s, env = StackNames(args.environment), args.settings, args.environment

        notifications = [
            aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type=notification_type,
                threshold=percent,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[args.alerts_topic_arn],
            )
            for notification_type, thresholds in (
                ("ACTUAL", s.actual_alerts_percent),
                ("FORECASTED", s.forecast_alerts_percent),
            )
            for percent in thresholds
        ]
        self.budget = aws.budgets.Budget(
            f"{name}-monthly",
            aws.budgets.BudgetArgs(
                name=names.budget,
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=f"{s.monthly_limit_usd:.2f}",
                limit_unit="USD",
                # user:<tag key>$<value>: costs of the resources carrying the stack's tag.
                cost_filters=[
                    aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:{COST_ALLOCATION_TAG}${env}"])
                ],
                notifications=notifications,
            ),
            child,
        )
        self.anomaly_monitor = aws.costexplorer.AnomalyMonitor(
            f"{name}-anomalies",
            aws.costexplorer.AnomalyMonitorArgs(
                name=names.cost_anomaly_monitor,
                monitor_type="CUSTOM",
                monitor_specification=pulumi.Output.json_dumps(
                    {"Tags": {"Key": COST_ALLOCATION_TAG, "Values": [env], "MatchOptions": ["EQUALS"]}}
                ),
            ),
            child,
        )
        aws.costexplorer.AnomalySubscription(
            f"{name}-anomaly-alerts",
            aws.costexplorer.AnomalySubscriptionArgs(
                name=names.cost_anomaly_monitor,
                # SNS subscribers get each anomaly as it is found.
                frequency="IMMEDIATE",
                monitor_arn_lists=[self.anomaly_monitor.arn],
                subscribers=[
                    aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="SNS", address=args.alerts_topic_arn)
                ],
                threshold_expression=aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
                    dimension=aws.costexplorer.AnomalySubscriptionThresholdExpressionDimensionArgs(
                        key="ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                        match_options=["GREATER_THAN_OR_EQUAL"],
                        values=[f"{s.anomaly_alert_usd:g}"],
                    )
                ),
            ),
            child,
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=names.budget_dashboard,
                dashboard_body=pulumi.Output.json_dumps(budget_dashboard_body(env, s.monthly_limit_usd)),
            ),
            child,
        )
        self.register_outputs({"budget": self.budget.name, "dashboard": self.dashboard.dashboard_name})
