"""Security group rules between two groups: one rule resource per direction, group and port."""

from __future__ import annotations

from functools import partial
from typing import Literal

import pulumi
import pulumi_aws as aws

RULE_TYPES = {
    "ingress": aws.vpc.SecurityGroupIngressRule,
    "egress": aws.vpc.SecurityGroupEgressRule,
}


def group_rule(
    direction: Literal["ingress", "egress"],
    name: str,
    *,
    group_id: pulumi.Input[str],
    peer_group_id: pulumi.Input[str],
    port: pulumi.Input[int],
    description: str,
    opts: pulumi.ResourceOptions,
) -> aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule:
    """A rule of `group_id` letting TCP on one port come from (ingress) or go to (egress) the
    members of `peer_group_id`; rules name a peer group, never a CIDR."""
    return RULE_TYPES[direction](
        name,
        security_group_id=group_id,
        referenced_security_group_id=peer_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        description=description,
        opts=opts,
    )


# Ingress on `group_id` from the members of `peer_group_id`.
allow_from_group = partial(group_rule, "ingress")
# Egress from `group_id` to the members of `peer_group_id`.
allow_to_group = partial(group_rule, "egress")
