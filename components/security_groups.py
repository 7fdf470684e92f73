"""Security group rules between two groups: one rule resource per direction, group and port."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def allow_from_group(
    name: str,
    *,
    group_id: pulumi.Input[str],
    peer_group_id: pulumi.Input[str],
    port: pulumi.Input[int],
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.vpc.SecurityGroupIngressRule:
    """Ingress on `group_id` from the members of `peer_group_id`, TCP on one port."""
    return aws.vpc.SecurityGroupIngressRule(
        name, **group_rule_inputs(group_id, peer_group_id, port, description), opts=opts
    )


def allow_to_group(
    name: str,
    *,
    group_id: pulumi.Input[str],
    peer_group_id: pulumi.Input[str],
    port: pulumi.Input[int],
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.vpc.SecurityGroupEgressRule:
    """Egress from `group_id` to the members of `peer_group_id`, TCP on one port."""
    return aws.vpc.SecurityGroupEgressRule(
        name, **group_rule_inputs(group_id, peer_group_id, port, description), opts=opts
    )


def group_rule_inputs(
    group_id: pulumi.Input[str],
    peer_group_id: pulumi.Input[str],
    port: pulumi.Input[int],
    description: str,
) -> dict[str, object]:
    """The inputs of a one-port TCP rule between two groups, the same for either direction.

    Rules name a peer group, never a CIDR, so only members of that group are let through.
    """
    return {
        "security_group_id": group_id,
        "referenced_security_group_id": peer_group_id,
        "ip_protocol": "tcp",
        "from_port": port,
        "to_port": port,
        "description": description,
    }
