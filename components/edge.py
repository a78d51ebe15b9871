"""One Global Accelerator over both regions: the stack's front door.

Players connect to the accelerator's two static anycast addresses; AWS's edge sends
each connection to the endpoint group of the nearest region whose ALB is healthy (the
accelerator uses the ALB's own target health), and when a region fails its traffic
drains to the other one. One TCP listener carries every port the players use (443, and
80 where plain HTTP is allowed), so each region has exactly one endpoint group. The
traffic dial of a region's group and its ALB's weight come from the stack settings:
turning a dial down is how an operator shifts players away from a region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from runtime.names import MAX_ACCELERATOR, account_wide
from runtime.stack import EdgeSettings, IngestServiceSettings, RegionRole


def accelerator_ports(settings: IngestServiceSettings) -> list[int]:
    """443 with certificates; 80 only when the stack allows plain HTTP."""
    return ([443] if settings.https else []) + ([80] if settings.allow_http else [])


@dataclass(frozen=True)
class EdgeOrigin:
    """A region's ALB as the accelerator sees it."""

    region: str
    load_balancer_arn: pulumi.Input[str]


@dataclass(frozen=True)
class EdgeArgs:
    environment: str
    settings: EdgeSettings
    ports: list[int]
    origins: Mapping[RegionRole, EdgeOrigin]


class Edge(pulumi.ComponentResource):
    accelerator: aws.globalaccelerator.Accelerator
    listener: aws.globalaccelerator.Listener
    endpoint_groups: dict[RegionRole, aws.globalaccelerator.EndpointGroup]
    static_ips: pulumi.Output[list[str]]

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("prism:edge:Edge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.accelerator = aws.globalaccelerator.Accelerator(
            name,
            aws.globalaccelerator.AcceleratorArgs(
                name=account_wide(args.environment, "ingest", MAX_ACCELERATOR),
                ip_address_type="IPV4",
                enabled=True,
            ),
            child,
        )
        self.listener = aws.globalaccelerator.Listener(
            name,
            aws.globalaccelerator.ListenerArgs(
                accelerator_arn=self.accelerator.arn,
                protocol="TCP",
                client_affinity=args.settings.client_affinity,
                port_ranges=[
                    aws.globalaccelerator.ListenerPortRangeArgs(from_port=port, to_port=port) for port in args.ports
                ],
            ),
            child,
        )
        self.endpoint_groups = {}
        for role, origin in args.origins.items():
            endpoint = args.settings.endpoints[role]
            self.endpoint_groups[role] = aws.globalaccelerator.EndpointGroup(
                f"{name}-{role}",
                aws.globalaccelerator.EndpointGroupArgs(
                    listener_arn=self.listener.arn,
                    endpoint_group_region=origin.region,
                    traffic_dial_percentage=endpoint.traffic_dial,
                    endpoint_configurations=[
                        aws.globalaccelerator.EndpointGroupEndpointConfigurationArgs(
                            endpoint_id=origin.load_balancer_arn,
                            weight=endpoint.weight,
                            # The ALB, its WAF rate rule and the access logs see the player's address.
                            client_ip_preservation_enabled=True,
                        )
                    ],
                ),
                child,
            )
        self.static_ips = self.accelerator.ip_sets.apply(
            lambda sets: [address for s in sets or [] for address in (s.ip_addresses or [])]
        )
        self.register_outputs({"dns_name": self.accelerator.dns_name, "static_ips": self.static_ips})
