"""Network: the pure CIDR planning and IP-need functions, and the component under mocks."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace

import pytest

from components.network import (
    AWS_RESERVED_IPS_PER_SUBNET,
    EPHEMERAL_PORTS,
    Network,
    NetworkArgs,
    NetworkArgsError,
    NetworkPlanError,
    SubnetPlan,
    app_subnet_ip_need,
    data_acl_entries,
    endpoint_service_problem,
    plan_subnets,
    proxy_ip_need,
    public_subnet_count,
)
from tests.support.pulumi_mocks import ACCOUNT_ID, REGION, ProgramRun, run_program

KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/0b9c6f0e-7d7c-4b5e-9a51-2f4f0c1d2e3a"
ZONES = (f"{REGION}a", f"{REGION}b")

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"
IGW = "aws:ec2/internetGateway:InternetGateway"
EIP = "aws:ec2/eip:Eip"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
ACL = "aws:ec2/networkAcl:NetworkAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"


# --- pure planning -------------------------------------------------------------------------


def test_app_subnet_ip_need_counts_enis_proxy_endpoints_and_reserved():
    # (2 tiers + bootstrap) x 2 for ENI replacement + 10 for the proxy + 1 endpoint + 5 reserved.
    assert app_subnet_ip_need(2) == 3 * 2 + 10 + 1 + AWS_RESERVED_IPS_PER_SUBNET == 22


def test_app_subnet_ip_need_grows_with_tiers_endpoints_and_instance_size():
    base = app_subnet_ip_need(2)

    assert app_subnet_ip_need(3) == base + 2
    assert app_subnet_ip_need(2, endpoint_service_count=4) == base + 3
    assert app_subnet_ip_need(2, instance_class="db.r6g.4xlarge") == base + 25 - 10


@pytest.mark.parametrize(
    ("instance_class", "addresses"),
    [
        ("db.t4g.micro", 10),
        ("db.m6g.large", 10),
        ("db.r6g.xlarge", 10),
        ("db.r6g.2xlarge", 15),
        ("db.r6g.4xlarge", 25),
        ("db.r6i.12xlarge", 60),
        ("db.r6i.24xlarge", 110),
        ("db.r6i.32xlarge", 110),
    ],
)
def test_proxy_ip_need_follows_the_instance_size(instance_class, addresses):
    assert proxy_ip_need(instance_class) == addresses


def test_proxy_ip_need_rejects_a_malformed_class():
    with pytest.raises(ValueError, match="db.<family>.<size>"):
        proxy_ip_need("t4g.micro")


def test_plan_subnets_fits_blocks_inside_the_vpc_without_overlap():
    plan = plan_subnets("10.20.0.0/16", 3, 22, public_count=3)

    blocks = [ipaddress.IPv4Network(c) for c in plan.app + plan.data + plan.public]
    vpc = ipaddress.IPv4Network("10.20.0.0/16")
    assert all(block.subnet_of(vpc) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert [ipaddress.IPv4Network(c).prefixlen for c in plan.app] == [24, 24, 24]
    assert [ipaddress.IPv4Network(c).prefixlen for c in plan.data] == [26, 26, 26]
    assert [ipaddress.IPv4Network(c).prefixlen for c in plan.public] == [28, 28, 28]
    assert plan.app_ip_need == 22


def test_plan_subnets_keeps_listed_blocks_and_plans_around_them():
    plan = plan_subnets(
        "10.0.0.0/22",
        2,
        22,
        public_count=1,
        app_cidrs=["10.0.0.0/24", "10.0.2.0/24"],
    )

    assert plan.app == ("10.0.0.0/24", "10.0.2.0/24")
    assert plan.data == ("10.0.1.0/26", "10.0.1.64/26")
    assert plan.public == ("10.0.1.128/28",)


def test_plan_subnets_with_no_nat_has_no_public_blocks():
    assert plan_subnets("10.0.0.0/16", 2, 22, public_count=0).public == ()
    assert public_subnet_count("none", 3) == 0
    assert public_subnet_count("single", 3) == 1
    assert public_subnet_count("per-az", 3) == 3


def test_plan_subnets_rejects_a_plan_that_does_not_fit():
    with pytest.raises(NetworkPlanError) as caught:
        plan_subnets("10.0.0.0/24", 2, 22, public_count=1)

    (problem,) = caught.value.problems
    assert problem.startswith("'vpcCidr' 10.0.0.0/24 has 256 addresses and cannot hold")
    assert "2 app /24" in problem and "use a /22 or larger VPC block" in problem


def test_plan_subnets_vpc_too_small_for_any_legal_subnets_asks_for_a_larger_vpc():
    # GIVEN a /28 VPC: one app subnet alone needs a /27
    with pytest.raises(NetworkPlanError) as caught:
        plan_subnets("10.0.0.0/28", 2, 22, public_count=1, app_prefix_length=24)

    # THEN one problem, about the VPC, with a size AWS accepts (no /30 subnets)
    (problem,) = caught.value.problems
    assert problem.startswith("'vpcCidr' 10.0.0.0/28 has 16 addresses, too few")
    assert "2 app /27, 2 data /28, 1 public /28: 112 addresses" in problem
    assert "use a /25 or larger VPC block, or fewer zones" in problem


def test_plan_subnets_subnets_larger_than_the_vpc_get_sizes_that_fit_and_hold_the_need():
    with pytest.raises(NetworkPlanError) as caught:
        plan_subnets("10.0.0.0/20", 2, 22, public_count=1, app_prefix_length=18)

    # 5 subnets fit at /23 each; an app subnet must hold 22 addresses, so /27 at the smallest.
    (problem,) = caught.value.problems
    assert (
        problem
        == "'appSubnetPrefixLength' /18 is larger than the VPC block 10.0.0.0/20; use /23 to /27."
    )


def test_plan_subnets_beyond_the_largest_vpc_asks_for_smaller_subnets_not_a_larger_vpc():
    with pytest.raises(NetworkPlanError) as caught:
        plan_subnets("10.0.0.0/16", 2, 22, public_count=1, app_prefix_length=16)

    (problem,) = caught.value.problems
    assert "more than a /16 (the largest VPC block AWS allows) holds" in problem
    assert "use smaller subnets" in problem
    assert "/14" not in problem and "/15" not in problem


def test_plan_subnets_rejects_overlapping_listed_blocks():
    with pytest.raises(NetworkPlanError) as caught:
        plan_subnets(
            "10.0.0.0/16",
            2,
            22,
            public_count=0,
            app_cidrs=["10.0.0.0/24", "10.0.1.0/24"],
            data_cidrs=["10.0.1.0/26", "10.0.2.0/26"],
        )

    (problem,) = caught.value.problems
    assert "'appSubnetCidrs' block 10.0.1.0/24 overlaps 'dataSubnetCidrs' block 10.0.1.0/26" in (
        problem
    )


def test_plan_subnets_rejects_subnets_too_small_for_the_ip_need():
    with pytest.raises(NetworkPlanError) as caught:
        plan_subnets("10.0.0.0/16", 2, 40, public_count=0, app_prefix_length=27)

    (problem,) = caught.value.problems
    assert problem.startswith("'appSubnetPrefixLength' /27 leaves each app subnet too small")
    assert "needs 40 addresses" in problem and "use /26" in problem


def test_plan_subnets_rejects_listed_blocks_too_small_outside_or_miscounted():
    with pytest.raises(NetworkPlanError) as caught:
        plan_subnets(
            "10.0.0.0/16",
            2,
            40,
            public_count=0,
            app_cidrs=["10.0.0.0/27", "10.1.0.0/24", "10.0.3.0/24"],
        )

    problems = caught.value.problems
    assert any("lists 3 blocks but 2 app subnets are needed" in p for p in problems)
    assert any("10.0.0.0/27 is too small" in p for p in problems)
    assert any("10.1.0.0/24 is outside the VPC block 10.0.0.0/16" in p for p in problems)
    assert all(p.startswith("'appSubnetCidrs'") for p in problems)


@pytest.mark.parametrize(
    ("vpc_cidr", "expected"),
    [
        ("10.0.0.1/16", "did you mean 10.0.0.0/16"),
        ("10.0.0.0/8", "must be a /16 to /28 block"),
        ("8.8.0.0/16", "outside the private ranges a VPC uses"),
        # Python calls these private, but none of them can be a VPC.
        ("169.254.0.0/16", "outside the private ranges a VPC uses"),
        ("127.0.0.0/16", "outside the private ranges a VPC uses"),
        ("198.18.0.0/16", "outside the private ranges a VPC uses"),
        ("240.0.0.0/16", "outside the private ranges a VPC uses"),
        ("0.0.0.0/16", "outside the private ranges a VPC uses"),
        ("fd00::/56", "must be an IPv4 block"),
        ("ten-dot-zero", "write it like 10.20.0.0/16"),
    ],
)
def test_plan_subnets_rejects_a_bad_vpc_block(vpc_cidr, expected):
    with pytest.raises(NetworkPlanError, match="'vpcCidr'") as caught:
        plan_subnets(vpc_cidr, 2, 22, public_count=1)

    assert expected in str(caught.value)


@pytest.mark.parametrize(
    "vpc_cidr", ["10.99.0.0/16", "172.31.0.0/16", "192.168.0.0/16", "100.64.0.0/16"]
)
def test_plan_subnets_accepts_each_vpc_address_space(vpc_cidr):
    assert plan_subnets(vpc_cidr, 2, 22, public_count=1).app


def test_plan_subnets_names_keys_with_the_given_prefix():
    with pytest.raises(NetworkPlanError, match=r"^'replica\.vpcCidr' 10\.0\.0\.0/24"):
        plan_subnets("10.0.0.0/24", 2, 22, public_count=0, key_prefix="replica.")


def test_data_acl_entries_admit_the_db_port_and_answer_to_ephemeral_ports():
    ingress, egress = data_acl_entries(["10.0.0.0/24", "10.0.1.0/24"], 5432)

    assert [(e["cidr_block"], e["from_port"], e["to_port"]) for e in ingress] == [
        ("10.0.0.0/24", 5432, 5432),
        ("10.0.1.0/24", 5432, 5432),
    ]
    assert [(e["cidr_block"], e["from_port"], e["to_port"]) for e in egress] == [
        ("10.0.0.0/24", *EPHEMERAL_PORTS),
        ("10.0.1.0/24", *EPHEMERAL_PORTS),
    ]
    assert {e["protocol"] for e in ingress + egress} == {"tcp"}
    assert {e["action"] for e in ingress + egress} == {"allow"}
    assert len({e["rule_no"] for e in ingress}) == 2


# --- the component -------------------------------------------------------------------------


def network_args(nat_strategy: str = "single", zones=ZONES, **overrides) -> NetworkArgs:
    plan = plan_subnets(
        "10.20.0.0/16",
        len(zones),
        22,
        public_count=public_subnet_count(nat_strategy, len(zones)),
    )
    fields = dict(
        vpc_cidr="10.20.0.0/16",
        availability_zones=tuple(zones),
        subnet_plan=plan,
        region=REGION,
        kms_key_arn=KMS_KEY_ARN,
        nat_strategy=nat_strategy,
        endpoint_services=("secretsmanager", "ssm"),
        db_port=5432,
        flow_logs_retention_days=30,
    )
    fields.update(overrides)
    return NetworkArgs(**fields)


def build_network(args: NetworkArgs) -> ProgramRun:
    def program():
        network = Network("net", args)
        return {
            "vpc_id": network.vpc_id,
            "app": network.app_subnet_ids,
            "data": network.data_subnet_ids,
            "public": network.public_subnet_ids,
            "endpoints_sg": network.endpoints_security_group_id,
            "zones": network.availability_zones,
        }

    run = run_program(program)
    assert run.error is None, run.user_message
    return run


@pytest.fixture(scope="module")
def single_nat() -> ProgramRun:
    return build_network(network_args("single"))


def _subnets(run: ProgramRun, tier: str):
    return [r for r in run.of_type(SUBNET) if r.inputs["tags"]["tier"] == tier]


def test_network_vpc_has_dns_support_and_hostnames(single_nat):
    vpc = single_nat.one(VPC)

    assert vpc.inputs["cidrBlock"] == "10.20.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True
    assert single_nat.result["vpc_id"] == vpc.id


def test_network_app_and_data_subnets_span_every_zone(single_nat):
    for tier in ("app", "data"):
        subnets = _subnets(single_nat, tier)
        assert sorted(s.inputs["availabilityZone"] for s in subnets) == list(ZONES)
        assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
        assert sorted(single_nat.result[tier]) == sorted(s.id for s in subnets)
    assert single_nat.result["zones"] == list(ZONES)


def test_network_every_child_is_parented_to_the_component(single_nat):
    (component,) = [
        r for r in single_nat.resources if r.type == "lambda-private-db:network:Network"
    ]

    children = [r for r in single_nat.resources if r is not component]
    assert children
    assert all(r.parent == component.urn for r in children)
    assert all(r.name.startswith("net-") for r in children)


def test_network_data_subnets_have_no_route_out(single_nat):
    data_ids = {s.id for s in _subnets(single_nat, "data")}
    data_tables = {
        a.inputs["routeTableId"]
        for a in single_nat.of_type(ASSOCIATION)
        if a.inputs["subnetId"] in data_ids
    }

    assert len(data_tables) == 1
    assert not [r for r in single_nat.of_type(ROUTE) if r.inputs["routeTableId"] in data_tables]


def test_network_single_nat_serves_every_app_zone(single_nat):
    (nat,) = single_nat.of_type(NAT)
    (public,) = _subnets(single_nat, "public")
    app_ids = {s.id for s in _subnets(single_nat, "app")}
    app_tables = {
        a.inputs["routeTableId"]
        for a in single_nat.of_type(ASSOCIATION)
        if a.inputs["subnetId"] in app_ids
    }
    app_routes = [r for r in single_nat.of_type(ROUTE) if r.inputs["routeTableId"] in app_tables]

    assert nat.inputs["subnetId"] == public.id
    assert len(app_tables) == 2
    assert [r.inputs["natGatewayId"] for r in app_routes] == [nat.id, nat.id]
    assert all(r.inputs["destinationCidrBlock"] == "0.0.0.0/0" for r in app_routes)
    igw_route = [r for r in single_nat.of_type(ROUTE) if "gatewayId" in r.inputs]
    assert [r.inputs["gatewayId"] for r in igw_route] == [single_nat.one(IGW).id]


def test_network_single_nat_warns_that_every_zone_depends_on_one_gateway(single_nat):
    warnings = [message for level, message in single_nat.logs if level == "warning"]

    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"All 2 zones of the VPC ({REGION}) leave through the one NAT gateway in {ZONES[0]}"
    )
    assert "Set NetworkArgs.nat_strategy to per-az" in warnings[0]


def test_network_single_nat_warning_names_the_label_and_setting_it_is_given():
    # GIVEN a network the caller names, and the config key its users set the strategy with
    run = build_network(
        network_args(
            "single",
            label="the replica region's network",
            nat_strategy_setting="'app:replica.natStrategy'",
        )
    )

    (warning,) = [message for level, message in run.logs if level == "warning"]
    assert warning.startswith(f"All 2 zones of the replica region's network ({REGION})")
    assert "Set 'app:replica.natStrategy' to per-az" in warning
    assert "NetworkArgs" not in warning


def test_network_per_az_nat_routes_each_zone_through_its_own_gateway():
    zones = (f"{REGION}a", f"{REGION}b", f"{REGION}c")
    run = build_network(network_args("per-az", zones=zones))

    nats = {n.inputs["subnetId"]: n for n in run.of_type(NAT)}
    public_by_zone = {s.inputs["availabilityZone"]: s.id for s in _subnets(run, "public")}
    table_by_subnet = {
        a.inputs["subnetId"]: a.inputs["routeTableId"] for a in run.of_type(ASSOCIATION)
    }
    route_by_table = {r.inputs["routeTableId"]: r for r in run.of_type(ROUTE)}

    assert len(nats) == 3 and len(run.of_type(EIP)) == 3
    for app in _subnets(run, "app"):
        zone = app.inputs["availabilityZone"]
        route = route_by_table[table_by_subnet[app.id]]
        assert route.inputs["natGatewayId"] == nats[public_by_zone[zone]].id


def test_network_without_nat_has_no_public_path_at_all():
    run = build_network(network_args("none"))

    assert run.of_type(NAT) == [] and run.of_type(IGW) == [] and run.of_type(EIP) == []
    assert _subnets(run, "public") == []
    assert run.of_type(ROUTE) == []
    assert run.result["public"] == []
    assert not [message for level, message in run.logs if level == "warning"]


def test_network_endpoints_use_private_dns_in_app_subnets_behind_their_group(single_nat):
    endpoints = sorted(single_nat.of_type(ENDPOINT), key=lambda r: r.inputs["serviceName"])
    group = single_nat.one(SG)
    app_ids = sorted(s.id for s in _subnets(single_nat, "app"))

    assert [e.inputs["serviceName"] for e in endpoints] == [
        f"com.amazonaws.{REGION}.secretsmanager",
        f"com.amazonaws.{REGION}.ssm",
    ]
    for endpoint in endpoints:
        assert endpoint.inputs["vpcEndpointType"] == "Interface"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert sorted(endpoint.inputs["subnetIds"]) == app_ids
        assert endpoint.inputs["securityGroupIds"] == [group.id]
    # The tiers add their own 443 rules; the group itself has none, and no CIDR anywhere.
    assert "ingress" not in group.inputs and "egress" not in group.inputs
    assert single_nat.result["endpoints_sg"] == group.id


def test_network_default_security_group_is_managed_with_no_rules(single_nat):
    default_group = single_nat.one(DEFAULT_SG)

    assert default_group.inputs["vpcId"] == single_nat.one(VPC).id
    assert not default_group.inputs.get("ingress")
    assert not default_group.inputs.get("egress")


def test_network_data_acl_admits_only_the_db_port_from_app_subnets(single_nat):
    acl = single_nat.one(ACL)
    app_cidrs = sorted(s.inputs["cidrBlock"] for s in _subnets(single_nat, "app"))

    assert sorted(acl.inputs["subnetIds"]) == sorted(s.id for s in _subnets(single_nat, "data"))
    assert sorted((e["cidrBlock"], e["fromPort"], e["toPort"]) for e in acl.inputs["ingress"]) == [
        (cidr, 5432, 5432) for cidr in app_cidrs
    ]
    assert sorted((e["cidrBlock"], e["fromPort"], e["toPort"]) for e in acl.inputs["egress"]) == [
        (cidr, 1024, 65535) for cidr in app_cidrs
    ]


def test_network_flow_logs_go_to_an_encrypted_group_through_a_scoped_role(single_nat):
    log_group = single_nat.one(LOG_GROUP)
    role = single_nat.one(ROLE)
    policy = single_nat.one(ROLE_POLICY)
    flow_log = single_nat.one(FLOW_LOG)

    assert log_group.inputs["kmsKeyId"] == KMS_KEY_ARN
    assert log_group.inputs["retentionInDays"] == 30

    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}

    statements = json.loads(policy.inputs["policy"])["Statement"]
    log_group_arn = log_group.state["arn"]
    assert policy.inputs["role"] == role.id
    assert [s["Resource"] for s in statements] == [[log_group_arn, f"{log_group_arn}:log-stream:*"]]
    assert all("*" not in action for s in statements for action in s["Action"])

    assert flow_log.inputs["vpcId"] == single_nat.one(VPC).id
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestination"] == log_group_arn
    assert flow_log.inputs["iamRoleArn"] == role.state["arn"]
    assert policy.urn in flow_log.dependencies  # no flow log before its role may write


def test_network_args_name_every_bad_field():
    good = network_args("single")

    with pytest.raises(NetworkArgsError) as caught:
        replace(
            good,
            availability_zones=(f"{REGION}a",),
            nat_strategy="double",
            endpoint_services=(),
            db_port=80,
            flow_logs_retention_days=10,
        )

    message = str(caught.value)
    for field_name in (
        "availability_zones",
        "nat_strategy",
        "subnet_plan.app",
        "endpoint_services",
        "db_port",
        "flow_logs_retention_days",
    ):
        assert f"NetworkArgs.{field_name}" in message


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("com.amazonaws.us-east-1.kms", "write only 'kms'"),
        ("cn.com.amazonaws.cn-north-1.ecr.api", "write only 'ecr.api'"),
        ("us-east-1.ssm", "write only 'ssm'"),
        ("s3", "gateway endpoints"),
        ("dynamodb", "gateway endpoints"),
        ("Secrets Manager", "not a service name"),
    ],
)
def test_network_args_reject_full_gateway_and_malformed_endpoint_services(service, expected):
    with pytest.raises(NetworkArgsError) as caught:
        network_args("single", endpoint_services=("secretsmanager", service))

    assert f"NetworkArgs.endpoint_services has {service!r}" in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize("service", ["secretsmanager", "kms", "ecr.api", "execute-api", "logs"])
def test_endpoint_service_problem_accepts_short_service_names(service):
    assert endpoint_service_problem(service) is None


def test_network_args_reject_a_plan_that_overlaps_or_leaves_the_vpc():
    plan = SubnetPlan(
        app=("10.20.0.0/24", "10.20.0.128/25"),
        data=("10.20.2.0/26", "10.99.0.0/26"),
        public=("10.20.3.0/28",),
        app_ip_need=22,
    )

    with pytest.raises(NetworkArgsError) as caught:
        network_args("single", subnet_plan=plan)

    message = str(caught.value)
    assert "app block 10.20.0.0/24 overlaps app block 10.20.0.128/25" in message
    assert "data block 10.99.0.0/26 is outside the VPC 10.20.0.0/16" in message
