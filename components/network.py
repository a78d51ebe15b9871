"""The network of one region: where the ALB faces the internet and the ingest tasks run.

A VPC the program creates gets one public subnet (the ALB) and one private subnet (the
tasks) per availability zone. Private subnets reach AWS either through interface
endpoints for every API the tasks call (Kinesis, Firehose, ECR, CloudWatch Logs, STS;
S3 through a gateway endpoint, where ECR keeps image layers), so event data never takes
an internet path, or through a NAT gateway per zone. An existing VPC is used as it is:
its owner provides the private subnets' way out.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.support.region import Region
from components.support.security_groups import allow_tcp, security_group
from runtime.stack import Egress, ExistingVpc, NewVpc

# The AWS APIs an ingest task calls, as interface endpoint service suffixes.
INTERFACE_ENDPOINTS = ("kinesis-streams", "kinesis-firehose", "ecr.api", "ecr.dkr", "logs", "sts")


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """Public and private subnet CIDRs: the VPC in eighths, public first, private from the
    fifth eighth on, so a third zone added later keeps every existing subnet."""
    eighths = list(ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=3))
    return [str(n) for n in eighths[:zones]], [str(n) for n in eighths[4 : 4 + zones]]


def _zone(names: Sequence[str], index: int, region: str) -> str:
    if index >= len(names):
        raise ValueError(f"{region} offers {len(names)} availability zones with every service the VPC needs, "
                         "network.availabilityZones asks for more")  # fmt: skip
    return names[index]


def _offering_all(zone_lists: list[list[str]]) -> list[str]:
    """The zones of the first list (AWS's order) that every other list offers too."""
    names, *offered = zone_lists
    return [zone for zone in names if all(zone in zones for zones in offered)]


@dataclass(frozen=True)
class NetworkArgs:
    environment: str
    region: Region
    vpc: NewVpc | ExistingVpc
    availability_zones: int
    egress: Egress
    # Interface endpoints some stage needs beyond the ingest tasks' (egress endpoints only).
    more_endpoints: tuple[str, ...] = ()


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]  # created VPC only
    cidr: str | None  # created VPC only: its block, and its private subnets' blocks
    private_subnet_cidrs: list[str]
    # Interface endpoints by service suffix, and the S3 gateway endpoint (created VPC with endpoints only).
    endpoints: dict[str, aws.ec2.VpcEndpoint]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.endpoints = {}
        if isinstance(args.vpc, ExistingVpc):
            self.vpc_id = pulumi.Output.from_input(args.vpc.vpc_id)
            self.public_subnet_ids = [pulumi.Output.from_input(i) for i in args.vpc.public_subnet_ids]
            self.private_subnet_ids = [pulumi.Output.from_input(i) for i in args.vpc.private_subnet_ids]
            self.private_route_table_ids = []
            self.cidr, self.private_subnet_cidrs = None, []
            self.register_outputs({"vpc_id": self.vpc_id})
            return

        region = args.region
        prefix = region.names.regional("ingest")
        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).names
        if args.egress == "endpoints":
            # An interface endpoint serves only the zones its service is offered in, and a zone's name
            # is another physical zone in every account: keep the zones, by this account's names, in
            # which every endpoint the subnets need is offered (in us-east-1 some services skip one).
            offered = [
                aws.ec2.get_vpc_endpoint_service_output(
                    service_name=f"com.amazonaws.{region.name}.{service}", opts=pulumi.InvokeOutputOptions(parent=self)
                ).availability_zones
                for service in (*INTERFACE_ENDPOINTS, *args.more_endpoints)
            ]
            zones = pulumi.Output.all(zones, *offered).apply(_offering_all)

        vpc = aws.ec2.Vpc(
            name,
            aws.ec2.VpcArgs(
                cidr_block=args.vpc.cidr,
                # Private DNS of the interface endpoints needs both.
                enable_dns_support=True,
                enable_dns_hostnames=True,
                tags={"Name": prefix},
            ),
            child,
        )
        self.vpc_id = vpc.id
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", aws.ec2.InternetGatewayArgs(vpc_id=vpc.id, tags={"Name": prefix}), child
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            aws.ec2.RouteTableArgs(
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
                tags={"Name": f"{prefix}-public"},
            ),
            child,
        )

        public_cidrs, private_cidrs = subnet_cidrs(args.vpc.cidr, args.availability_zones)
        self.cidr, self.private_subnet_cidrs = args.vpc.cidr, private_cidrs
        self.public_subnet_ids, self.private_subnet_ids, self.private_route_table_ids = [], [], []
        for index, (public_cidr, private_cidr) in enumerate(zip(public_cidrs, private_cidrs, strict=True)):
            zone = zones.apply(functools.partial(_zone, index=index, region=region.name))
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                aws.ec2.SubnetArgs(
                    vpc_id=vpc.id,
                    cidr_block=public_cidr,
                    availability_zone=zone,
                    # The ALB gets its addresses from AWS; nothing else lives here.
                    map_public_ip_on_launch=False,
                    tags={"Name": f"{prefix}-public-{index}", "tier": "public"},
                ),
                child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}",
                aws.ec2.RouteTableAssociationArgs(subnet_id=public.id, route_table_id=public_routes.id),
                child,
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{index}",
                aws.ec2.SubnetArgs(
                    vpc_id=vpc.id,
                    cidr_block=private_cidr,
                    availability_zone=zone,
                    tags={"Name": f"{prefix}-private-{index}", "tier": "private"},
                ),
                child,
            )
            # Routes are resources of their own, never the table's inline list: the peering of
            # Grafana's VPC (components/peering.py) adds routes to these tables too.
            private_routes = aws.ec2.RouteTable(
                f"{name}-private-{index}",
                aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags={"Name": f"{prefix}-private-{index}"}),
                child,
            )
            if args.egress == "nat":
                # One NAT gateway per zone: a zone's outage does not cut the others off.
                address = aws.ec2.Eip(
                    f"{name}-nat-{index}", aws.ec2.EipArgs(domain="vpc", tags={"Name": f"{prefix}-nat-{index}"}), child
                )
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    aws.ec2.NatGatewayArgs(
                        subnet_id=public.id, allocation_id=address.id, tags={"Name": f"{prefix}-nat-{index}"}
                    ),
                    pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                )
                aws.ec2.Route(
                    f"{name}-private-{index}-internet",
                    aws.ec2.RouteArgs(
                        route_table_id=private_routes.id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id
                    ),
                    child,
                )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}",
                aws.ec2.RouteTableAssociationArgs(subnet_id=private.id, route_table_id=private_routes.id),
                child,
            )
            self.public_subnet_ids.append(public.id)
            self.private_subnet_ids.append(private.id)
            self.private_route_table_ids.append(private_routes.id)

        if args.egress == "endpoints":
            endpoint_group = security_group(
                f"{name}-endpoints",
                vpc.id,
                f"{prefix}-endpoints",
                "HTTPS from inside the VPC to the AWS API endpoints",
                child,
            )
            allow_tcp(f"{name}-endpoints-https", "in", endpoint_group, 443, "HTTPS from the VPC", child,
                      cidr=vpc.cidr_block)  # fmt: skip
            for service in (*INTERFACE_ENDPOINTS, *args.more_endpoints):
                self.endpoints[service] = aws.ec2.VpcEndpoint(
                    f"{name}-{service.replace('.', '-')}",
                    aws.ec2.VpcEndpointArgs(
                        vpc_id=vpc.id,
                        service_name=f"com.amazonaws.{region.name}.{service}",
                        vpc_endpoint_type="Interface",
                        private_dns_enabled=True,
                        subnet_ids=self.private_subnet_ids,
                        security_group_ids=[endpoint_group.id],
                        tags={"Name": f"{prefix}-{service}"},
                    ),
                    child,
                )
            self.endpoints["s3"] = aws.ec2.VpcEndpoint(
                f"{name}-s3",
                aws.ec2.VpcEndpointArgs(
                    vpc_id=vpc.id,
                    service_name=f"com.amazonaws.{region.name}.s3",
                    vpc_endpoint_type="Gateway",
                    route_table_ids=self.private_route_table_ids,
                    tags={"Name": f"{prefix}-s3"},
                ),
                child,
            )
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )
