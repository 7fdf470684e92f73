"""The prod stack (Pulumi.yaml defaults under Pulumi.prod.yaml) run through __main__.py under
mocks: the primary's prod settings, and a replica side that lives in us-west-2 under its own
key; then the replica's invalid configs, each stopping the real program before anything exists."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from stack_config import StackConfigError
from tests.support.pulumi_mocks import (
    ACCOUNT_ID,
    ProgramRun,
    RecordedResource,
    RecordingMocks,
    run_program,
    stack_config_values,
)
from tests.test_stack_config import changed

PROJECT = "lambda-private-db"
PRIMARY_REGION = "us-east-1"
REPLICA_REGION = "us-west-2"
REPLICA_TYPE = "lambda-private-db:components:CrossRegionReplica"
PROVIDER_TYPE = "pulumi:providers:aws"
INSTANCE = "aws:rds/instance:Instance"
KMS_KEY = "aws:kms/key:Key"
INVOCATION = "aws:lambda/invocation:Invocation"
FUNCTION = "aws:lambda/function:Function"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
RANDOM_PASSWORD = "aws:secretsmanager/getRandomPassword:getRandomPassword"


@pytest.fixture(scope="module")
def prod_config(project_dir) -> dict[str, str]:
    return stack_config_values(project_dir, "prod")


@pytest.fixture(scope="module")
def prod_mocks() -> RecordingMocks:
    return RecordingMocks()


@pytest.fixture(scope="module")
def prod_run(project_dir, prod_config, prod_mocks) -> ProgramRun:
    run = run_program(
        project_dir / "__main__.py", config=prod_config, stack="prod", mocks=prod_mocks
    )
    assert run.error is None, run.user_message
    return run


@pytest.fixture(scope="module")
def replica_side(prod_run) -> list[RecordedResource]:
    """Every custom resource under the replica component."""
    resources = [
        r
        for r in descendants(prod_run, prod_run.one(REPLICA_TYPE).urn)
        if r.custom and r.type != PROVIDER_TYPE
    ]
    assert len(resources) > 50  # network, key, instance, tier: not a handful
    return resources


def descendants(run: ProgramRun, urn: str) -> list[RecordedResource]:
    found: list[RecordedResource] = []
    frontier = [urn]
    while frontier:
        children = [r for r in run.resources if r.parent in frontier]
        found += children
        frontier = [r.urn for r in children]
    return found


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a (nested) input value, JSON documents included."""
    if isinstance(value, str):
        yield value
        if value.startswith(("{", "[")):
            try:
                document = json.loads(value)
            except json.JSONDecodeError:
                document = None
            yield from strings_in(document)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def arn_region(text: str) -> str | None:
    parts = text.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def keys(run: ProgramRun) -> tuple[RecordedResource, RecordedResource]:
    replica_urn = run.one(REPLICA_TYPE).urn
    under_replica = {r.urn for r in descendants(run, replica_urn)}
    (replica_key,) = [k for k in run.of_type(KMS_KEY) if k.urn in under_replica]
    (primary_key,) = [k for k in run.of_type(KMS_KEY) if k.urn not in under_replica]
    return primary_key, replica_key


def replica_instance(run: ProgramRun) -> RecordedResource:
    return run.one(INSTANCE, "replica-postgres")


def primary_instance(run: ProgramRun) -> RecordedResource:
    return run.one(INSTANCE, "database-postgres")


# --- the primary in prod -----------------------------------------------------------------------


NETWORK_TYPE = "lambda-private-db:network:Network"
ROUTE = "aws:ec2/route:Route"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


@pytest.mark.parametrize(
    ("network_name", "function_names"),
    [
        ("network", ("ingest-fn", "api-fn")),
        ("replica-network", ("replica-reads-fn",)),
    ],
)
def test_prod_stack_tier_functions_wait_for_their_regions_network(
    prod_run, network_name, function_names
):
    # GIVEN the routes and interface endpoints of the tier's own region's network
    network = prod_run.one(NETWORK_TYPE, network_name)
    network_children = {r.urn for r in descendants(prod_run, network.urn)}
    needed = {
        r.urn
        for r in prod_run.resources
        if r.type in (ROUTE, VPC_ENDPOINT) and r.urn in network_children
    }
    assert needed, f"{network_name} has no routes or endpoints"

    for function_name in function_names:
        function = prod_run.one(FUNCTION, function_name)
        # THEN the function waits for them (the SDK expands the component to its children)
        assert needed <= set(function.dependencies), function_name


def test_prod_stack_single_nat_warning_is_about_the_replica_regions_network(prod_run):
    # The primary has a NAT gateway per zone; only the replica's one NAT deserves a warning,
    # and it must say so, naming the key that sets the replica's strategy.
    warnings = [message for level, message in prod_run.logs if level == "warning"]

    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        f"All 3 zones of the replica region's network ({REPLICA_REGION}) leave through the one "
        f"NAT gateway in {REPLICA_REGION}a"
    )
    assert f"Set '{PROJECT}:replica.natStrategy' to per-az" in warnings[0]


def test_prod_stack_primary_spreads_three_zones_with_a_nat_gateway_each(prod_run):
    primary_network = prod_run.one("lambda-private-db:network:Network", "network")
    under_primary = descendants(prod_run, primary_network.urn)
    zones = {r.inputs["availabilityZone"] for r in under_primary if r.type.endswith(":Subnet")}
    nat_gateways = [r for r in under_primary if r.type == "aws:ec2/natGateway:NatGateway"]

    assert zones == {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert len(nat_gateways) == 3
    assert not [i for i in prod_run.invokes if i[0].endswith("getAvailabilityZones")]


def test_prod_stack_primary_is_multi_az_protected_and_keeps_a_final_snapshot(prod_run):
    instance = primary_instance(prod_run).inputs

    assert instance["multiAz"] is True
    assert instance["deletionProtection"] is True
    assert instance["skipFinalSnapshot"] is False
    assert instance["identifier"] == "lambda-private-db-prod-database"
    assert instance["finalSnapshotIdentifier"] == "lambda-private-db-prod-database-final"
    assert instance["backupRetentionPeriod"] == 14


def test_prod_stack_api_tier_keeps_ten_functions_warm(prod_run):
    (config,) = prod_run.of_type(
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
    )
    api_function = prod_run.one(FUNCTION, "api-fn")

    assert config.inputs["provisionedConcurrentExecutions"] == 10
    assert config.inputs["functionName"] == api_function.inputs["name"]


def test_prod_stack_bootstrap_creates_the_replica_tiers_role_on_the_primary(prod_run):
    invocation = prod_run.one(INVOCATION, "database-bootstrap-run")
    roles = json.loads(invocation.inputs["input"])["roles"]

    assert {(r["name"], r["access"]) for r in roles} == {
        ("ingest_writer", "read-write"),
        ("api_reader", "read-only"),
        ("reads_reader", "read-only"),
    }


# --- the replica side ---------------------------------------------------------------------


def test_prod_stack_replica_provider_targets_the_replica_region(prod_run):
    provider = prod_run.one(PROVIDER_TYPE)

    assert provider.inputs["region"] == REPLICA_REGION
    assert provider.parent == prod_run.one(REPLICA_TYPE).urn


def test_prod_stack_every_replica_side_resource_goes_through_the_replica_provider(prod_run):
    provider = prod_run.one(PROVIDER_TYPE)
    reference = f"{provider.urn}::{provider.id}"
    under_replica = [
        r
        for r in descendants(prod_run, prod_run.one(REPLICA_TYPE).urn)
        if r.custom and r.type != PROVIDER_TYPE
    ]

    off_provider = {(r.type, r.name) for r in under_replica if r.provider != reference}

    assert off_provider == set()
    # Nothing outside the component uses the replica provider.
    outside = [r for r in prod_run.resources if r not in under_replica and r.provider == reference]
    assert outside == []


def test_prod_stack_every_arn_on_the_replica_side_is_in_the_replica_region(prod_run, replica_side):
    source_arn = primary_instance(prod_run).state["arn"]
    foreign: list[tuple[str, str]] = []

    for resource in replica_side:
        for text in (*strings_in(resource.inputs), *strings_in(resource.state)):
            region = arn_region(text)
            if region is not None and region != REPLICA_REGION:
                foreign.append((resource.name, text))

    # The one reference across regions: the replica's source, which it must name by ARN.
    assert foreign == [("replica-postgres", source_arn), ("replica-postgres", source_arn)]
    zones = {r.inputs["availabilityZone"] for r in replica_side if r.type.endswith(":Subnet")}
    assert zones == {"us-west-2a", "us-west-2b", "us-west-2c"}


def test_prod_stack_replica_side_uses_only_the_replica_regions_key(prod_run, replica_side):
    primary_key, replica_key = keys(prod_run)
    primary_marks = {primary_key.state["arn"], primary_key.state["keyId"]}
    kms_references: set[str] = set()
    encrypted = []

    for resource in replica_side:
        for text in strings_in(resource.inputs):
            assert not any(mark in text for mark in primary_marks), (resource.name, text)
            if text.startswith("arn:aws:kms:"):
                kms_references.add(text)
        for name in ("kmsKeyId", "kmsKeyArn", "kmsMasterKeyId", "performanceInsightsKmsKeyId"):
            if name in resource.inputs:
                encrypted.append((resource.type, resource.inputs[name]))

    assert kms_references == {replica_key.state["arn"]}
    assert replica_key.state["arn"].startswith(f"arn:aws:kms:{REPLICA_REGION}:")
    assert {value for _, value in encrypted} == {replica_key.state["arn"]}
    assert {resource_type for resource_type, _ in encrypted} >= {
        INSTANCE,
        FUNCTION,
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:sqs/queue:Queue",
    }


def test_prod_stack_replica_region_key_policy_names_its_own_region(prod_run):
    _, replica_key = keys(prod_run)
    policy = json.loads(replica_key.inputs["policy"])
    via = next(s for s in policy["Statement"] if s["Sid"] == "AccountUsesKeyThroughServices")

    assert all(
        f".{REPLICA_REGION}." in service
        for service in via["Condition"]["StringEquals"]["kms:ViaService"]
    )


def test_prod_stack_replica_is_an_encrypted_private_iam_auth_copy_of_the_primary(prod_run):
    _, replica_key = keys(prod_run)
    replica = replica_instance(prod_run).inputs

    assert replica["replicateSourceDb"] == primary_instance(prod_run).state["arn"]
    assert replica["storageEncrypted"] is True
    assert replica["kmsKeyId"] == replica_key.state["arn"]
    assert replica["publiclyAccessible"] is False
    assert replica["iamDatabaseAuthenticationEnabled"] is True
    # What a replica takes from its source, or that RDS refuses on a replica, is never set.
    for name in ("manageMasterUserPassword", "username", "password", "dbName", "engine"):
        assert name not in replica, name
    # RDS for PostgreSQL keeps no backups of a replica and takes no final snapshot of one.
    assert "backupRetentionPeriod" not in replica
    assert replica["skipFinalSnapshot"] is True
    assert replica["instanceClass"] == "db.r6g.large"
    assert replica["multiAz"] is False


def test_prod_stack_replica_forces_tls_with_a_parameter_group_of_the_primarys_family(prod_run):
    replica_params = prod_run.one("aws:rds/parameterGroup:ParameterGroup", "replica-params")
    primary_params = prod_run.one("aws:rds/parameterGroup:ParameterGroup", "database-params")
    settings = {p["name"]: p["value"] for p in replica_params.inputs["parameters"]}

    assert replica_params.inputs["family"] == primary_params.inputs["family"] == "postgres16"
    assert settings["rds.force_ssl"] == "1"
    assert replica_instance(prod_run).inputs["parameterGroupName"] == replica_params.state["name"]


def test_prod_stack_replica_sits_in_its_own_vpcs_data_subnets(prod_run):
    vpcs = {v.name: v for v in prod_run.of_type("aws:ec2/vpc:Vpc")}
    replica_network = prod_run.one("lambda-private-db:network:Network", "replica-network")
    replica_subnets = [
        r for r in descendants(prod_run, replica_network.urn) if r.type.endswith(":Subnet")
    ]
    data = sorted(s.id for s in replica_subnets if s.inputs["tags"]["tier"] == "data")
    subnet_group = prod_run.one("aws:rds/subnetGroup:SubnetGroup", "replica-subnets")

    assert sorted(subnet_group.inputs["subnetIds"]) == data
    assert len(data) == 3
    primary_block = ipaddress.ip_network(vpcs["network-vpc"].inputs["cidrBlock"])
    replica_block = ipaddress.ip_network(vpcs["replica-network-vpc"].inputs["cidrBlock"])
    assert not primary_block.overlaps(replica_block)


def test_prod_stack_reads_tier_logs_in_to_the_replica_with_iam(prod_run):
    replica = replica_instance(prod_run)
    function = prod_run.one(FUNCTION, "replica-reads-fn")
    environment = function.inputs["environment"]["variables"]
    policy = json.loads(
        prod_run.one("aws:iam/policy:Policy", "replica-reads-access").inputs["policy"]
    )
    connect = next(s for s in policy["Statement"] if s["Sid"] == "ConnectAsTierUser")

    assert function.inputs["name"] == "lambda-private-db-prod-replica-reads"
    assert environment["DB_HOST"] == replica.state["address"]
    assert environment["DB_ENDPOINT_KIND"] == "instance"
    assert environment["DB_AUTH_MODE"] == "iam"
    assert environment["DB_REGION"] == REPLICA_REGION
    assert environment["DB_USER"] == "reads_reader"
    assert connect["Resource"] == (
        f"arn:aws:rds-db:{REPLICA_REGION}:{ACCOUNT_ID}:dbuser:"
        f"{replica.state['resourceId']}/reads_reader"
    )


def test_prod_stack_replica_database_admits_only_its_tiers(prod_run):
    group = prod_run.one("aws:ec2/securityGroup:SecurityGroup", "replica-db")
    tier_group = prod_run.one("aws:ec2/securityGroup:SecurityGroup", "replica-reads-fn")
    ingress = [
        r
        for r in prod_run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == group.id
    ]

    assert replica_instance(prod_run).inputs["vpcSecurityGroupIds"] == [group.id]
    assert [r.inputs["referencedSecurityGroupId"] for r in ingress] == [tier_group.id]
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in ingress} == {(5432, 5432)}


# --- the master secret, kept by the program and replicated into the replica region ---------


def master_secret(run: ProgramRun) -> RecordedResource:
    return run.one(SECRET, "database-master")


def test_prod_stack_primary_does_not_let_rds_manage_its_password(prod_run):
    """RDS refuses a read replica of an instance whose master password it manages."""
    instance = primary_instance(prod_run)

    assert "manageMasterUserPassword" not in instance.inputs
    assert "masterUserSecretKmsKeyId" not in instance.inputs
    assert "masterUserSecrets" not in instance.state
    assert instance.inputs["username"] == "app_admin"
    assert instance.inputs["passwordWoVersion"] == 1
    assert "password" not in instance.inputs


def test_prod_stack_master_password_is_generated_for_rds_and_sent_only_as_a_secret(
    prod_run, prod_mocks
):
    (password,) = prod_mocks.random_passwords
    (call,) = [args for token, args in prod_run.invokes if token == RANDOM_PASSWORD]
    instance = primary_instance(prod_run)
    version = prod_run.one(SECRET_VERSION, "database-master-value")

    assert call["passwordLength"] >= 32
    assert set('/@" ') <= set(call["excludeCharacters"])
    # Sent to RDS and to Secrets Manager, write-only and marked secret on the wire.
    assert "passwordWo" in instance.secret_inputs
    assert instance.inputs["passwordWo"]["value"] == password
    assert version.inputs["secretStringWoVersion"] == 1
    assert "secretStringWo" in version.secret_inputs
    assert json.loads(version.inputs["secretStringWo"]["value"]) == {
        "username": "app_admin",
        "password": password,
    }
    assert version.inputs["secretId"] == master_secret(prod_run).id
    # A new value on the next run does not churn: the write-only values are exempt from diffs.
    assert instance.ignore_changes == ("passwordWo",)
    assert version.ignore_changes == ("secretStringWo",)
    # The secret holds the value before the instance is created with it.
    assert version.urn in instance.dependencies


def test_prod_stack_master_password_appears_nowhere_else(prod_run, prod_mocks):
    (password,) = prod_mocks.random_passwords
    carriers = {
        (INSTANCE, "database-postgres", "passwordWo"),
        (SECRET_VERSION, "database-master-value", "secretStringWo"),
    }

    for resource in prod_run.resources:
        for key, value in resource.inputs.items():
            if (resource.type, resource.name, key) in carriers:
                continue
            assert not any(password in text for text in strings_in(value)), (resource.name, key)
    assert not any(password in text for text in strings_in(prod_run.outputs))
    assert not any(password in message for _, message in prod_run.logs)


def test_prod_stack_master_secret_is_replicated_with_the_replica_regions_key(prod_run):
    primary_key, replica_key = keys(prod_run)
    secret = master_secret(prod_run)

    assert secret.inputs["kmsKeyId"] == primary_key.state["arn"]
    assert secret.inputs["replicas"] == [
        {"region": REPLICA_REGION, "kmsKeyId": replica_key.state["arn"]}
    ]
    assert replica_key.urn in secret.dependencies
    assert secret.provider == primary_instance(prod_run).provider
    assert prod_run.outputs["replicaMasterSecretArn"] == secret.state["arn"].replace(
        f":{PRIMARY_REGION}:", f":{REPLICA_REGION}:"
    )
    assert "replicaMasterSecretArn" in prod_run.secret_outputs
    # No deploy-time function replicates anything any more.
    assert [i.name for i in prod_run.of_type(INVOCATION)] == ["database-bootstrap-run"]


def test_prod_stack_bootstrap_reads_the_programs_master_secret(prod_run):
    secret_arn = master_secret(prod_run).state["arn"]
    function = prod_run.one(FUNCTION, "database-bootstrap")
    policy = json.loads(
        prod_run.one("aws:iam/policy:Policy", "database-bootstrap-access").inputs["policy"]
    )
    read = next(s for s in policy["Statement"] if s["Sid"] == "ReadMasterSecret")

    assert function.inputs["environment"]["variables"]["DB_SECRET_ARN"] == secret_arn
    assert read["Resource"] == secret_arn
    assert prod_run.outputs["masterSecretArn"] == secret_arn
    assert "masterSecretArn" in prod_run.secret_outputs


def test_prod_stack_exports_the_replica(prod_run):
    outputs = prod_run.outputs

    assert outputs["replicaRegion"] == REPLICA_REGION
    assert outputs["replicaEndpoint"] == replica_instance(prod_run).state["address"]
    assert outputs["replicaInstanceIdentifier"] == replica_instance(prod_run).state["identifier"]
    assert outputs["replicaTierFunctionNames"] == {"reads": "lambda-private-db-prod-replica-reads"}
    api = prod_run.one("aws:apigatewayv2/api:Api", "replica-reads-api")
    assert outputs["replicaTierApiEndpoints"] == {"reads": api.state["apiEndpoint"]}
    assert f".execute-api.{REPLICA_REGION}." in api.state["apiEndpoint"]
    assert outputs["replicaKmsKeyArn"].startswith(f"arn:aws:kms:{REPLICA_REGION}:")


def test_prod_stack_passes_the_policy_pack_with_the_prod_policy_config(project_dir, tmp_path):
    """The offline preview drives the real pack over its Analyzer protocol, with the prod
    config that makes Multi-AZ mandatory."""
    report = tmp_path / "preview.json"

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            "--stack",
            "prod",
            "--policy-pack-config",
            str(project_dir / "policies" / "prod-config.json"),
            "--json",
            str(report),
        ],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = json.loads(report.read_text())["summary"]
    assert (summary["mandatory"], summary["advisory"]) == (0, 0)
    assert summary["stack"] == "prod"
    assert summary["create"] > 150
    # The generated master password leaves the program only as a secret.
    document = json.loads(report.read_text())
    carriers = {
        resource["urn"].rsplit("::", 1)[1]: resource["inputs"]
        for resource in document["resources"]
        if resource["urn"].endswith(("::database-postgres", "::database-master-value"))
    }
    assert carriers["database-postgres"]["passwordWo"] == "[secret]"
    assert "manageMasterUserPassword" not in carriers["database-postgres"]
    assert carriers["database-master-value"]["secretStringWo"] == "[secret]"


def test_prod_stack_promoted_replica_drops_its_source_and_keeps_backups(prod_config, project_dir):
    replica = json.loads(prod_config[f"{PROJECT}:replica"])
    replica["promoted"] = True
    replica["tiers"].append(
        {"name": "ingest", "handler": "writer", "dbUser": "ingest_writer", "reservedConcurrency": 5}
    )

    run = run_program(
        project_dir / "__main__.py", config=changed(prod_config, replica=replica), stack="prod"
    )

    assert run.error is None, run.user_message
    instance = replica_instance(run).inputs
    assert "replicateSourceDb" not in instance
    assert instance["backupRetentionPeriod"] == 14
    assert instance["skipFinalSnapshot"] is False
    assert instance["finalSnapshotIdentifier"] == "lambda-private-db-prod-replica-final"
    writer = run.one(FUNCTION, "replica-ingest-fn").inputs["environment"]["variables"]
    assert writer["DB_USER"] == "ingest_writer"
    assert writer["DB_HOST"] == replica_instance(run).state["address"]


# --- invalid replica configs through the real program --------------------------------------


def _replica(config: dict[str, str], **fields: object) -> dict[str, Any]:
    replica = json.loads(config[f"{PROJECT}:replica"])
    replica.update(fields)
    return replica


INVALID_REPLICA_CONFIGS = {
    "same-region-as-primary": (
        lambda c: changed(
            c,
            replica=_replica(c, region="us-east-1", availabilityZones=["us-east-1a", "us-east-1b"]),
        ),
        "'lambda-private-db:replica.region' is us-east-1, the stack's own region",
    ),
    "overlapping-cidrs": (
        lambda c: changed(c, replica=_replica(c, vpcCidr="10.20.128.0/17")),
        "'lambda-private-db:replica.vpcCidr' 10.20.128.0/17 overlaps "
        "'lambda-private-db:vpcCidr' 10.20.0.0/16",
    ),
    "primary-without-backups": (
        lambda c: changed(c, dbBackupRetentionDays=0),
        "'lambda-private-db:dbBackupRetentionDays' is 0, but 'lambda-private-db:replica' needs "
        "automated backups on the primary",
    ),
    "writer-before-promotion": (
        lambda c: changed(
            c,
            replica=_replica(
                c, tiers=[{"name": "ingest", "handler": "writer", "dbUser": "ingest_writer"}]
            ),
        ),
        "'lambda-private-db:replica.tiers[0].access' is read-write, but a read replica refuses",
    ),
    "secret-auth-mode": (
        lambda c: changed(c, dbAuthMode="secret"),
        "'lambda-private-db:dbAuthMode' is 'secret', but the replica's tiers log in to it with "
        "IAM tokens",
    ),
    "zones-outside-the-replica-region": (
        lambda c: changed(c, replica=_replica(c, availabilityZones=["us-west-2a", "eu-west-1b"])),
        "'lambda-private-db:replica.availabilityZones' has eu-west-1b, outside the replica region",
    ),
    "replica-field-typo": (
        lambda c: changed(c, replica=_replica(c, multiAZ=True)),
        "'lambda-private-db:replica.multiAZ' is not a replica field; did you mean multiAz?",
    ),
    "replica-tiers-over-budget": (
        lambda c: changed(
            c,
            replica=_replica(
                c,
                instanceClass="db.t4g.micro",
                tiers=[{"name": "reads", "handler": "reader", "reservedConcurrency": 150}],
            ),
        ),
        "'lambda-private-db:replica.tiers' reserve 150 concurrent functions",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_REPLICA_CONFIGS))
def test_program_invalid_replica_config_stops_naming_the_key(case, prod_config, project_dir):
    make_config, expected = INVALID_REPLICA_CONFIGS[case]

    run = run_program(project_dir / "__main__.py", config=make_config(prod_config), stack="prod")

    assert isinstance(run.error, StackConfigError), run.user_message
    assert isinstance(run.error, pulumi.RunError)
    assert "Traceback" not in run.user_message
    assert any(line.startswith(expected) for line in run.user_message.splitlines()), (
        run.user_message
    )
    assert run.resources == []


def test_program_replica_failing_after_the_database_stops_instead_of_waiting(
    prod_config, project_dir, monkeypatch
):
    """The database waits on the replica key through a deferred output; when the replica
    cannot be built, that output fails, so the program ends with the error and the master
    secret that waited on the key is never registered."""

    class BrokenReplica:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("replica component broke")

    monkeypatch.setattr("components.replica.CrossRegionReplica", BrokenReplica)

    run = run_program(project_dir / "__main__.py", config=prod_config, stack="prod")

    assert isinstance(run.error, RuntimeError)
    assert "replica component broke" in run.user_message
    assert [r for r in run.resources if r.type == SECRET and r.name == "database-master"] == []
