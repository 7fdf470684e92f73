"""Multi-AZ policies, driven through the real pack process."""

from __future__ import annotations

from tests.policies.conftest import (
    PACK_DIR,
    expect_unverified,
    expect_violation,
    mandatory,
    of_policy,
)
from tests.policies.factory import REGION, added, baseline, changed
from tools.analyzer import UNKNOWN, load_policy_config


def one_zone(first_preview: bool = False):
    """The baseline with both subnets in the same zone."""
    return changed(baseline(first_preview), "subnet-b", availabilityZone=f"{REGION}a")


def test_lambda_subnets_multi_az_one_zone_fails(pack):
    diagnostics = pack.run(one_zone())

    expect_violation(
        diagnostics,
        "lambda-subnets-multi-az",
        "fn",
        "vpcConfig.subnetIds spans 1 (eu-west-1a)",
        also=frozenset({"db-subnet-group-multi-az", "rds-proxy-subnets-multi-az"}),
    )


def test_lambda_subnets_multi_az_first_preview_resolves_subnets(pack):
    # GIVEN unknown subnet IDs (first preview): zones come from the subnets' inputs
    assert of_policy(pack.run(baseline(first_preview=True)), "lambda-subnets-multi-az") == []
    expect_violation(
        pack.run(one_zone(first_preview=True)),
        "lambda-subnets-multi-az",
        "fn",
        "spans 1",
        also=frozenset({"db-subnet-group-multi-az", "rds-proxy-subnets-multi-az"}),
    )


def test_lambda_subnets_multi_az_subnets_outside_stack_noted(pack):
    vpc_config = {
        "subnetIds": ["subnet-0123", "subnet-0456"],
        "securityGroupIds": ["sg-0111111111111111a"],
    }
    stack = changed(baseline(), "fn", vpcConfig=vpc_config, deps={"vpcConfig": ["lambda-sg"]})

    expect_unverified(
        pack.run(stack), "lambda-subnets-multi-az", "its subnets are not resources of this stack"
    )


def test_lambda_subnets_multi_az_unknown_zone_noted(pack):
    stack = changed(one_zone(first_preview=True), "subnet-b", availabilityZone=UNKNOWN)

    diagnostics = of_policy(pack.run(stack), "lambda-subnets-multi-az")

    assert [d.level for d in diagnostics] == ["advisory"]
    assert "zones of the others are unknown" in diagnostics[0].message


def test_lambda_subnets_multi_az_config_three_zones(pack):
    with pack.configured({"lambda-subnets-multi-az": {"minAzCount": 3}}):
        diagnostics = pack.run(baseline())

    expect_violation(diagnostics, "lambda-subnets-multi-az", "fn", "at least 3 availability zones")


def test_lambda_subnets_multi_az_function_outside_vpc_passes(pack):
    stack = changed(baseline(), "fn", remove=["vpcConfig"])

    assert of_policy(pack.run(stack), "lambda-subnets-multi-az") == []


def test_lambda_subnets_multi_az_stack_without_functions_not_applicable(pack):
    stack = {n: r for n, r in baseline().items() if n != "fn"}

    assert (
        "lambda-subnets-multi-az"
        in pack.process.analyze_stack_result(stack.values()).not_applicable
    )


def test_db_subnet_group_multi_az_one_zone_fails(pack):
    diagnostics = pack.run(one_zone())

    expect_violation(
        diagnostics,
        "db-subnet-group-multi-az",
        "db-subnets",
        "subnetIds spans 1",
        also=frozenset({"lambda-subnets-multi-az", "rds-proxy-subnets-multi-az"}),
    )


def test_db_subnet_group_multi_az_single_subnet_fails(pack):
    stack = changed(
        baseline(),
        "db-subnets",
        subnetIds=["subnet-0aaaaaaaaaaaaaaa1"],
        deps={"subnetIds": ["subnet-a"]},
    )

    expect_violation(
        pack.run(stack),
        "db-subnet-group-multi-az",
        "db-subnets",
        "DB subnet group 'db-subnets' must use subnets in at least 2",
    )


def test_db_subnet_group_multi_az_stack_without_groups_not_applicable(pack):
    stack = {n: r for n, r in baseline().items() if n != "db-subnets"}

    assert (
        "db-subnet-group-multi-az"
        in pack.process.analyze_stack_result(stack.values()).not_applicable
    )


def test_rds_proxy_subnets_multi_az_one_zone_fails(pack):
    stack = changed(
        baseline(first_preview=True),
        "proxy",
        vpcSubnetIds=[UNKNOWN],
        deps={"vpcSubnetIds": ["subnet-a"]},
    )

    diagnostics = pack.run(stack)

    expect_violation(diagnostics, "rds-proxy-subnets-multi-az", "proxy", "vpcSubnetIds spans 1")


def test_rds_proxy_subnets_multi_az_stack_without_proxy_not_applicable(pack):
    stack = {n: r for n, r in baseline().items() if n != "proxy"}

    assert (
        "rds-proxy-subnets-multi-az"
        in pack.process.analyze_stack_result(stack.values()).not_applicable
    )


def test_rds_instance_multi_az_single_az_advisory_by_default(pack):
    stack = changed(baseline(), "db", multiAz=False)

    diagnostics = pack.run(stack)

    note = expect_violation(
        diagnostics, "rds-instance-multi-az", "db", "multiAz is false", level="advisory"
    )
    assert "set multiAz to true" in note.message
    assert mandatory(diagnostics) == []


def test_rds_instance_multi_az_mandatory_through_config(pack):
    stack = changed(baseline(), "db", multiAz=False)

    with pack.configured({"rds-instance-multi-az": "mandatory"}):
        diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "rds-instance-multi-az", "db", "multiAz is false", level="mandatory"
    )


def test_rds_instance_multi_az_unknown_noted(pack):
    stack = changed(baseline(first_preview=True), "db", multiAz=UNKNOWN)

    expect_unverified(
        pack.run(stack), "rds-instance-multi-az", "multiAz of RDS instance 'db'", resource_name="db"
    )


def test_rds_instance_multi_az_replica_exempt_unless_configured(pack):
    replica = {"replicateSourceDb": "app-db", "instanceClass": "db.t4g.medium", "multiAz": False}
    stack = added(baseline(), "db-replica", "aws:rds/instance:Instance", replica)

    assert [d for d in of_policy(pack.run(stack), "rds-instance-multi-az")] == []
    with pack.configured({"rds-instance-multi-az": {"requireForReadReplicas": True}}):
        expect_violation(
            pack.run(stack),
            "rds-instance-multi-az",
            "db-replica",
            "multiAz is false",
            level="advisory",
            also=frozenset({"db-ingress-from-proxy-or-lambda", "postgres-force-ssl"}),
        )


def test_rds_instance_multi_az_other_type_not_applicable(pack):
    assert (
        "rds-instance-multi-az" in pack.process.analyze_result(baseline()["proxy"]).not_applicable
    )


def test_rds_instance_multi_az_prod_config_file_makes_it_mandatory(pack):
    prod_config = load_policy_config(PACK_DIR / "prod-config.json")
    stack = changed(baseline(), "db", multiAz=False)

    with pack.configured(prod_config) as effective:
        diagnostics = pack.run(stack)

    assert effective["rds-instance-multi-az"]["enforcementLevel"] == "mandatory"
    expect_violation(diagnostics, "rds-instance-multi-az", "db", "multiAz is false")


def test_db_subnet_group_multi_az_first_preview_resolves_subnets(pack):
    expect_violation(
        pack.run(one_zone(first_preview=True)),
        "db-subnet-group-multi-az",
        "db-subnets",
        "subnetIds spans 1",
        also=frozenset({"lambda-subnets-multi-az", "rds-proxy-subnets-multi-az"}),
    )


def test_db_subnet_group_multi_az_unknown_subnets_outside_stack_noted(pack):
    stack = changed(
        baseline(first_preview=True), "db-subnets", remove=["subnetIds"], subnetIds=UNKNOWN
    )

    expect_unverified(
        pack.run(stack),
        "db-subnet-group-multi-az",
        "the subnets are not known yet and are not subnets of this stack",
    )
