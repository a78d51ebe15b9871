"""A peering of the two regions' VPCs, so Grafana (in one region) reaches the other region's InfluxDB.

requester VPC (Grafana's region) <-> accepter VPC: a cross-region peering, accepted by the
accepter's provider, and in each VPC's private route tables a route to the other's CIDR.
Security groups still decide what may cross: only Grafana to the InfluxDB port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.support.region import Region


@dataclass(frozen=True)
class PeeringSide:
    region: Region
    vpc_id: pulumi.Input[str]
    cidr: str
    private_route_table_ids: Sequence[pulumi.Input[str]]


@dataclass(frozen=True)
class VpcPeeringArgs:
    requester: PeeringSide
    accepter: PeeringSide


class VpcPeering(pulumi.ComponentResource):
    connection: aws.ec2.VpcPeeringConnection

    def __init__(self, name: str, args: VpcPeeringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:peering:VpcPeering", name, None, opts)
        requester, accepter = args.requester, args.accepter
        on_requester = pulumi.ResourceOptions(parent=self, provider=requester.region.provider)
        on_accepter = pulumi.ResourceOptions(parent=self, provider=accepter.region.provider)
        label = f"{requester.region.names.regional('to')}-{accepter.region.code}"
        self.connection = aws.ec2.VpcPeeringConnection(
            name,
            aws.ec2.VpcPeeringConnectionArgs(
                vpc_id=requester.vpc_id,
                peer_vpc_id=accepter.vpc_id,
                peer_region=accepter.region.name,
                # A cross-region peering is accepted on the other side, below.
                auto_accept=False,
                tags={"Name": label},
            ),
            on_requester,
        )
        accepted = aws.ec2.VpcPeeringConnectionAccepter(
            f"{name}-accepted",
            vpc_peering_connection_id=self.connection.id,
            auto_accept=True,
            tags={"Name": label},
            opts=on_accepter,
        )
        for side, other, side_opts in ((requester, accepter, on_requester), (accepter, requester, on_accepter)):
            for index, table in enumerate(side.private_route_table_ids):
                aws.ec2.Route(
                    f"{name}-{side.region.code}-private-{index}",
                    aws.ec2.RouteArgs(
                        route_table_id=table,
                        destination_cidr_block=other.cidr,
                        vpc_peering_connection_id=accepted.vpc_peering_connection_id,
                    ),
                    side_opts,
                )
        self.register_outputs({"id": self.connection.id})
