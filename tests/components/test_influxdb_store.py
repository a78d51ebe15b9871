"""Every stack as its file says (sessionStore.engine influxdb): the instance in private subnets, who may reach
it, the writer in the VPC, the secrets on the region key, the peering for Grafana, and no Timestream at all.
tests/components/test_session_store.py builds each with liveanalytics."""

from __future__ import annotations

import json
from typing import Any

from components.influxdb import INFLUX_PORT
from policy.config import policy_config
from policy.offline import run_policies
from runtime.names import INFLUX_ORGANIZATION
from runtime.session_writer.settings import load_settings
from runtime.stack import InfluxDbSettings, Settings
from tests.graph import (
    DATABASE,
    EGRESS_RULE,
    FUNCTION,
    INFLUX_INSTANCE,
    INGRESS_RULE,
    INVOCATION,
    PEERING,
    ROLE_POLICY,
    SECRET,
    SUBNET,
    TABLE,
    WORKSPACE,
    Graph,
    Resource,
)

ACCOUNT = "123456789012"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"


def _store(settings: Settings) -> InfluxDbSettings:
    store = settings.session_store.store
    assert isinstance(store, InfluxDbSettings)
    return store


def _private_subnets(graph: Graph, region: str) -> set[str]:
    return {s.urn for s in graph.in_region(SUBNET, region) if s.inputs["tags"]["tier"] == "private"}


def _group_of(rule: Resource) -> str:
    [urn] = rule.property_dependencies["securityGroupId"]
    return urn


def _peer_of(rule: Resource) -> str | None:
    peers = rule.property_dependencies.get("referencedSecurityGroupId")
    return peers[0] if peers else None


def _instance_group(graph: Graph, instance: Resource) -> str:
    [urn] = instance.property_dependencies["vpcSecurityGroupIds"]
    return urn


def _writer(graph: Graph, region: str) -> Resource:
    [function] = [f for f in graph.in_region(FUNCTION, region) if f.inputs["name"].endswith("-session-writer")]
    return function


def _statements(graph: Graph, name: str) -> dict[str, dict[str, Any]]:
    policy = next(p for p in graph.of_type(ROLE_POLICY) if p.name == name)
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_each_region_has_an_instance_in_its_private_subnets_sized_by_the_settings(
    graph: Graph, settings: Settings
) -> None:
    s = _store(settings)
    for region in settings.regions:
        [instance] = graph.in_region(INFLUX_INSTANCE, region.name)
        inputs = instance.inputs
        assert set(instance.property_dependencies["vpcSubnetIds"]) == _private_subnets(graph, region.name)
        assert inputs["publiclyAccessible"] is False
        assert (inputs["dbInstanceType"], inputs["dbStorageType"], inputs["allocatedStorage"]) == (
            s.instance_type, s.storage_type, s.allocated_storage_gb,
        )  # fmt: skip
        assert (inputs["deploymentType"], inputs["port"]) == (s.deployment_type, INFLUX_PORT)
        assert (inputs["organization"], inputs["bucket"]) == (
            INFLUX_ORGANIZATION, f"prism-{settings.environment}-{region.code}-sessions",
        )  # fmt: skip
        assert inputs["name"] == f"prism-{settings.environment}-{region.code}-sessions"


def test_only_the_writer_and_grafana_reach_the_instance(graph: Graph, settings: Settings) -> None:
    [workspace] = graph.of_type(WORKSPACE)
    [grafana_group] = [u for u in workspace.property_dependencies["vpcConfiguration"] if "securityGroup:" in u]
    home = settings.grafana.region
    for region in settings.regions:
        [instance] = graph.in_region(INFLUX_INSTANCE, region.name)
        group = _instance_group(graph, instance)
        writer = _writer(graph, region.name)
        [writer_group] = set(writer.property_dependencies["vpcConfig"]) - _private_subnets(graph, region.name)
        rules = [r for r in graph.of_type(INGRESS_RULE) if _group_of(r) == group]
        assert {(r.inputs["fromPort"], r.inputs["toPort"], r.inputs["ipProtocol"]) for r in rules} == {
            (INFLUX_PORT, INFLUX_PORT, "tcp")
        }
        peers = {_peer_of(r) for r in rules if _peer_of(r) is not None}
        cidrs = {r.inputs["cidrIpv4"] for r in rules if _peer_of(r) is None}
        if region.name == home:
            assert (peers, cidrs) == ({writer_group, grafana_group}, set())
        else:
            # Grafana is in the other region: its subnets, over the peering.
            home_subnets = {
                s.inputs["cidrBlock"] for s in graph.in_region(SUBNET, home) if s.inputs["tags"]["tier"] == "private"
            }
            assert (peers, cidrs) == ({writer_group}, home_subnets)
        # The writer's group goes to the instance and to the AWS APIs (Secrets Manager), nowhere else.
        egress = [r for r in graph.of_type(EGRESS_RULE) if _group_of(r) == writer_group]
        assert {(r.inputs["toPort"], _peer_of(r)) for r in egress} == {(INFLUX_PORT, group), (443, None)}


def test_the_writer_runs_in_the_vpc_and_is_told_the_instance_and_its_token(graph: Graph, settings: Settings) -> None:
    for region in settings.regions:
        writer = _writer(graph, region.name)
        config = writer.inputs["vpcConfig"]
        assert len(config["subnetIds"]) == settings.network.availability_zones
        assert len(config["securityGroupIds"]) == 1
        told = load_settings({**writer.inputs["environment"]["variables"], "AWS_REGION": region.name})
        secret = f"arn:aws:secretsmanager:{region.name}:{ACCOUNT}:secret:prism-{settings.environment}-"
        assert told.target.__class__.__name__ == "InfluxTarget"
        assert told.target.url.startswith("https://") and told.target.url.endswith(f":{INFLUX_PORT}")  # type: ignore[union-attr]
        assert told.target.database == f"prism-{settings.environment}-{region.code}-sessions"
        assert told.target.credentials_secret.startswith(f"{secret}{region.code}-influxdb-writer")  # type: ignore[union-attr]
        statements = _statements(graph, f"{region.code}-session-store-policy")
        assert statements["ReadWriterToken"]["Resource"] == [told.target.credentials_secret]  # type: ignore[union-attr]
        assert not any(a.startswith("timestream:") for s in statements.values() for a in s["Action"])
        describe = statements["DescribeNetwork"]
        # What AWSLambdaVPCAccessExecutionRole grants a function to attach, narrowed where IAM can.
        assert (sorted(describe["Action"]), describe["Resource"]) == (
            ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            ["*"],
        )
        assert all(
            r.startswith(f"arn:aws:ec2:{region.name}:{ACCOUNT}:") for r in statements["AttachToTheVpc"]["Resource"]
        )


def test_every_secret_is_on_the_region_key_and_the_provisioner_fills_the_tokens(
    graph: Graph, settings: Settings
) -> None:
    for region in settings.regions:
        secrets = graph.in_region(SECRET, region.name)
        assert sorted(s.inputs["name"].rsplit("-", 1)[1] for s in secrets) == ["admin", "reader", "writer"]
        assert all(s.inputs["kmsKeyId"].startswith(f"arn:aws:kms:{region.name}:{ACCOUNT}:key/") for s in secrets)
        [invocation] = graph.in_region(INVOCATION, region.name)
        request = json.loads(invocation.inputs["input"])
        assert request["retentionSeconds"] == _store(settings).retention_days * 86_400
        assert request["bucket"] == f"prism-{settings.environment}-{region.code}-sessions"
        arns = {s.inputs["name"].rsplit("-", 1)[1]: f"arn:aws:secretsmanager:{region.name}:{ACCOUNT}:secret:"
                f"{s.inputs['name']}-AbCdEf" for s in secrets}  # fmt: skip
        assert request["adminSecret"] == arns["admin"]
        assert request["tokenSecrets"] == {"writer": arns["writer"], "reader": arns["reader"]}
        assert set(invocation.inputs["triggers"]) == {"instance", "retention", "code"}


def test_grafana_reaches_both_instances_through_its_vpc_and_the_peering(graph: Graph, settings: Settings) -> None:
    [workspace] = graph.of_type(WORKSPACE)
    home = settings.grafana.region
    assert workspace.region == home
    assert workspace.inputs["dataSources"] == []
    assert "roleArn" not in workspace.inputs
    assert len(workspace.inputs["vpcConfiguration"]["subnetIds"]) == settings.network.availability_zones
    [peering] = graph.of_type(PEERING)
    away = next(r for r in settings.regions if r.name != home)
    assert (peering.region, peering.inputs["peerRegion"], peering.inputs["autoAccept"]) == (home, away.name, False)
    for region, other in ((home, away.name), (away.name, home)):
        other_role = next(r.role for r in settings.regions if r.name == other)
        other_cidr = settings.network.vpcs[other_role].cidr  # type: ignore[union-attr]
        routes = [r for r in graph.in_region(ROUTE, region) if r.inputs.get("destinationCidrBlock") == other_cidr]
        private_tables = [t for t in graph.in_region(ROUTE_TABLE, region) if "-private-" in t.inputs["tags"]["Name"]]
        assert len(routes) == len(private_tables) == settings.network.availability_zones


def test_influxdb_makes_no_timestream_resources_and_the_stack_passes_every_policy(graph: Graph, stack: str) -> None:
    assert graph.of_type(DATABASE) == graph.of_type(TABLE) == []
    # What `runtime.ops grafana-dashboards --engine influxdb --outputs` reads.
    for role in ("primary", "secondary"):
        store = graph.outputs[role]["session_store"]
        assert set(store["influxdb"]) == {"url", "database", "reader_token_secret"}
        assert "table" not in store
    assert "timestream" not in json.dumps([p.inputs["policy"] for p in graph.of_type(ROLE_POLICY)])
    assert [str(v) for v in run_policies(graph, policy_config(stack))] == []
