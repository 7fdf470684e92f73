"""Network: a VPC whose private app subnets hold the Lambda ENIs and RDS Proxy and whose isolated
data subnets hold the database, with NAT, interface endpoints, a data NACL and flow logs."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# AWS keeps the first four addresses and the last one of every subnet.
# https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html
AWS_RESERVED_IPS_PER_SUBNET = 5

# IPv4 block sizes AWS accepts for a VPC and for a subnet.
SHORTEST_PREFIX_LENGTH = 16
LONGEST_PREFIX_LENGTH = 28

# The blocks AWS advises for VPCs: RFC 1918 private space and RFC 6598 shared space. Other
# blocks Python calls private (loopback, link-local, benchmarking, reserved) cannot work as a VPC.
# https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
VPC_ADDRESS_SPACES = tuple(
    ipaddress.IPv4Network(block)
    for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)

MIN_AVAILABILITY_ZONES = 2
NAT_STRATEGIES = ("none", "single", "per-az")

# Lambda places one Hyperplane ENI in each subnet for every distinct security-group set that
# uses it, and builds a new one before it drops the old one when a function's network settings
# change, so each combination can hold two addresses for a while.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html
LAMBDA_ENI_HEADROOM_FACTOR = 2

# Free addresses RDS Proxy asks for, by the size of the instance behind it. AWS states these for
# the proxy's subnets as a whole; we ask each app subnet to hold them, so that one zone can
# carry the proxy alone. Sizes above 24xlarge use the largest figure AWS gives.
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-network-prereqs.html
PROXY_IPS_BY_XLARGE_MULTIPLE = ((1, 10), (2, 15), (4, 25), (8, 45), (12, 60), (16, 75), (24, 110))

# A data subnet holds the instance, its Multi-AZ standby and the spare address RDS needs while it
# replaces an instance during a modification or maintenance.
DATA_SUBNET_IP_NEED = 3 + AWS_RESERVED_IPS_PER_SUBNET

# The NACL lets the database answer on the ports client operating systems pick for outgoing
# connections; AWS advises the whole 1024-65535 range because clients differ.
# https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html
EPHEMERAL_PORTS = (1024, 65535)

# Retention values CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

# S3 and DynamoDB are reached through gateway endpoints. Private DNS on their interface
# endpoints needs a gateway endpoint beside them or extra DNS options, neither of which this
# network builds, so they are refused rather than deployed half working.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html
GATEWAY_ENDPOINT_SERVICES = ("s3", "dynamodb")

_SERVICE_NAME = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
# A full endpoint service name such as com.amazonaws.us-east-1.kms: the program adds the
# partition's prefix and the region itself.
_FULL_SERVICE_NAME = re.compile(
    r"^(?:(?:cn\.)?com\.amazonaws\.)?(?:.*\.)?[a-z]{2}(?:-[a-z]+)+-\d+\.(?P<service>.+)$"
)
_SERVICE_PREFIX = re.compile(r"^(?:cn\.)?com\.amazonaws\.")
_INSTANCE_SIZE = re.compile(r"^db\.[a-z0-9-]+\.(?:(\d+)?xlarge|micro|small|medium|large)$")


class NetworkPlanError(ValueError):
    """A subnet plan that cannot work; each problem names the config key to change."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class NetworkArgsError(ValueError):
    """NetworkArgs that cannot build a network; each problem names the field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class SubnetPlan:
    """CIDR blocks per tier, in the order of the availability zones (public: the NAT zones)."""

    app: tuple[str, ...]
    data: tuple[str, ...]
    public: tuple[str, ...]
    app_ip_need: int


@dataclass(frozen=True)
class NetworkArgs:
    """Inputs of a Network.

    vpc_cidr: IPv4 block of the VPC, /16 to /28.
    availability_zones: zone names, at least two; subnets of every tier go in each.
    subnet_plan: the blocks from plan_subnets(), one per zone (public: one per NAT gateway).
    region: the region the provider deploys to; interface endpoint service names use it.
    kms_key_arn: customer-managed key that encrypts the flow-log group.
    nat_strategy: "none" (no internet route at all), "single" (one NAT gateway for every zone)
        or "per-az" (one per zone, so one zone's outage leaves the others' egress working).
    endpoint_services: AWS services reached through interface endpoints with private DNS, named
        as in com.amazonaws.<region>.<service>; secretsmanager at least.
    db_port: the database port the data subnets' NACL admits from the app subnets.
    flow_logs_retention_days: how long CloudWatch keeps the flow logs.
    tags: added to every resource that takes tags.
    label: what the network's warnings call it, e.g. "the replica region's network".
    nat_strategy_setting: where the reader sets nat_strategy, as the warnings quote it; the stack
        program passes its config key ('<project>:natStrategy'), other callers keep the field.
    """

    vpc_cidr: str
    availability_zones: tuple[str, ...]
    subnet_plan: SubnetPlan
    region: str
    kms_key_arn: pulumi.Input[str]
    nat_strategy: str = "single"
    endpoint_services: tuple[str, ...] = ("secretsmanager",)
    db_port: int = 5432
    flow_logs_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)
    label: str = "the VPC"
    nat_strategy_setting: str = "NetworkArgs.nat_strategy"

    def __post_init__(self) -> None:
        problems = validate_network_args(self)
        if problems:
            raise NetworkArgsError(problems)


class Network(pulumi.ComponentResource):
    """VPC, subnets per zone and tier, routing, endpoints, data-subnet NACL and flow logs."""

    vpc_id: pulumi.Output[str]
    cidr_block: pulumi.Output[str]
    app_subnet_ids: pulumi.Output[list[str]]
    data_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    endpoints_security_group_id: pulumi.Output[str]
    availability_zones: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lambda-private-db:network:Network", name, None, opts)
        self.args = args
        plan = args.subnet_plan
        zones = args.availability_zones
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        account_id = aws.get_caller_identity(opts=invoke).account_id
        partition = aws.get_partition(opts=invoke)

        def tags(label: str, **extra: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{name}-{label}", **extra}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=child,
        )

        # Taking over the default group with no rules removes the allow-all rules AWS puts in
        # it, so nothing that lands in it by accident can talk to anything.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            tags=tags("default-sg-no-rules"),
            opts=child,
        )

        app_subnets = [
            aws.ec2.Subnet(
                f"{name}-app-{zone}",
                vpc_id=vpc.id,
                cidr_block=plan.app[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=tags(f"app-{zone}", tier="app"),
                opts=child,
            )
            for index, zone in enumerate(zones)
        ]
        data_subnets = [
            aws.ec2.Subnet(
                f"{name}-data-{zone}",
                vpc_id=vpc.id,
                cidr_block=plan.data[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=tags(f"data-{zone}", tier="data"),
                opts=child,
            )
            for index, zone in enumerate(zones)
        ]

        public_subnets: list[aws.ec2.Subnet] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        if plan.public:
            internet_gateway = aws.ec2.InternetGateway(
                f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child
            )
            public_route_table = aws.ec2.RouteTable(
                f"{name}-public-rt", vpc_id=vpc.id, tags=tags("public-rt"), opts=child
            )
            aws.ec2.Route(
                f"{name}-public-default-route",
                route_table_id=public_route_table.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=internet_gateway.id,
                opts=child,
            )
            for index, cidr in enumerate(plan.public):
                zone = zones[index]
                subnet = aws.ec2.Subnet(
                    f"{name}-public-{zone}",
                    vpc_id=vpc.id,
                    cidr_block=cidr,
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags=tags(f"public-{zone}", tier="public"),
                    opts=child,
                )
                aws.ec2.RouteTableAssociation(
                    f"{name}-public-{zone}-rta",
                    subnet_id=subnet.id,
                    route_table_id=public_route_table.id,
                    opts=child,
                )
                elastic_ip = aws.ec2.Eip(
                    f"{name}-nat-{zone}-eip", domain="vpc", tags=tags(f"nat-{zone}"), opts=child
                )
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        allocation_id=elastic_ip.allocation_id,
                        subnet_id=subnet.id,
                        connectivity_type="public",
                        tags=tags(f"nat-{zone}"),
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[internet_gateway]),
                    )
                )
                public_subnets.append(subnet)

        if len(nat_gateways) == 1 and len(zones) > 1:
            pulumi.log.warn(
                f"All {len(zones)} zones of {args.label} ({args.region}) leave through the one "
                f"NAT gateway in {zones[0]}; an outage of {zones[0]} cuts the functions' "
                f"internet egress in every zone. Set {args.nat_strategy_setting} to per-az where "
                "that matters.",
                resource=self,
            )

        # One route table per zone, so that with per-az NAT each zone leaves through its own
        # gateway and a zone outage does not cut the others off.
        for index, zone in enumerate(zones):
            route_table = aws.ec2.RouteTable(
                f"{name}-app-{zone}-rt", vpc_id=vpc.id, tags=tags(f"app-{zone}-rt"), opts=child
            )
            if nat_gateways:
                nat = nat_gateways[index] if len(nat_gateways) == len(zones) else nat_gateways[0]
                aws.ec2.Route(
                    f"{name}-app-{zone}-default-route",
                    route_table_id=route_table.id,
                    destination_cidr_block="0.0.0.0/0",
                    nat_gateway_id=nat.id,
                    opts=child,
                )
            aws.ec2.RouteTableAssociation(
                f"{name}-app-{zone}-rta",
                subnet_id=app_subnets[index].id,
                route_table_id=route_table.id,
                opts=child,
            )

        # The data tier's table has only the VPC's local route: no NAT, no internet gateway.
        data_route_table = aws.ec2.RouteTable(
            f"{name}-data-rt", vpc_id=vpc.id, tags=tags("data-rt"), opts=child
        )
        for index, zone in enumerate(zones):
            aws.ec2.RouteTableAssociation(
                f"{name}-data-{zone}-rta",
                subnet_id=data_subnets[index].id,
                route_table_id=data_route_table.id,
                opts=child,
            )

        # No inline rules: the tiers add their 443 ingress as separate rule resources that
        # reference their own groups, and inline rules would fight with those. The endpoints
        # never open connections, so the group needs no egress.
        endpoints_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="Interface VPC endpoints: HTTPS only from the Lambda tiers' groups",
            tags=tags("endpoints-sg"),
            opts=child,
        )
        app_subnet_ids = [subnet.id for subnet in app_subnets]
        for service in args.endpoint_services:
            aws.ec2.VpcEndpoint(
                f"{name}-endpoint-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                # com.amazonaws.<region>.<service>; cn.com.amazonaws... in the China partition.
                service_name=f"{partition.reverse_dns_prefix}.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=app_subnet_ids,
                security_group_ids=[endpoints_security_group.id],
                tags=tags(f"endpoint-{service}"),
                opts=child,
            )

        # Only the DB port in from the app subnets and the answers back: anything the instance
        # itself would open (the aws_lambda or aws_s3 extensions, say) is dropped here.
        ingress, egress = data_acl_entries(plan.app, args.db_port)
        aws.ec2.NetworkAcl(
            f"{name}-data-acl",
            vpc_id=vpc.id,
            subnet_ids=[subnet.id for subnet in data_subnets],
            ingress=[aws.ec2.NetworkAclIngressArgs(**entry) for entry in ingress],
            egress=[aws.ec2.NetworkAclEgressArgs(**entry) for entry in egress],
            tags=tags("data-acl"),
            opts=child,
        )

        self._flow_logs(name, vpc, args, tags, account_id, partition.partition)

        self.vpc_id = vpc.id
        self.cidr_block = vpc.cidr_block
        self.app_subnet_ids = pulumi.Output.all(*app_subnet_ids)
        self.data_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in data_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in public_subnets])
        self.endpoints_security_group_id = endpoints_security_group.id
        self.availability_zones = pulumi.Output.from_input(list(zones))
        self.app_subnet_cidrs = plan.app
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "cidr_block": self.cidr_block,
                "app_subnet_ids": self.app_subnet_ids,
                "data_subnet_ids": self.data_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "endpoints_security_group_id": self.endpoints_security_group_id,
                "availability_zones": self.availability_zones,
            }
        )

    def _flow_logs(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        args: NetworkArgs,
        tags: Callable[[str], dict[str, str]],
        account_id: str,
        partition: str,
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.flow_logs_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags("flow-logs"),
            opts=child,
        )

        # The service may act only for this account's flow logs (confused-deputy guard).
        # https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": account_id},
                                "ArnLike": {
                                    "aws:SourceArn": (
                                        f"arn:{partition}:ec2:{args.region}:{account_id}"
                                        ":vpc-flow-log/*"
                                    )
                                },
                            },
                        }
                    ],
                }
            ),
            tags=tags("flow-logs-role"),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=log_group.arn.apply(flow_logs_role_policy),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags("flow-log"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )


def validate_network_args(args: NetworkArgs) -> list[str]:
    """Every problem with a NetworkArgs, each naming the field, the rule and the value."""
    problems: list[str] = []
    zones = tuple(args.availability_zones)
    if len(zones) < MIN_AVAILABILITY_ZONES:
        problems.append(
            f"NetworkArgs.availability_zones needs at least {MIN_AVAILABILITY_ZONES} zones for "
            f"multi-AZ spread, got {len(zones)} ({', '.join(zones) or 'none'}); add a zone."
        )
    if len(set(zones)) != len(zones):
        problems.append(
            f"NetworkArgs.availability_zones lists a zone twice ({', '.join(zones)}); "
            "list each zone once."
        )
    if args.nat_strategy not in NAT_STRATEGIES:
        problems.append(
            f"NetworkArgs.nat_strategy must be one of {', '.join(NAT_STRATEGIES)}, "
            f"got {args.nat_strategy!r}."
        )
    else:
        expected_public = public_subnet_count(args.nat_strategy, len(zones))
        if len(args.subnet_plan.public) != expected_public:
            problems.append(
                f"NetworkArgs.subnet_plan.public has {len(args.subnet_plan.public)} blocks but "
                f"nat_strategy {args.nat_strategy!r} needs {expected_public}; "
                "plan the subnets with the same strategy."
            )
    for tier in ("app", "data"):
        blocks = getattr(args.subnet_plan, tier)
        if len(blocks) != len(zones):
            problems.append(
                f"NetworkArgs.subnet_plan.{tier} has {len(blocks)} blocks for {len(zones)} "
                "zones; plan one block per zone."
            )
    problems.extend(check_subnet_plan(args.vpc_cidr, args.subnet_plan))
    if not args.endpoint_services:
        problems.append(
            "NetworkArgs.endpoint_services is empty; list secretsmanager at least, since the "
            "functions read their secrets through it."
        )
    for service in args.endpoint_services:
        problem = endpoint_service_problem(service)
        if problem:
            problems.append(f"NetworkArgs.endpoint_services has {problem}")
    if not 1150 <= args.db_port <= 65535:
        problems.append(
            f"NetworkArgs.db_port must be within 1150-65535 as RDS requires, got {args.db_port}."
        )
    if args.flow_logs_retention_days not in LOG_RETENTION_DAYS:
        problems.append(
            f"NetworkArgs.flow_logs_retention_days must be a CloudWatch retention value "
            f"({', '.join(map(str, LOG_RETENTION_DAYS))}), got {args.flow_logs_retention_days}."
        )
    if not args.region:
        problems.append("NetworkArgs.region is empty; pass the region the provider deploys to.")
    return problems


def endpoint_service_problem(service: str) -> str | None:
    """Why `service` cannot be an interface endpoint of this network, worded to follow "<key>
    has ", or None when it can. The network builds the full name from the partition and the
    region, so a service is its short name: secretsmanager, kms, ecr.api."""
    if not isinstance(service, str) or not _SERVICE_NAME.match(service):
        return (
            f"{service!r}, which is not a service name; use short names such as secretsmanager, "
            "kms or ecr.api."
        )
    full = _FULL_SERVICE_NAME.match(service)
    if full or _SERVICE_PREFIX.match(service):
        short = full.group("service") if full else _SERVICE_PREFIX.sub("", service)
        return (
            f"{service!r}, a full endpoint service name; the network adds the prefix and the "
            f"region itself, so write only {short!r}."
        )
    if service in GATEWAY_ENDPOINT_SERVICES:
        return (
            f"{service!r}, which AWS serves through gateway endpoints; private DNS on its "
            "interface endpoint needs a gateway endpoint or DNS options this network does not "
            "build; remove it."
        )
    return None


def check_subnet_plan(vpc_cidr: str, plan: SubnetPlan) -> list[str]:
    """Problems with an already made plan: blocks outside the VPC or overlapping each other."""
    try:
        vpc = ipaddress.IPv4Network(vpc_cidr)
    except ValueError as exc:
        return [f"NetworkArgs.vpc_cidr {vpc_cidr!r} is not an IPv4 CIDR block: {exc}."]
    problems: list[str] = []
    blocks: list[tuple[str, ipaddress.IPv4Network]] = []
    for tier in ("app", "data", "public"):
        for cidr in getattr(plan, tier):
            try:
                network = ipaddress.IPv4Network(cidr)
            except ValueError as exc:
                problems.append(f"NetworkArgs.subnet_plan.{tier} has {cidr!r}: {exc}.")
                continue
            if not network.subnet_of(vpc):
                problems.append(
                    f"NetworkArgs.subnet_plan.{tier} block {cidr} is outside the VPC {vpc}."
                )
            blocks.append((tier, network))
    for index, (tier, network) in enumerate(blocks):
        for other_tier, other in blocks[index + 1 :]:
            if network.overlaps(other):
                problems.append(
                    f"NetworkArgs.subnet_plan.{tier} block {network} overlaps "
                    f"{other_tier} block {other}."
                )
    return problems


def public_subnet_count(nat_strategy: str, zone_count: int) -> int:
    """Public subnets exist only to hold NAT gateways: none, one, or one per zone."""
    return {"none": 0, "single": 1, "per-az": zone_count}[nat_strategy]


def proxy_ip_need(instance_class: str) -> int:
    """Free addresses to keep for RDS Proxy in front of an instance of this class."""
    match = _INSTANCE_SIZE.match(instance_class)
    if match is None:
        raise ValueError(
            f"instance class {instance_class!r} is not of the form db.<family>.<size>, "
            "such as db.t4g.micro or db.r6g.2xlarge"
        )
    multiple = int(match.group(1) or 1)
    for largest_multiple, addresses in PROXY_IPS_BY_XLARGE_MULTIPLE:
        if multiple <= largest_multiple:
            return addresses
    return PROXY_IPS_BY_XLARGE_MULTIPLE[-1][1]


def app_subnet_ip_need(
    tier_count: int,
    *,
    instance_class: str = "db.t4g.micro",
    endpoint_service_count: int = 1,
    extra_function_count: int = 1,
) -> int:
    """Addresses each app subnet must hold, AWS's reserved five included.

    Every tier has its own security group, and the bootstrap function another
    (`extra_function_count`), so each is one Hyperplane ENI per subnet, doubled for the
    replacement ENI during updates; then the proxy's addresses and one ENI per interface
    endpoint. Lambda adds ENIs to a combination only past tens of thousands of connections,
    which this does not count: a subnet sized at exactly this need has no room for that.
    """
    if tier_count < 0 or extra_function_count < 0 or endpoint_service_count < 0:
        raise ValueError("tier, function and endpoint counts cannot be negative")
    lambda_enis = (tier_count + extra_function_count) * LAMBDA_ENI_HEADROOM_FACTOR
    return (
        lambda_enis
        + proxy_ip_need(instance_class)
        + endpoint_service_count
        + AWS_RESERVED_IPS_PER_SUBNET
    )


def shortest_fitting_prefix(address_count: int) -> int:
    """The longest prefix (smallest block) with at least `address_count` addresses."""
    return 32 - max(0, math.ceil(math.log2(max(address_count, 1))))


def plan_subnets(
    vpc_cidr: str,
    az_count: int,
    app_ip_need: int,
    *,
    public_count: int,
    app_prefix_length: int = 24,
    data_prefix_length: int = 26,
    public_prefix_length: int = 28,
    app_cidrs: Sequence[str] = (),
    data_cidrs: Sequence[str] = (),
    public_cidrs: Sequence[str] = (),
    data_ip_need: int = DATA_SUBNET_IP_NEED,
    key_prefix: str = "",
) -> SubnetPlan:
    """Lay out app, data and public subnets inside the VPC block.

    Listed CIDRs are kept as given; the other blocks are cut from the free space, largest
    first, so blocks stay aligned. Raises NetworkPlanError with every problem found, each
    naming the stack config key (prefixed by `key_prefix`, e.g. "replica.") to change.
    """

    def key(name: str) -> str:
        return f"'{key_prefix}{name}'"

    problems: list[str] = []
    vpc = _parse_vpc(vpc_cidr, key("vpcCidr"), problems)
    if vpc is None:
        raise NetworkPlanError(problems)
    if az_count < 1:
        raise NetworkPlanError([f"{key('azCount')} must be at least 1, got {az_count}."])

    tiers = (
        ("app", az_count, app_prefix_length, tuple(app_cidrs), app_ip_need),
        ("data", az_count, data_prefix_length, tuple(data_cidrs), data_ip_need),
        ("public", public_count, public_prefix_length, tuple(public_cidrs), 0),
    )
    # When even the smallest subnets that hold each tier's need overflow the VPC, the VPC block
    # is the one thing to change, and no advice about subnet sizes could help.
    minimum = _minimum_layout(tiers)
    vpc_too_small = minimum.address_count > vpc.num_addresses
    if vpc_too_small:
        problems.append(
            f"{key('vpcCidr')} {vpc} has {vpc.num_addresses} addresses, too few for even the "
            f"smallest subnets that hold each tier's need ({minimum.summary}: "
            f"{minimum.address_count} addresses); "
            + _vpc_size_fix(minimum.address_count, "fewer zones")
        )
    subnet_count = sum(len(listed) or count for _, count, _, listed, _ in tiers)

    fixed: list[tuple[str, ipaddress.IPv4Network]] = []
    wanted: list[tuple[str, int, int]] = []
    for tier, count, prefix_length, listed, ip_need in tiers:
        prefix_key = key(f"{tier}SubnetPrefixLength")
        cidrs_key = key(f"{tier}SubnetCidrs")
        if listed:
            if len(listed) != count:
                problems.append(
                    f"{cidrs_key} lists {len(listed)} blocks but {count} {tier} subnets are "
                    f"needed; list {count} blocks or remove the key to plan them automatically."
                )
            for cidr in listed:
                network = _parse_subnet(cidr, cidrs_key, vpc, problems)
                if network is None:
                    continue
                if network.num_addresses < ip_need:
                    problems.append(
                        f"{cidrs_key} block {network} is too small: {tier} subnets need "
                        f"{ip_need} addresses (AWS's reserved 5 included), it has "
                        f"{network.num_addresses}; use a /{shortest_fitting_prefix(ip_need)} "
                        "or larger."
                    )
                fixed.append((tier, network))
            continue
        if count == 0:
            continue
        if not SHORTEST_PREFIX_LENGTH <= prefix_length <= LONGEST_PREFIX_LENGTH:
            problems.append(
                f"{prefix_key} must be between {SHORTEST_PREFIX_LENGTH} and "
                f"{LONGEST_PREFIX_LENGTH} (AWS subnet sizes), got {prefix_length}."
            )
            continue
        if 2 ** (32 - prefix_length) < ip_need:
            problems.append(
                f"{prefix_key} /{prefix_length} leaves each {tier} subnet too small: it needs "
                f"{ip_need} addresses (AWS's reserved 5 included), a /{prefix_length} has "
                f"{2 ** (32 - prefix_length)}; use /{shortest_fitting_prefix(ip_need)} or a "
                "shorter prefix."
            )
            continue
        if prefix_length < vpc.prefixlen:
            if not vpc_too_small:
                # From the size that fits every subnet of the plan at one common size, down to
                # the smallest that still holds this tier's need; the minimum layout above
                # fits, so the range is never empty.
                longest = min(LONGEST_PREFIX_LENGTH, shortest_fitting_prefix(ip_need))
                shortest = min(vpc.prefixlen + math.ceil(math.log2(subnet_count)), longest)
                sizes = f"/{longest}" if shortest == longest else f"/{shortest} to /{longest}"
                problems.append(
                    f"{prefix_key} /{prefix_length} is larger than the VPC block {vpc}; use "
                    f"{sizes}."
                )
            continue
        wanted.extend((tier, index, prefix_length) for index in range(count))

    for index, (tier, network) in enumerate(fixed):
        for other_tier, other in fixed[index + 1 :]:
            if network.overlaps(other):
                problems.append(
                    f"{key(f'{tier}SubnetCidrs')} block {network} overlaps "
                    f"{key(f'{other_tier}SubnetCidrs')} block {other}; give each subnet its "
                    "own block."
                )
    if problems:
        raise NetworkPlanError(problems)

    taken = [network for _, network in fixed]
    listed_address_count = sum(network.num_addresses for network in taken)
    allocated: dict[str, list[ipaddress.IPv4Network]] = {"app": [], "data": [], "public": []}
    for tier, _, prefix_length in sorted(wanted, key=lambda item: item[2]):
        block = _first_free_block(vpc, prefix_length, taken)
        if block is None:
            needed = listed_address_count + sum(2 ** (32 - length) for _, _, length in wanted)
            summary = ", ".join(
                f"{sum(1 for t, _, _ in wanted if t == name)} {name} /{length}"
                for name, length in sorted({(t, length) for t, _, length in wanted})
            )
            if needed <= vpc.num_addresses:
                fix = (
                    "the listed blocks leave no aligned room for the rest; move them, or "
                    "remove the CIDR lists and let the program plan every subnet."
                )
            else:
                fix = _vpc_size_fix(needed, "smaller subnets (longer prefix lengths)")
            raise NetworkPlanError(
                [
                    f"{key('vpcCidr')} {vpc} has {vpc.num_addresses} addresses and cannot hold "
                    f"the subnets ({summary}; {needed} addresses with any listed blocks); {fix}"
                ]
            )
        taken.append(block)
        allocated[tier].append(block)

    def blocks(tier: str, listed: Sequence[str]) -> tuple[str, ...]:
        if listed:
            return tuple(str(ipaddress.IPv4Network(cidr)) for cidr in listed)
        return tuple(str(network) for network in allocated[tier])

    return SubnetPlan(
        app=blocks("app", app_cidrs),
        data=blocks("data", data_cidrs),
        public=blocks("public", public_cidrs),
        app_ip_need=app_ip_need,
    )


def data_acl_entries(
    app_cidrs: Sequence[str], db_port: int
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """NACL entries for the data subnets: the DB port in from each app subnet, and the
    answers out to the app subnets' ephemeral ports. Everything else hits the implicit deny."""
    ingress: list[dict[str, object]] = []
    egress: list[dict[str, object]] = []
    for index, cidr in enumerate(app_cidrs):
        rule_number = 100 + 10 * index
        ingress.append(
            {
                "rule_no": rule_number,
                "action": "allow",
                "protocol": "tcp",
                "cidr_block": cidr,
                "from_port": db_port,
                "to_port": db_port,
            }
        )
        egress.append(
            {
                "rule_no": rule_number,
                "action": "allow",
                "protocol": "tcp",
                "cidr_block": cidr,
                "from_port": EPHEMERAL_PORTS[0],
                "to_port": EPHEMERAL_PORTS[1],
            }
        )
    return ingress, egress


def flow_logs_role_policy(log_group_arn: str) -> str:
    """The flow-logs role may write to its own log group and nowhere else.

    AWS's documented policy also lists logs:CreateLogGroup and logs:DescribeLogGroups; the group
    exists before the flow log, so they are left out. Not yet tried against a real account."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteFlowLogs",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
                }
            ],
        }
    )


def _parse_vpc(cidr: str, key: str, problems: list[str]) -> ipaddress.IPv4Network | None:
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError:
        hint = ""
        try:
            hint = f"; did you mean {ipaddress.ip_network(cidr, strict=False)}?"
        except ValueError:
            hint = "; write it like 10.20.0.0/16"
        problems.append(f"{key} must be an IPv4 CIDR block, got {cidr!r}{hint}")
        return None
    if not isinstance(network, ipaddress.IPv4Network):
        problems.append(f"{key} must be an IPv4 block (AWS VPCs start with IPv4), got {cidr}.")
        return None
    if not SHORTEST_PREFIX_LENGTH <= network.prefixlen <= LONGEST_PREFIX_LENGTH:
        problems.append(
            f"{key} must be a /{SHORTEST_PREFIX_LENGTH} to /{LONGEST_PREFIX_LENGTH} block "
            f"as AWS requires, got {cidr}; use e.g. 10.20.0.0/16."
        )
        return None
    if not any(network.subnet_of(space) for space in VPC_ADDRESS_SPACES):
        problems.append(
            f"{key} {cidr} is outside the private ranges a VPC uses; pick a block inside "
            f"{', '.join(map(str, VPC_ADDRESS_SPACES))}, e.g. 10.20.0.0/16."
        )
        return None
    return network


def _parse_subnet(
    cidr: str, key: str, vpc: ipaddress.IPv4Network, problems: list[str]
) -> ipaddress.IPv4Network | None:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError:
        problems.append(
            f"{key} has {cidr!r}, which is not an IPv4 CIDR block such as 10.20.0.0/24."
        )
        return None
    if not SHORTEST_PREFIX_LENGTH <= network.prefixlen <= LONGEST_PREFIX_LENGTH:
        problems.append(
            f"{key} block {cidr} must be a /{SHORTEST_PREFIX_LENGTH} to "
            f"/{LONGEST_PREFIX_LENGTH} as AWS requires."
        )
        return None
    if not network.subnet_of(vpc):
        problems.append(f"{key} block {cidr} is outside the VPC block {vpc}; pick one inside it.")
        return None
    return network


@dataclass(frozen=True)
class _MinimumLayout:
    address_count: int
    summary: str


def _minimum_layout(tiers: Sequence[tuple[str, int, int, tuple[str, ...], int]]) -> _MinimumLayout:
    """The smallest plan that could work: listed blocks as they are, and every other subnet at
    the smallest size AWS allows that still holds its tier's need."""
    address_count = 0
    parts: list[str] = []
    for tier, count, _, listed, ip_need in tiers:
        if listed:
            sizes = []
            for cidr in listed:
                try:
                    sizes.append(ipaddress.IPv4Network(cidr).num_addresses)
                except ValueError:
                    continue  # reported with the key by the caller
            address_count += sum(sizes)
            parts.append(f"{len(listed)} listed {tier}")
        elif count:
            prefix_length = min(LONGEST_PREFIX_LENGTH, shortest_fitting_prefix(ip_need))
            address_count += count * 2 ** (32 - prefix_length)
            parts.append(f"{count} {tier} /{prefix_length}")
    return _MinimumLayout(address_count, ", ".join(parts))


def _vpc_size_fix(address_count: int, alternative: str) -> str:
    """Advice for a VPC too small for `address_count` addresses, within the sizes AWS allows."""
    prefix_length = shortest_fitting_prefix(address_count)
    if prefix_length >= SHORTEST_PREFIX_LENGTH:
        return f"use a /{prefix_length} or larger VPC block, or {alternative}."
    return (
        f"more than a /{SHORTEST_PREFIX_LENGTH} (the largest VPC block AWS allows) holds; "
        f"use {alternative}."
    )


def _first_free_block(
    vpc: ipaddress.IPv4Network, prefix_length: int, taken: Sequence[ipaddress.IPv4Network]
) -> ipaddress.IPv4Network | None:
    for candidate in vpc.subnets(new_prefix=prefix_length):
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    return None
