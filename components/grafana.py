"""The stack's Amazon Managed Grafana workspace: live dashboards over both regions' sessions.

One workspace per stack, in the region the settings name.
- liveanalytics: its role may read the sessions tables of both regions and nothing else.
- influxdb: it gets network access to its region's private subnets, where its own
  security group may reach each region's InfluxDB port (the other region's through the
  VPC peering, components/peering.py); each instance admits it by a rule added here.
The dashboards and the InfluxDB data sources are imported through the workspace's HTTP
API (`python -m runtime.ops grafana-dashboards`, docs/session-store.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.influxdb import INFLUX_PORT, InfluxDatabase
from components.support.policies import Statement, service_role
from components.support.region import Region
from components.support.security_groups import allow_tcp, security_group
from runtime.names import MAX_GRAFANA_WORKSPACE, account_wide

GRAFANA_VERSION = "10.4"
TIMESTREAM_READ_ACTIONS = ("timestream:Select", "timestream:DescribeTable", "timestream:ListMeasures")


@dataclass(frozen=True)
class InfluxAccess:
    """Where the workspace attaches (its region's VPC), and every region's instance it reads."""

    vpc_id: pulumi.Input[str]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_cidrs: Sequence[str]  # what the other region's instance admits over the peering
    instances: Sequence[tuple[Region, InfluxDatabase]]


@dataclass(frozen=True)
class GrafanaArgs:
    environment: str
    region: Region  # where the workspace lives
    # liveanalytics: every region's sessions table and database; influxdb: none, and influx set.
    table_arns: Sequence[pulumi.Input[str]]
    database_arns: Sequence[pulumi.Input[str]]
    influx: InfluxAccess | None = None


class Grafana(pulumi.ComponentResource):
    workspace: aws.grafana.Workspace

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:grafana:Grafana", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workspace_name = f"prism-{args.environment}"
        vpc_configuration = None
        role_arn: pulumi.Input[str] | None = None
        data_sources: list[str] = []
        if args.influx is not None:
            vpc_configuration = self._influx_access(name, args, args.influx)
        else:
            role_arn = self._timestream_role(name, args)
            data_sources = ["TIMESTREAM"]
        self.workspace = aws.grafana.Workspace(
            name,
            aws.grafana.WorkspaceArgs(
                name=workspace_name[:MAX_GRAFANA_WORKSPACE],
                description=f"prism {args.environment}: live sessions of both regions",
                account_access_type="CURRENT_ACCOUNT",
                authentication_providers=["AWS_SSO"],
                permission_type="SERVICE_MANAGED",
                data_sources=data_sources,
                role_arn=role_arn,
                grafana_version=GRAFANA_VERSION,
                configuration=json.dumps({"unifiedAlerting": {"enabled": True}}),
                vpc_configuration=vpc_configuration,
            ),
            child,
        )
        self.register_outputs({"endpoint": self.workspace.endpoint, "id": self.workspace.id})

    def _timestream_role(self, name: str, args: GrafanaArgs) -> pulumi.Output[str]:
        access = service_role(
            name,
            account_wide(args.environment, "grafana"),
            f"Managed Grafana prism-{args.environment}: read the sessions tables",
            "grafana.amazonaws.com",
            args.region.account_id,
            [
                Statement(sid="QuerySessionsTables", actions=TIMESTREAM_READ_ACTIONS, resources=args.table_arns),
                Statement(
                    sid="BrowseSessionsDatabases",
                    actions=["timestream:DescribeDatabase", "timestream:ListTables"],
                    resources=args.database_arns,
                ),
                # No resource-level permission exists for these: AWS documents "*".
                Statement(
                    sid="DiscoverTimestream",
                    actions=["timestream:DescribeEndpoints", "timestream:ListDatabases"],
                    resources=["*"],
                ),
            ],
            pulumi.ResourceOptions(parent=self),
        )
        return access.role.arn

    def _influx_access(
        self, name: str, args: GrafanaArgs, influx: InfluxAccess
    ) -> aws.grafana.WorkspaceVpcConfigurationArgs:
        """Grafana's security group in its region's VPC, and each instance's rule admitting it."""
        child = pulumi.ResourceOptions(parent=self)
        group = security_group(f"{name}-vpc", influx.vpc_id, account_wide(args.environment, "grafana", 255),
                               "Managed Grafana: the sessions InfluxDB of each region only", child)  # fmt: skip
        for region, instance in influx.instances:
            on_region = pulumi.ResourceOptions(parent=self, provider=region.provider)
            if region.name == args.region.name:
                allow_tcp(f"{name}-to-{region.code}-influxdb", "out", group, INFLUX_PORT, "InfluxDB", child,
                          peer=instance.group)  # fmt: skip
                allow_tcp(f"{name}-into-{region.code}-influxdb", "in", instance.group, INFLUX_PORT, "Grafana",
                          on_region, peer=group)  # fmt: skip
                continue
            # Across the peering a rule cannot name another region's group: CIDR blocks, the
            # other VPC's, and the subnets Grafana attaches to.
            allow_tcp(f"{name}-to-{region.code}-influxdb", "out", group, INFLUX_PORT, f"InfluxDB in {region.name}",
                      child, cidr=instance.vpc_cidr)  # fmt: skip
            for index, cidr in enumerate(influx.private_subnet_cidrs):
                allow_tcp(f"{name}-into-{region.code}-influxdb-{index}", "in", instance.group, INFLUX_PORT,
                          f"Grafana in {args.region.name}", on_region, cidr=cidr)  # fmt: skip
        return aws.grafana.WorkspaceVpcConfigurationArgs(
            security_group_ids=[group.id], subnet_ids=list(influx.private_subnet_ids)
        )
