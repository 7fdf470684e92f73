"""Security groups: ingress from groups only, narrow internet egress, DB open only to clients."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource
from support import (
    EXEMPT_CONFIG,
    UNKNOWN,
    Config,
    Finding,
    StackView,
    Subject,
    as_list,
    label,
    resource_policy,
    stack_policy,
    truthy,
    unverified,
    violation,
)

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_PROXY = "aws:rds/proxy:Proxy"
LAMBDA_FUNCTION = "aws:lambda/function:Function"

GROUP_TYPES = (SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
INTERNET_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
ALL_PROTOCOLS = frozenset({"-1", "all"})
ALL_PORTS = (0, 65535)

# Ports a database engine listens on when the resource does not set `port`.
DEFAULT_DB_PORTS = {
    "postgres": 5432,
    "aurora-postgresql": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "aurora-mysql": 3306,
    "aurora": 3306,
    "sqlserver-ee": 1433,
    "sqlserver-se": 1433,
    "sqlserver-ex": 1433,
    "sqlserver-web": 1433,
    "oracle-ee": 1521,
    "oracle-se2": 1521,
}

# What an attachment kind is called in config, and where each resource type lists its groups.
ATTACHMENTS = {
    "rds-proxy": (RDS_PROXY, "vpcSecurityGroupIds"),
    "lambda-function": (LAMBDA_FUNCTION, "vpcConfig"),
}


@dataclass(frozen=True)
class Rule:
    """One ingress or egress permission, from an inline block or a standalone rule resource."""

    owner: PolicyResource
    where: str
    protocol: Any
    from_port: Any
    to_port: Any
    cidrs: list[Any]
    # Property names (of `owner`) whose dependencies are the source or target groups.
    group_props: tuple[str, ...]
    group_ids: list[Any]
    prefix_lists: list[Any]
    self_reference: bool


# Helpers


def _port(value: Any, default: int) -> Any:
    if value is UNKNOWN:
        return UNKNOWN
    return default if value is None else int(value)


def port_range(rule: Rule) -> tuple[int, int] | None:
    """The ports a rule opens, all ports for protocol -1, or None while unknown."""
    if rule.protocol is UNKNOWN:
        return None
    if str(rule.protocol).lower() in ALL_PROTOCOLS:
        return ALL_PORTS
    low = _port(rule.from_port, ALL_PORTS[0])
    high = _port(rule.to_port, ALL_PORTS[1])
    if UNKNOWN in (low, high):
        return None
    return low, high


def inline_rules(view: StackView, group: PolicyResource, direction: str) -> Iterator[Rule]:
    blocks = view.props(group).get(direction)
    if blocks is UNKNOWN:
        return
    for index, block in enumerate(blocks or []):
        if block is UNKNOWN:
            continue
        yield Rule(
            owner=group,
            where=f"{label(group.resource_type, group.name)} ({direction}[{index}])",
            protocol=block.get("protocol"),
            from_port=block.get("fromPort"),
            to_port=block.get("toPort"),
            cidrs=_cidrs(block.get("cidrBlocks")) + _cidrs(block.get("ipv6CidrBlocks")),
            group_props=(direction,),
            group_ids=as_list(block.get("securityGroups")),
            prefix_lists=as_list(block.get("prefixListIds")),
            self_reference=truthy(block.get("self")),
        )


def standalone_rule(view: StackView, resource: PolicyResource) -> Rule:
    props = view.props(resource)
    resource_label = label(resource.resource_type, resource.name)
    if resource.resource_type == SECURITY_GROUP_RULE:
        return Rule(
            owner=resource,
            where=resource_label,
            protocol=props.get("protocol"),
            from_port=props.get("fromPort"),
            to_port=props.get("toPort"),
            cidrs=_cidrs(props.get("cidrBlocks")) + _cidrs(props.get("ipv6CidrBlocks")),
            group_props=("sourceSecurityGroupId",),
            group_ids=as_list(props.get("sourceSecurityGroupId")),
            prefix_lists=as_list(props.get("prefixListIds")),
            self_reference=truthy(props.get("self")),
        )
    return Rule(
        owner=resource,
        where=resource_label,
        protocol=props.get("ipProtocol"),
        from_port=props.get("fromPort"),
        to_port=props.get("toPort"),
        cidrs=[value for value in (props.get("cidrIpv4"), props.get("cidrIpv6")) if value],
        group_props=("referencedSecurityGroupId",),
        group_ids=as_list(props.get("referencedSecurityGroupId")),
        prefix_lists=as_list(props.get("prefixListId")),
        self_reference=False,
    )


def _cidrs(value: Any) -> list[Any]:
    return [UNKNOWN] if value is UNKNOWN else as_list(value)


def rule_direction(view: StackView, resource: PolicyResource) -> Any:
    if resource.resource_type == SECURITY_GROUP_RULE:
        return view.props(resource).get("type")
    return "ingress" if resource.resource_type == INGRESS_RULE else "egress"


def _same_network(cidr: str, allowed: Iterable[str]) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        return any(network == ipaddress.ip_network(item, strict=False) for item in allowed)
    except ValueError:
        return False


# Policies


def sg_ingress_from_groups_only(props: dict[str, Any], subject: Subject, config: Config):
    allowed_cidrs = config.strings("allowedCidrs")
    if subject.resource_type == SECURITY_GROUP_RULE:
        direction = props.get("type")
        if direction is UNKNOWN:
            yield unverified("type", subject, "it is not known yet")
            return
        if direction != "ingress":
            return
        blocks = [("", props)]
        cidr_keys = ("cidrBlocks", "ipv6CidrBlocks")
    elif subject.resource_type == INGRESS_RULE:
        blocks = [("", props)]
        cidr_keys = ("cidrIpv4", "cidrIpv6")
    else:
        ingress = props.get("ingress")
        if ingress is UNKNOWN:
            yield unverified("ingress", subject, "the rules are not known yet")
            return
        blocks = [(f"ingress[{index}]", block) for index, block in enumerate(ingress or [])]
        cidr_keys = ("cidrBlocks", "ipv6CidrBlocks")
    for where, block in blocks:
        prop_prefix = f"{where}." if where else ""
        if block is UNKNOWN:
            yield unverified(where, subject, "the rule is not known yet")
            continue
        for key in cidr_keys:
            value = block.get(key)
            if value is UNKNOWN:
                yield unverified(f"{prop_prefix}{key}", subject, "it is not known yet")
                continue
            for cidr in as_list(value):
                if cidr is UNKNOWN:
                    yield unverified(f"{prop_prefix}{key}", subject, "it is not known yet")
                elif cidr and not _same_network(str(cidr), allowed_cidrs):
                    yield violation(
                        f"{subject} must admit traffic only from security groups or prefix "
                        f"lists: {prop_prefix}{key} admits {cidr}; reference the client's security "
                        "group instead (sourceSecurityGroupId / referencedSecurityGroupId / "
                        "securityGroups)."
                    )


def sg_egress_restricted(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    allowed_ports = {int(port) for port in config.get("allowedPorts") or []}
    tag_key, tag_value = config["tagKey"], config["tagValue"]

    def checked(rule: Rule, groups: list[PolicyResource]) -> Iterator[Finding]:
        internet = [cidr for cidr in rule.cidrs if cidr in INTERNET_CIDRS]
        if any(cidr is UNKNOWN for cidr in rule.cidrs):
            yield unverified("egress destination", rule.where, "it is not known yet")
        if not internet:
            return
        ports = port_range(rule)
        if ports is None:
            yield unverified("egress ports", rule.where, "they are not known yet")
        elif not _ports_allowed(ports, allowed_ports):
            yield violation(
                f"{rule.where} must open internet egress ({internet[0]}) only on ports "
                f"{_ports_text(allowed_ports)}: it opens {_range_text(ports)}; narrow the rule or "
                "send the traffic to a VPC endpoint's security group."
            )
        if not groups:
            yield unverified(
                "securityGroupId",
                rule.where,
                "its security group is not a resource of this stack, so its tags are unknown",
            )
        for group in groups:
            tags = view.props(group).get("tags")
            group_label = label(group.resource_type, group.name)
            if tags is UNKNOWN or (isinstance(tags, dict) and tags.get(tag_key) is UNKNOWN):
                yield unverified("tags", group_label, "they are not known yet")
            elif not isinstance(tags, dict) or tags.get(tag_key) != tag_value:
                yield violation(
                    f"{rule.where} must open internet egress only from groups tagged "
                    f"{tag_key}={tag_value}: {group_label} is not; tag the group after review, "
                    "or remove the rule."
                )

    for group in view.of_type(*GROUP_TYPES):
        if view.props(group).get("egress") is UNKNOWN:
            yield (
                group,
                unverified(
                    "egress", label(group.resource_type, group.name), "the rules are not known yet"
                ),
            )
        for rule in inline_rules(view, group, "egress"):
            yield from ((group, finding) for finding in checked(rule, [group]))
    for resource in view.of_type(SECURITY_GROUP_RULE, EGRESS_RULE):
        direction = rule_direction(view, resource)
        if direction is UNKNOWN:
            yield (
                resource,
                unverified(
                    "type", label(resource.resource_type, resource.name), "it is not known yet"
                ),
            )
            continue
        if direction != "egress":
            continue
        groups = view.deps(resource, "securityGroupId", *GROUP_TYPES)
        rule = standalone_rule(view, resource)
        yield from ((resource, finding) for finding in checked(rule, groups))


def _ports_allowed(ports: tuple[int, int], allowed: set[int]) -> bool:
    low, high = ports
    if high - low + 1 > len(allowed):
        return False
    return all(port in allowed for port in range(low, high + 1))


def _ports_text(ports: set[int]) -> str:
    return ", ".join(str(port) for port in sorted(ports)) or "(none)"


def _range_text(ports: tuple[int, int]) -> str:
    if ports == ALL_PORTS:
        return "all ports"
    return str(ports[0]) if ports[0] == ports[1] else f"{ports[0]}-{ports[1]}"


def default_sg_no_rules(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    for group in view.of_type(DEFAULT_SECURITY_GROUP):
        props = view.props(group)
        group_label = label(group.resource_type, group.name)
        for direction in ("ingress", "egress"):
            rules = props.get(direction)
            if rules is UNKNOWN:
                yield group, unverified(direction, group_label, "the rules are not known yet")
            elif rules:
                found = violation(
                    f"{group_label} must have no rules: it has {len(rules)} {direction} "
                    f"rule(s); remove the {direction} blocks so the VPC's default group admits "
                    "nothing and resources must name their own group."
                )
                yield group, found
    for resource in view.of_type(SECURITY_GROUP_RULE, INGRESS_RULE, EGRESS_RULE):
        for group in view.deps(resource, "securityGroupId", DEFAULT_SECURITY_GROUP):
            found = violation(
                f"{label(group.resource_type, group.name)} must have no rules: "
                f"{label(resource.resource_type, resource.name)} adds one; attach the rule to "
                "a security group of its own."
            )
            yield resource, found


def db_ingress_from_proxy_or_lambda(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    allowed_kinds = set(config.strings("allowedSourceAttachments"))

    # One pass over proxies and functions: which groups belong to an allowed client.
    client_groups: dict[str, set[str]] = defaultdict(set)
    for kind, (resource_type, prop) in ATTACHMENTS.items():
        for resource in view.of_type(resource_type):
            for group in view.deps(resource, prop, *GROUP_TYPES):
                client_groups[group.urn].add(kind)

    # One pass over standalone ingress rules, indexed by the group they open.
    rules_by_group: dict[str, list[Rule]] = defaultdict(list)
    undirected_by_group: dict[str, list[PolicyResource]] = defaultdict(list)
    for resource in view.of_type(SECURITY_GROUP_RULE, INGRESS_RULE):
        direction = rule_direction(view, resource)
        if direction == "egress":
            continue
        for group in view.deps(resource, "securityGroupId", *GROUP_TYPES):
            if direction is UNKNOWN:
                undirected_by_group[group.urn].append(resource)
            else:
                rules_by_group[group.urn].append(standalone_rule(view, resource))

    for database in view.of_type(RDS_INSTANCE, RDS_CLUSTER):
        props = view.props(database)
        db_label = label(database.resource_type, database.name)
        port = props.get("port")
        if port is None:
            port = DEFAULT_DB_PORTS.get(props.get("engine"))
        if port is None or port is UNKNOWN:
            yield database, unverified("port", db_label, "the database port is not known yet")
            continue
        port = int(port)
        group_ids = props.get("vpcSecurityGroupIds")
        groups = view.deps(database, "vpcSecurityGroupIds", *GROUP_TYPES)
        if not group_ids and not groups:
            found = violation(
                f"{db_label} must use a security group that admits port {port} only from RDS "
                "proxies or Lambda functions: vpcSecurityGroupIds is empty, so the VPC's "
                "default group applies; set vpcSecurityGroupIds to a dedicated database group."
            )
            yield database, found
            continue
        if not groups:
            found = unverified(
                "vpcSecurityGroupIds",
                db_label,
                "its security groups are not resources of this stack, so their rules are unknown",
            )
            yield database, found
            continue
        for group in groups:
            rules = list(inline_rules(view, group, "ingress")) + rules_by_group.get(group.urn, [])
            if view.props(group).get("ingress") is UNKNOWN:
                yield (
                    database,
                    unverified(
                        "ingress",
                        label(group.resource_type, group.name),
                        "the rules are not known yet",
                    ),
                )
            for rule_resource in undirected_by_group.get(group.urn, []):
                yield (
                    database,
                    unverified(
                        "type",
                        label(rule_resource.resource_type, rule_resource.name),
                        "whether it is an ingress rule is not known yet",
                    ),
                )
            for finding in _db_rule_findings(
                view, group, rules, port, db_label, client_groups, allowed_kinds
            ):
                yield database, finding


def _db_rule_findings(
    view: StackView,
    group: PolicyResource,
    rules: list[Rule],
    port: int,
    db_label: str,
    client_groups: dict[str, set[str]],
    allowed_kinds: set[str],
) -> Iterator[Finding]:
    group_label = label(group.resource_type, group.name)
    allowed_text = " or ".join(sorted(allowed_kinds)) or "(nothing)"
    rule_of_port = [rule for rule in rules if _admits(rule, port)]
    unknown_ports = [rule for rule in rules if port_range(rule) is None]
    for rule in unknown_ports:
        yield unverified("ports", rule.where, "they are not known yet")
    inline_with_groups = [r for r in rules if r.owner is group and r.group_ids]
    for rule in rule_of_port:
        cidrs = [cidr for cidr in rule.cidrs if cidr]
        if cidrs or rule.prefix_lists:
            source = ", ".join(str(item) for item in cidrs + rule.prefix_lists)
            yield violation(
                f"{db_label} must admit port {port} only from {allowed_text} security groups: "
                f"{rule.where} admits {source}; replace it with a rule from the proxy's or "
                "function's security group."
            )
        if rule.self_reference and not (client_groups.get(group.urn, set()) & allowed_kinds):
            yield violation(
                f"{db_label} must admit port {port} only from {allowed_text} security groups: "
                f"{rule.where} admits its own group {group_label}; remove self and reference the "
                "client's group."
            )
        if not rule.group_ids:
            continue
        sources = [
            source
            for prop in rule.group_props
            for source in view.deps(rule.owner, prop, *GROUP_TYPES)
        ]
        if not sources:
            yield unverified(
                rule.group_props[0],
                rule.where,
                "the source group is not known yet and is not a security group of this stack",
            )
            continue
        strangers = [
            source
            for source in sources
            if not (client_groups.get(source.urn, set()) & allowed_kinds)
        ]
        if not strangers:
            continue
        # Limit: inline rules share one dependency list for the whole `ingress` property, so a
        # referenced group cannot be tied to one rule. A stranger in it proves a violation only
        # when every group-based inline rule opens the port; otherwise this is only a note.
        if rule.owner is group and len(inline_with_groups) > len(
            [r for r in inline_with_groups if _admits(r, port)]
        ):
            yield unverified(
                "ingress",
                group_label,
                f"{', '.join(label(s.resource_type, s.name) for s in strangers)} is referenced by "
                f"its ingress rules, and which rule admits port {port} cannot be told apart",
            )
            continue
        for stranger in strangers:
            yield violation(
                f"{db_label} must admit port {port} only from {allowed_text} security groups: "
                f"{rule.where} admits {label(stranger.resource_type, stranger.name)}, which is "
                "attached to neither; reference the proxy's or function's group instead."
            )


def _admits(rule: Rule, port: int) -> bool:
    ports = port_range(rule)
    if ports is None:
        return False
    protocol = str(rule.protocol).lower()
    if protocol not in ALL_PROTOCOLS and protocol not in {"tcp", "6"}:
        return False
    return ports[0] <= port <= ports[1]


POLICIES = [
    resource_policy(
        sg_ingress_from_groups_only,
        description="Security groups admit ingress only from other security groups or prefix"
        " lists, never from CIDR ranges.",
        types=[SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE],
        config={
            "allowedCidrs": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "CIDR ranges accepted as ingress sources after review.",
            }
        },
    ),
    stack_policy(
        sg_egress_restricted,
        description="Internet egress (0.0.0.0/0, ::/0) is open only on allowed ports and only from"
        " groups tagged for it.",
        types=[SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, EGRESS_RULE],
        config={
            "allowedPorts": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                "default": [443],
                "description": "Ports internet egress may use.",
            },
            "tagKey": {
                "type": "string",
                "default": "internet-egress",
                "description": "Tag that marks a group allowed to reach the internet.",
            },
            "tagValue": {
                "type": "string",
                "default": "true",
                "description": "Value of tagKey that allows internet egress.",
            },
        },
    ),
    stack_policy(
        default_sg_no_rules,
        description="The VPC's default security group has no ingress or egress rules.",
        types=[DEFAULT_SECURITY_GROUP],
        config=EXEMPT_CONFIG,
    ),
    stack_policy(
        db_ingress_from_proxy_or_lambda,
        description="Security groups of RDS databases admit the database port only from groups"
        " attached to an RDS proxy or a Lambda function.",
        types=[RDS_INSTANCE, RDS_CLUSTER],
        config={
            "allowedSourceAttachments": {
                "type": "array",
                "items": {"type": "string", "enum": sorted(ATTACHMENTS)},
                "default": sorted(ATTACHMENTS),
                "description": "Which clients' groups may reach the database port.",
            }
        },
    ),
]
