"""CrossRegionReplica on its own: its args' checks, its pure helpers and the component under
mocks."""

from __future__ import annotations

from dataclasses import replace

import pulumi
import pytest

from components.lambda_package import build_lambda_package
from components.lambda_tier import LambdaTierArgs
from components.network import NetworkArgs, plan_subnets
from components.replica import (
    CrossRegionReplica,
    CrossRegionReplicaArgs,
    CrossRegionReplicaArgsError,
    check_cidrs_apart,
    check_replica_names,
)
from components.secrets import SecretsArgs
from tests.support.pulumi_mocks import run_program

PRIMARY_REGION = "us-east-1"
REPLICA_REGION = "us-west-2"
SOURCE_INSTANCE_ARN = "arn:aws:rds:us-east-1:123456789012:db:database-postgres-1a2b3c4"
ZONES = ("us-west-2a", "us-west-2b")


@pytest.fixture(scope="module")
def code():
    return build_lambda_package()


def replica_args(code, **changes) -> CrossRegionReplicaArgs:
    """A valid replica of a primary in us-east-1 (10.20.0.0/16), with one change per test."""
    region = changes.pop("region", REPLICA_REGION)
    vpc_cidr = changes.pop("vpc_cidr", "10.30.0.0/16")
    network = NetworkArgs(
        vpc_cidr=vpc_cidr,
        availability_zones=ZONES,
        subnet_plan=plan_subnets(vpc_cidr, len(ZONES), 40, public_count=1),
        region=region,
        kms_key_arn="pending",
        nat_strategy="single",
    )
    values = {
        "region": region,
        "primary_region": PRIMARY_REGION,
        "primary_vpc_cidr": "10.20.0.0/16",
        "secrets": SecretsArgs(alias_name="alias/test-replica", region=region),
        "network": network,
        "source_instance_arn": SOURCE_INSTANCE_ARN,
        "source_backup_retention_days": 7,
        "code": code,
        "engine_version": "16",
    }
    values.update(changes)
    return CrossRegionReplicaArgs(**values)


# --- args ----------------------------------------------------------------------------------


def test_replica_args_in_the_primarys_region_are_refused(code):
    with pytest.raises(CrossRegionReplicaArgsError) as caught:
        replica_args(code, region=PRIMARY_REGION)

    assert "'region' 'us-east-1' is the primary's region" in str(caught.value)


def test_replica_args_overlapping_the_primarys_vpc_are_refused(code):
    with pytest.raises(CrossRegionReplicaArgsError) as caught:
        replica_args(code, vpc_cidr="10.20.0.0/16")

    assert "'network.vpc_cidr' 10.20.0.0/16 overlaps the primary's VPC 10.20.0.0/16" in str(
        caught.value
    )


def test_replica_args_of_a_primary_without_backups_are_refused(code):
    with pytest.raises(CrossRegionReplicaArgsError) as caught:
        replica_args(code, source_backup_retention_days=0)

    assert "'source_backup_retention_days' must be at least 1" in str(caught.value)


def test_replica_args_with_a_network_of_another_region_are_refused(code):
    args = replica_args(code)
    wrong_network = replace(args.network, region="eu-west-1")

    with pytest.raises(CrossRegionReplicaArgsError) as caught:
        replace(args, network=wrong_network)

    assert "'network.region' must be the replica's region 'us-west-2', got 'eu-west-1'" in str(
        caught.value
    )


def test_replica_args_report_every_problem_at_once(code):
    with pytest.raises(CrossRegionReplicaArgsError) as caught:
        replica_args(code, source_backup_retention_days=0, instance_class="db.x1.tiny", port=80)

    message = str(caught.value)
    assert "'source_backup_retention_days'" in message
    assert "'instance_class' 'db.x1.tiny'" in message
    assert "'port' must be a whole number from 1150 to 65535" in message


# --- pure helpers ----------------------------------------------------------------------------


def test_check_cidrs_apart_accepts_neighbouring_blocks():
    assert check_cidrs_apart("10.21.0.0/16", "10.20.0.0/16") == []
    assert check_cidrs_apart("10.20.0.0/24", "10.20.0.0/16") != []


def test_check_replica_names_refuses_an_identifier_rds_would_refuse():
    problems = check_replica_names("lambda-private-db", "blue_green", "replica", ["reads"])

    assert any(
        "instance identifier 'lambda-private-db-blue_green-replica'" in p
        and "stack 'blue_green'" in p
        for p in problems
    ), problems
    assert check_replica_names("lambda-private-db", "prod", "replica", ["reads"]) == []


# --- the component under mocks --------------------------------------------------------------


def reads_tier(code) -> LambdaTierArgs:
    """A reader tier with stand-ins where the component puts the network and the instance."""
    return LambdaTierArgs(
        handler="lambda_src.handlers.reader.handler",
        code=code,
        db_user="reads_reader",
        vpc_id="pending",
        app_subnet_ids=["pending", "pending"],
        proxy_security_group_id="pending",
        endpoints_security_group_id="pending",
        kms_key_arn="pending",
        db_host="pending",
        db_port=5432,
        db_name="app",
        proxy_resource_id="pending",
        endpoint_kind="instance",
    )


def test_replica_component_alone_builds_in_the_replica_region(code):
    args = replica_args(code, tiers={"reads": reads_tier(code)})

    def program():
        replica = CrossRegionReplica("replica", args)
        return pulumi.Output.all(key=replica.kms_key_arn, endpoint=replica.instance_endpoint)

    run = run_program(program)

    assert run.error is None, run.user_message
    assert run.result["key"].startswith(f"arn:aws:kms:{REPLICA_REGION}:")
    assert f".{REPLICA_REGION}.rds.amazonaws.com" in run.result["endpoint"]
    instance = run.one("aws:rds/instance:Instance")
    assert instance.inputs["replicateSourceDb"] == SOURCE_INSTANCE_ARN
    assert instance.inputs["kmsKeyId"] == run.result["key"]
    # Nothing of the component acts on the primary's master secret any more: its copy in this
    # region belongs to the primary's secret.
    assert run.of_type("aws:lambda/invocation:Invocation") == []
    assert run.of_type("aws:secretsmanager/secret:Secret") == []
    # The tier asks for its region with an invoke; through the replica provider it is told
    # the replica's, which lands in the function's environment and its rds-db:connect ARN.
    function = run.one("aws:lambda/function:Function", "replica-reads-fn")
    assert function.inputs["environment"]["variables"]["DB_REGION"] == REPLICA_REGION
    assert function.inputs["environment"]["variables"]["DB_HOST"] == instance.state["address"]


def test_replica_component_refuses_a_tier_name_that_makes_a_too_long_function(code):
    long_name = "a" * 30
    args = replica_args(code)
    tier_args = {long_name: reads_tier(code)}

    def program():
        CrossRegionReplica("replica", replace(args, tiers=tier_args))

    run = run_program(program)

    assert isinstance(run.error, CrossRegionReplicaArgsError)
    assert "replica-" + long_name in run.user_message
    assert run.resources == []


def test_replica_component_names_its_instance_and_snapshot_after_project_and_stack(code):
    """GIVEN a promoted replica in stack 'prod' WHEN built THEN the identifier, the final
    snapshot and the PostgreSQL log group carry project and stack, and the log group exists
    (in the replica region, under its key) before the instance."""
    args = replica_args(code, promoted=True)

    def program():
        replica = CrossRegionReplica("replica", args)
        return replica.kms_key_arn

    run = run_program(program, stack="prod")

    assert run.error is None, run.user_message
    instance = run.one("aws:rds/instance:Instance")
    assert instance.inputs["identifier"] == "lambda-private-db-prod-replica"
    assert instance.inputs["finalSnapshotIdentifier"] == "lambda-private-db-prod-replica-final"
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup", "replica-postgresql-logs")
    assert log_group.inputs["name"] == "/aws/rds/instance/lambda-private-db-prod-replica/postgresql"
    assert log_group.inputs["kmsKeyId"] == run.result
    assert log_group.inputs["retentionInDays"] == 30
    assert log_group.urn in instance.dependencies
    assert log_group.provider == instance.provider
