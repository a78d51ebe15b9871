"""A region's Timestream for InfluxDB instance: the sessions store of engine `influxdb`.

private subnets: instance (own security group: port 8086 from the session writer's group,
and from Grafana, whose rules components/grafana.py adds) <- session writer Lambda
admin credentials: generated here, kept in a secret on the region key
provisioner Lambda (runtime/session_writer/provision.py), run once per instance or
retention change: bucket retention, v1 database mapping, a write token for the writer
and a read token for Grafana, each in its own secret on the region key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.support.artifacts import source_code_hash
from components.support.lambdas import FunctionSizing, packaged_function
from components.support.log_groups import log_destination
from components.support.policies import Statement, key_via_services, lambda_network_interfaces, service_role
from components.support.region import Region
from components.support.security_groups import allow_tcp, security_group
from runtime.names import INFLUX_ORGANIZATION
from runtime.session_writer.package import PACKAGE, PROVISIONER_HANDLER
from runtime.session_writer.provision import SERVICE as PROVISIONER_SERVICE
from runtime.session_writer.provision import TOKENS
from runtime.stack import InfluxDbSettings

INFLUX_PORT = 8086  # Timestream for InfluxDB's default, over TLS
ADMIN_USER = "prism-admin"
# The AWS APIs the session writer and the provisioner call from the VPC.
SECRETS_ENDPOINTS = ("secretsmanager",)
TYPE = "prism:influxdb:InfluxDatabase"
FORMER_TYPE = "prism:session_store:InfluxDatabase"


@dataclass(frozen=True)
class StoreNetwork:
    """The region's VPC, where an InfluxDB instance and its clients live."""

    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: Sequence[pulumi.Input[str]]
    egress_through_endpoints: bool  # else a NAT gateway: AWS APIs are outside the VPC


@dataclass(frozen=True)
class InfluxDatabaseArgs:
    environment: str
    region: Region
    settings: InfluxDbSettings
    network: StoreNetwork
    key_arn: pulumi.Input[str]
    artifact: Path  # the session writer zip, which holds the provisioner too
    log_retention_days: int


class InfluxDatabase(pulumi.ComponentResource):
    instance: aws.timestreaminfluxdb.DbInstance
    group: aws.ec2.SecurityGroup  # the instance's
    client_group: aws.ec2.SecurityGroup  # the session writer's (and the provisioner's)
    url: pulumi.Output[str]
    bucket: str  # the v1 database the writer and the dashboards name
    vpc_cidr: str
    token_secrets: dict[str, aws.secretsmanager.Secret]  # writer, reader

    def __init__(self, name: str, args: InfluxDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Stacks deployed under the token's old module keep their URNs: the alias carries the
        # component over, and its children follow their parent's alias.
        moved = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_TYPE)])
        super().__init__(TYPE, name, None, pulumi.ResourceOptions.merge(opts, moved))
        child = pulumi.ResourceOptions(parent=self)
        s, names, net = args.settings, args.region.names, args.network
        self.bucket = names.sessions_database
        self.vpc_cidr = net.vpc_cidr

        self.group = security_group(f"{name}-instance", net.vpc_id, names.regional("influxdb", 255),
                                    "InfluxDB from the session writer and Grafana only", child)  # fmt: skip
        self.client_group = security_group(f"{name}-clients", net.vpc_id, names.regional("influxdb-clients", 255),
                                           "Session writer: InfluxDB and the AWS APIs only", child)  # fmt: skip
        allow_tcp(f"{name}-from-clients", "in", self.group, INFLUX_PORT, "Session writer", child,
                  peer=self.client_group)  # fmt: skip
        allow_tcp(f"{name}-clients-to-instance", "out", self.client_group, INFLUX_PORT, "InfluxDB", child,
                  peer=self.group)  # fmt: skip
        # Secrets Manager: through the VPC's interface endpoint, or the NAT gateway.
        api_cidr = net.vpc_cidr if net.egress_through_endpoints else "0.0.0.0/0"
        allow_tcp(f"{name}-clients-to-apis", "out", self.client_group, 443, "AWS APIs", child, cidr=api_cidr)

        password = random.RandomPassword(
            f"{name}-admin-password",
            random.RandomPasswordArgs(length=32, special=False, min_lower=2, min_upper=2, min_numeric=2),
            child,
        )
        admin_secret = self._secret(name, args, "admin", "InfluxDB admin user (sign-in only; the provisioner's)")
        admin_version = aws.secretsmanager.SecretVersion(
            f"{name}-admin",
            aws.secretsmanager.SecretVersionArgs(
                secret_id=admin_secret.id,
                secret_string=pulumi.Output.json_dumps({"username": ADMIN_USER, "password": password.result}),
            ),
            child,
        )
        self.instance = aws.timestreaminfluxdb.DbInstance(
            name,
            aws.timestreaminfluxdb.DbInstanceArgs(
                name=names.influx_instance,
                db_instance_type=s.instance_type,
                db_storage_type=s.storage_type,
                allocated_storage=s.allocated_storage_gb,
                deployment_type=s.deployment_type,
                username=ADMIN_USER,
                password=password.result,
                organization=INFLUX_ORGANIZATION,
                bucket=self.bucket,
                port=INFLUX_PORT,
                publicly_accessible=False,
                network_type="IPV4",
                vpc_subnet_ids=list(net.private_subnet_ids),
                vpc_security_group_ids=[self.group.id],
            ),
            child,
        )
        self.url = pulumi.Output.concat("https://", self.instance.endpoint, f":{INFLUX_PORT}")
        self.token_secrets = {
            who: self._secret(name, args, who, f"InfluxDB {access} token of the sessions bucket")
            for who, access in TOKENS.items()
        }
        self._provision(name, args, admin_secret, admin_version)
        self.register_outputs({"instance": self.instance.name, "url": self.url, "bucket": self.bucket})

    def _secret(self, name: str, args: InfluxDatabaseArgs, who: str, description: str) -> aws.secretsmanager.Secret:
        return aws.secretsmanager.Secret(
            f"{name}-{who}-secret",
            aws.secretsmanager.SecretArgs(
                name=args.region.names.influx_secret(who),
                description=f"prism {args.environment} ({args.region.name}): {description}",
                kms_key_id=args.key_arn,
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _provision(
        self,
        name: str,
        args: InfluxDatabaseArgs,
        admin_secret: aws.secretsmanager.Secret,
        admin_version: aws.secretsmanager.SecretVersion,
    ) -> None:
        """The provisioner Lambda, and its one invocation per instance, retention or code."""
        region, names, net = args.region, args.region.names, args.network
        child = pulumi.ResourceOptions(parent=self)
        function_name = names.influx_provisioner_function
        logs = log_destination(f"{name}-provisioner", names.influx_provisioner_log_group, "provisioner",
                               args.log_retention_days, child)  # fmt: skip
        access = service_role(
            f"{name}-provisioner",
            names.role("influxdb-provisioner"),
            f"Lambda {function_name}: tokens of the sessions InfluxDB",
            "lambda.amazonaws.com",
            region.account_id,
            [
                Statement(
                    sid="ReadAdminSecret", actions=["secretsmanager:GetSecretValue"], resources=[admin_secret.arn]
                ),
                Statement(
                    sid="StoreTokens",
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                    resources=[secret.arn for secret in self.token_secrets.values()],
                ),
                key_via_services("UseRegionKeyForSecrets", args.key_arn, region.name, ("secretsmanager",)),
                *lambda_network_interfaces(region, net.private_subnet_ids, self.client_group.id),
                Statement(
                    sid="WriteLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[pulumi.Output.concat(logs.group.arn, ":log-stream:*")],
                ),
            ],
            child,
        )
        function = packaged_function(
            f"{name}-provisioner",
            function_name,
            f"prism {args.environment} ({region.name}): sets up the sessions InfluxDB and its tokens",
            PACKAGE,
            args.artifact,
            access.role,
            FunctionSizing(memory_mb=256, timeout_seconds=300, reserved_concurrency=1),
            {"POWERTOOLS_SERVICE_NAME": PROVISIONER_SERVICE},
            logs.group,
            pulumi.ResourceOptions(parent=self, depends_on=[access.policy]),
            handler=PROVISIONER_HANDLER,
            vpc=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=list(net.private_subnet_ids), security_group_ids=[self.client_group.id]
            ),
        )
        retention_seconds = args.settings.retention_days * 86_400
        aws.lambda_.Invocation(
            f"{name}-provisioning",
            aws.lambda_.InvocationArgs(
                function_name=function.name,
                input=pulumi.Output.json_dumps(
                    {
                        "url": self.url,
                        "organization": INFLUX_ORGANIZATION,
                        "bucket": self.bucket,
                        "retentionSeconds": retention_seconds,
                        "adminSecret": admin_secret.arn,
                        "tokenSecrets": {who: secret.arn for who, secret in self.token_secrets.items()},
                    }
                ),
                # Runs again for a new instance, retention or provisioner; not on every `pulumi up`.
                triggers={
                    "instance": self.instance.id,
                    "retention": str(retention_seconds),
                    "code": source_code_hash(args.artifact),
                },
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.instance, admin_version]),
        )
