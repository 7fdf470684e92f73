"""Multi-AZ spread: functions, DB subnet groups and proxies span AZs; RDS instances are multi-AZ."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyResource
from support import (
    UNKNOWN,
    Config,
    Finding,
    StackView,
    label,
    not_known_yet,
    on_resource,
    resource_policy,
    shown,
    stack_policy,
    truthy,
    unverified,
    violation,
)

SUBNET = "aws:ec2/subnet:Subnet"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
DB_SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
RDS_PROXY = "aws:rds/proxy:Proxy"
RDS_INSTANCE = "aws:rds/instance:Instance"

MIN_AZ_CONFIG = {
    "minAzCount": {
        "type": "integer",
        "minimum": 1,
        "default": 2,
        "description": "Fewest distinct availability zones the subnets must span.",
    }
}


def subnet_spread_findings(
    view: StackView,
    resource: PolicyResource,
    prop: str,
    subnet_ids: Any,
    list_name: str,
    min_az_count: int,
) -> Iterator[Finding]:
    """Counts the AZs of the subnets behind `subnet_ids`, resolved through the stack's subnets.

    Subnet IDs say nothing about zones, known or not; the zones come from the `availabilityZone`
    (or `availabilityZoneId`) inputs of the subnet resources the property depends on.
    """
    resource_label = label(resource.resource_type, resource.name)
    subnets = view.deps(resource, prop, SUBNET)
    zones: set[str] = set()
    unknown_zone = False
    for subnet in subnets:
        subnet_props = view.props(subnet)
        zone = subnet_props.get("availabilityZone") or subnet_props.get("availabilityZoneId")
        if zone is UNKNOWN or not zone:
            unknown_zone = True
        else:
            zones.add(str(zone))
    if len(zones) >= min_az_count:
        return
    listed = None if subnet_ids is UNKNOWN else len(subnet_ids)
    outside = listed is not None and listed > len(subnets)
    if not subnets:
        reason = (
            "the subnets are not known yet and are not subnets of this stack"
            if listed is None or any(item is UNKNOWN for item in subnet_ids)
            else "its subnets are not resources of this stack, so their zones are unknown"
        )
        yield unverified(list_name, resource_label, reason)
    elif unknown_zone or outside:
        yield unverified(
            list_name,
            resource_label,
            f"the subnets of this stack span {len(zones)} zone(s), and the zones of the others "
            "are unknown",
        )
    else:
        yield violation(
            f"{resource_label} must use subnets in at least {min_az_count} availability zones: "
            f"{list_name} spans {len(zones)} ({', '.join(sorted(zones))}); add a subnet in "
            "another zone."
        )


def subnet_list_spread(
    view: StackView, config: Config, resource_type: str, prop: str
) -> Iterator[tuple[PolicyResource, Finding]]:
    """The spread of each `resource_type` whose top-level property `prop` lists its subnets."""
    min_az_count = config.integer("minAzCount")
    for resource in view.of_type(resource_type):
        subnet_ids = view.props(resource).get(prop)
        yield from on_resource(
            resource, subnet_spread_findings(view, resource, prop, subnet_ids, prop, min_az_count)
        )


def lambda_subnets_multi_az(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    min_az_count = config.integer("minAzCount")
    for function in view.of_type(LAMBDA_FUNCTION):
        vpc_config = view.props(function).get("vpcConfig")
        if vpc_config is UNKNOWN:
            yield function, not_known_yet(function, "vpcConfig")
            continue
        if not vpc_config:
            continue
        subnet_ids = vpc_config.get("subnetIds")
        if subnet_ids is not UNKNOWN and not subnet_ids:
            continue
        yield from on_resource(
            function,
            subnet_spread_findings(
                view, function, "vpcConfig", subnet_ids, "vpcConfig.subnetIds", min_az_count
            ),
        )


def db_subnet_group_multi_az(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    return subnet_list_spread(view, config, DB_SUBNET_GROUP, "subnetIds")


def rds_proxy_subnets_multi_az(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    return subnet_list_spread(view, config, RDS_PROXY, "vpcSubnetIds")


def rds_instance_multi_az(props: dict[str, Any], resource_label: str, config: Config):
    is_replica = bool(props.get("replicateSourceDb"))
    if is_replica and not config.get("requireForReadReplicas"):
        return
    multi_az = props.get("multiAz")
    if multi_az is UNKNOWN:
        yield unverified("multiAz", resource_label, "it is not known yet")
    elif not truthy(multi_az):
        yield violation(
            f"{resource_label} must run a standby in a second availability zone: multiAz is "
            f"{shown(multi_az)}; set multiAz to true."
        )


POLICIES = [
    stack_policy(
        lambda_subnets_multi_az,
        description="Lambda functions in a VPC use subnets in at least two availability zones.",
        types=[LAMBDA_FUNCTION],
        config=MIN_AZ_CONFIG,
    ),
    stack_policy(
        db_subnet_group_multi_az,
        description="DB subnet groups span at least two availability zones.",
        types=[DB_SUBNET_GROUP],
        config=MIN_AZ_CONFIG,
    ),
    stack_policy(
        rds_proxy_subnets_multi_az,
        description="RDS proxies use subnets in at least two availability zones.",
        types=[RDS_PROXY],
        config=MIN_AZ_CONFIG,
    ),
    resource_policy(
        rds_instance_multi_az,
        description="RDS instances keep a standby in another availability zone (Multi-AZ).",
        types=[RDS_INSTANCE],
        enforcement_level=EnforcementLevel.ADVISORY,
        config={
            "requireForReadReplicas": {
                "type": "boolean",
                "default": False,
                "description": "Also demand Multi-AZ from read replicas.",
            }
        },
    ),
]
