"""The stack's Amazon Managed Grafana workspace: live dashboards over both regions' sessions tables.

One workspace per stack, in the region the settings name; its role may read the
sessions tables of both regions and nothing else. The dashboards themselves are JSON
files in dashboards/ (see README: imported through the workspace's HTTP API).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.support.policies import Statement, service_role
from components.support.region import Region
from runtime.names import MAX_GRAFANA_WORKSPACE, account_wide

GRAFANA_VERSION = "10.4"
TIMESTREAM_READ_ACTIONS = ("timestream:Select", "timestream:DescribeTable", "timestream:ListMeasures")


@dataclass(frozen=True)
class GrafanaArgs:
    environment: str
    region: Region  # where the workspace lives
    table_arns: Sequence[pulumi.Input[str]]  # every region's sessions table
    database_arns: Sequence[pulumi.Input[str]]


class Grafana(pulumi.ComponentResource):
    workspace: aws.grafana.Workspace

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:grafana:Grafana", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        workspace_name = f"prism-{args.environment}"
        access = service_role(
            name,
            account_wide(args.environment, "grafana"),
            f"Managed Grafana {workspace_name}: read the sessions tables",
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
            child,
        )
        self.workspace = aws.grafana.Workspace(
            name,
            aws.grafana.WorkspaceArgs(
                name=workspace_name[:MAX_GRAFANA_WORKSPACE],
                description=f"prism {args.environment}: live sessions of both regions",
                account_access_type="CURRENT_ACCOUNT",
                authentication_providers=["AWS_SSO"],
                permission_type="SERVICE_MANAGED",
                data_sources=["TIMESTREAM"],
                role_arn=access.role.arn,
                grafana_version=GRAFANA_VERSION,
                configuration=json.dumps({"unifiedAlerting": {"enabled": True}}),
            ),
            child,
        )
        self.register_outputs({"endpoint": self.workspace.endpoint, "id": self.workspace.id})
