"""CrossRegionReplica on its own: its args' checks, its pure helpers, the component under mocks,
and the secret-replication handler against moto's Secrets Manager over real HTTP."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pulumi
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from components.lambda_package import build_lambda_package
from components.lambda_tier import LambdaTierArgs
from components.network import NetworkArgs, plan_subnets
from components.replica import (
    SECRET_REPLICATION_ACTIONS,
    CrossRegionReplica,
    CrossRegionReplicaArgs,
    CrossRegionReplicaArgsError,
    check_cidrs_apart,
    replica_secret_arn,
    secret_replication_policy,
)
from components.secrets import SecretsArgs
from lambda_src.errors import ConfigurationError
from lambda_src.handlers import replicate_secret
from lambda_src.handlers.replicate_secret import ReplicationError, handler, parse_request
from lambda_src.logs import LOGGER_NAME, JsonFormatter
from tests.support.pulumi_mocks import run_program

PRIMARY_REGION = "us-east-1"
REPLICA_REGION = "us-west-2"
SOURCE_INSTANCE_ARN = "arn:aws:rds:us-east-1:123456789012:db:database-postgres-1a2b3c4"
SOURCE_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1a2b3c-AbCdEf"
SOURCE_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
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
        "source_master_secret_arn": SOURCE_SECRET_ARN,
        "source_kms_key_arn": SOURCE_KEY_ARN,
        "code": code,
        "engine_version": "16.4",
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


def test_replica_secret_arn_swaps_only_the_region():
    assert replica_secret_arn(SOURCE_SECRET_ARN, REPLICA_REGION) == (
        "arn:aws:secretsmanager:us-west-2:123456789012:secret:rds!db-1a2b3c-AbCdEf"
    )
    with pytest.raises(ValueError, match="not a Secrets Manager secret ARN"):
        replica_secret_arn(SOURCE_INSTANCE_ARN, REPLICA_REGION)


def test_secret_replication_policy_scopes_each_key_to_secrets_manager_in_its_region():
    replica_key = SOURCE_KEY_ARN.replace(PRIMARY_REGION, REPLICA_REGION)

    policy = secret_replication_policy(
        secret_arn=SOURCE_SECRET_ARN,
        source_key_arn=SOURCE_KEY_ARN,
        replica_key_arn=replica_key,
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/sync",
        primary_region=PRIMARY_REGION,
        replica_region=REPLICA_REGION,
    )

    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["ReplicateMasterSecret"]["Action"] == list(SECRET_REPLICATION_ACTIONS)
    assert statements["ReplicateMasterSecret"]["Resource"] == SOURCE_SECRET_ARN
    decrypt = statements["DecryptSourceThroughSecretsManager"]
    assert (decrypt["Resource"], decrypt["Action"]) == (SOURCE_KEY_ARN, "kms:Decrypt")
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == (
        "secretsmanager.us-east-1.amazonaws.com"
    )
    encrypt = statements["EncryptReplicaThroughSecretsManager"]
    assert encrypt["Resource"] == replica_key
    assert encrypt["Condition"]["StringEquals"]["kms:ViaService"] == (
        "secretsmanager.us-west-2.amazonaws.com"
    )


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
        return pulumi.Output.all(
            key=replica.kms_key_arn,
            endpoint=replica.instance_endpoint,
            secret=replica.master_secret_replica_arn,
        )

    run = run_program(program)

    assert run.error is None, run.user_message
    assert run.result["key"].startswith(f"arn:aws:kms:{REPLICA_REGION}:")
    assert f".{REPLICA_REGION}.rds.amazonaws.com" in run.result["endpoint"]
    assert run.result["secret"] == replica_secret_arn(SOURCE_SECRET_ARN, REPLICA_REGION)
    instance = run.one("aws:rds/instance:Instance")
    assert instance.inputs["replicateSourceDb"] == SOURCE_INSTANCE_ARN
    assert instance.inputs["kmsKeyId"] == run.result["key"]
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


# --- the secret-replication handler against moto --------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module", autouse=True)
def aws_environment(moto_endpoint) -> Iterator[None]:
    """Fake credentials and Secrets Manager at moto's server, through standard variables only,
    so the handler builds its clients exactly as in Lambda."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFORREPLICATESTS")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "fake-key-for-the-replication-tests")
        patch.setenv("AWS_DEFAULT_REGION", PRIMARY_REGION)
        patch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        yield


def secrets(region: str):
    return boto3.client("secretsmanager", region_name=region)


@pytest.fixture
def master_secret() -> tuple[str, str]:
    """A secret shaped like the one RDS keeps for the primary: (ARN, value)."""
    value = json.dumps({"username": "app_admin", "password": uuid.uuid4().hex})
    created = secrets(PRIMARY_REGION).create_secret(
        Name=f"rds!db-{uuid.uuid4()}", SecretString=value
    )
    return created["ARN"], value


def lifecycle_event(secret_arn: str, action: str, previous: dict | None = None, **fields) -> dict:
    event = {
        "secretArn": secret_arn,
        "replicaRegion": fields.get("region", REPLICA_REGION),
        "replicaKmsKeyId": fields.get("key", "arn:aws:kms:us-west-2:123456789012:key/replica"),
    }
    event["tf"] = {"action": action, "prev_input": previous}
    return event


def replica_value(secret_arn: str, region: str) -> str:
    arn = replica_secret_arn(secret_arn, region)
    return secrets(region).get_secret_value(SecretId=arn)["SecretString"]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """The JSON lines the handler logs (its logger does not propagate to the root)."""
    lines = _Lines()
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(lines)
    try:
        yield lines.lines
    finally:
        logger.removeHandler(lines)


def test_replicate_secret_create_puts_a_copy_in_the_replica_region(master_secret, log_lines):
    secret_arn, value = master_secret

    result = handler(lifecycle_event(secret_arn, "create"), None)

    assert result == {
        "secretArn": secret_arn,
        "replicaRegion": REPLICA_REGION,
        "replicaSecretArn": replica_secret_arn(secret_arn, REPLICA_REGION),
        "changed": True,
    }
    assert replica_value(secret_arn, REPLICA_REGION) == value
    statuses = secrets(PRIMARY_REGION).describe_secret(SecretId=secret_arn)["ReplicationStatus"]
    assert [s["Region"] for s in statuses] == [REPLICA_REGION]
    events = [json.loads(line)["event"] for line in log_lines]
    assert events == ["replica_created"]
    assert all(json.loads(value)["password"] not in line for line in log_lines)


def test_replicate_secret_create_twice_changes_nothing_the_second_time(master_secret):
    secret_arn, _ = master_secret
    handler(lifecycle_event(secret_arn, "create"), None)

    again = handler(lifecycle_event(secret_arn, "create"), None)

    assert again["changed"] is False
    statuses = secrets(PRIMARY_REGION).describe_secret(SecretId=secret_arn)["ReplicationStatus"]
    assert [s["Region"] for s in statuses] == [REPLICA_REGION]


def test_replicate_secret_update_to_another_region_moves_the_copy(master_secret):
    secret_arn, value = master_secret
    first = lifecycle_event(secret_arn, "create")
    handler(first, None)
    previous = {k: v for k, v in first.items() if k != "tf"}

    moved = handler(lifecycle_event(secret_arn, "update", previous, region="eu-west-1"), None)

    assert moved["changed"] is True
    assert replica_value(secret_arn, "eu-west-1") == value
    with pytest.raises(ClientError) as caught:
        replica_value(secret_arn, REPLICA_REGION)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_replicate_secret_update_with_a_new_key_makes_the_copy_again(master_secret):
    secret_arn, value = master_secret
    first = lifecycle_event(secret_arn, "create")
    handler(first, None)
    previous = {k: v for k, v in first.items() if k != "tf"}

    rekeyed = handler(
        lifecycle_event(secret_arn, "update", previous, key="arn:aws:kms:us-west-2:1:key/new"),
        None,
    )

    assert rekeyed["changed"] is True
    assert replica_value(secret_arn, REPLICA_REGION) == value


def test_replicate_secret_delete_removes_the_copy_and_is_then_a_no_op(master_secret):
    secret_arn, _ = master_secret
    created = lifecycle_event(secret_arn, "create")
    handler(created, None)
    previous = {k: v for k, v in created.items() if k != "tf"}

    removed = handler({**previous, "tf": {"action": "delete", "prev_input": previous}}, None)
    again = handler({**previous, "tf": {"action": "delete", "prev_input": previous}}, None)

    assert (removed["changed"], again["changed"]) == (True, False)
    described = secrets(PRIMARY_REGION).describe_secret(SecretId=secret_arn)
    assert described.get("ReplicationStatus", []) == []


def test_replicate_secret_delete_after_the_source_is_gone_succeeds(master_secret):
    secret_arn, _ = master_secret
    secrets(PRIMARY_REGION).delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)
    event = lifecycle_event(secret_arn, "create")
    previous = {k: v for k, v in event.items() if k != "tf"}

    result = handler({**previous, "tf": {"action": "delete", "prev_input": previous}}, None)

    assert result["changed"] is False


def test_replicate_secret_failed_replication_raises_with_aws_reason(master_secret):
    secret_arn, _ = master_secret
    name = secrets(PRIMARY_REGION).describe_secret(SecretId=secret_arn)["Name"]
    secrets(REPLICA_REGION).create_secret(Name=name, SecretString="in the way")

    with pytest.raises(ReplicationError, match="already exists"):
        handler(lifecycle_event(secret_arn, "create"), None)


def test_replicate_secret_request_names_each_bad_field():
    with pytest.raises(ConfigurationError) as caught:
        parse_request({"secretArn": SOURCE_INSTANCE_ARN, "replicaRegion": "west"})

    message = str(caught.value)
    assert "'secretArn' must be a Secrets Manager secret ARN" in message
    assert "'replicaRegion' must be a region name" in message
    assert "'replicaKmsKeyId' must name the replica region's KMS key" in message


def test_replicate_secret_request_into_the_secrets_own_region_is_refused():
    with pytest.raises(ConfigurationError, match="'replicaRegion' us-east-1 is the secret's own"):
        parse_request(
            {"secretArn": SOURCE_SECRET_ARN, "replicaRegion": "us-east-1", "replicaKmsKeyId": "k"}
        )


def test_replicate_secret_handler_module_and_component_agree_on_replica_arns():
    assert replicate_secret.replica_secret_arn(SOURCE_SECRET_ARN, REPLICA_REGION) == (
        replica_secret_arn(SOURCE_SECRET_ARN, REPLICA_REGION)
    )
