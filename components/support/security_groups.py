"""Security groups and their rules, one TCP port per rule, each rule a resource of its own
(the provider's recommended form: a changed rule replaces only itself)."""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_aws as aws


def security_group(
    name: str, vpc_id: pulumi.Input[str], group_name: str, description: str, opts: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    return aws.ec2.SecurityGroup(
        name,
        aws.ec2.SecurityGroupArgs(vpc_id=vpc_id, name=group_name, description=description, tags={"Name": group_name}),
        opts,
    )


def allow_tcp(
    name: str,
    direction: Literal["in", "out"],
    group: aws.ec2.SecurityGroup,
    port: int,
    description: str,
    opts: pulumi.ResourceOptions,
    *,
    cidr: pulumi.Input[str] | None = None,
    peer: aws.ec2.SecurityGroup | None = None,
) -> None:
    """One port, from (in) or to (out) a CIDR block or another security group."""
    if (cidr is None) == (peer is None):
        raise ValueError(f"{name}: a rule names a CIDR block or a peer group, not both or neither")
    peer_id = peer.id if peer is not None else None
    kind = aws.vpc.SecurityGroupIngressRule if direction == "in" else aws.vpc.SecurityGroupEgressRule
    # Ingress and egress rules take the same arguments.
    kind(
        name,
        opts=opts,
        security_group_id=group.id,
        description=description,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        cidr_ipv4=cidr,
        referenced_security_group_id=peer_id,
    )
