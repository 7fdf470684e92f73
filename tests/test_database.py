"""DatabaseWithProxy under Pulumi mocks, and its pure planning helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from components.database import (
    INSTANCE_CLASS_MEMORY_GIB,
    DatabaseArgs,
    DatabaseArgsError,
    DatabaseUser,
    DatabaseWithProxy,
    MasterSecretReplica,
    database_names,
    instance_max_connections,
    min_max_allocated_storage_gib,
    parameter_group_family,
    proxy_connection_budget,
    proxy_resource_id_from_arn,
)
from components.lambda_package import LambdaPackage
from tests.support.pulumi_mocks import (
    ACCOUNT_ID,
    REGION,
    ProgramRun,
    RecordingMocks,
    run_program,
)

CMK_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
CODE = LambdaPackage(path=Path("build/lambda.zip"), source_code_hash="c2hhMjU2LW9mLXRoZS16aXA=")
USERS = (DatabaseUser("ingest_writer", "read-write"), DatabaseUser("api_reader", "read-only"))

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PROXY = "aws:rds/proxy:Proxy"
INSTANCE = "aws:rds/instance:Instance"
FUNCTION = "aws:lambda/function:Function"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


class DatabaseMocks(RecordingMocks):
    """The shared mocks, plus the provider's autonaming of RDS Proxies (the target group and
    the target refer to the proxy by name)."""

    def new_resource(self, args):
        if args.typ == PROXY and not args.inputs.get("name"):
            args.inputs["name"] = f"{args.name}-a1b2c3d"
        return super().new_resource(args)


REPLICA_CMK_ARN = "arn:aws:kms:us-west-2:123456789012:key/99999999-8888-7777-6666-555555555555"


class StandInNetwork(pulumi.ComponentResource):
    """A component with the children a network's reach to AWS APIs hangs on."""

    def __init__(self) -> None:
        super().__init__("test:index:Network", "net")
        self.route_table = aws.ec2.RouteTable(
            "net-rt", vpc_id="vpc-1", opts=pulumi.ResourceOptions(parent=self)
        )
        self.endpoint = aws.ec2.VpcEndpoint(
            "net-sm",
            vpc_id="vpc-1",
            service_name="com.amazonaws.us-east-1.secretsmanager",
            opts=pulumi.ResourceOptions(parent=self),
        )


def _run_database(with_network: bool = False, stack: str = "dev", **overrides) -> ProgramRun:
    """The component in a small VPC: two AZs of app and data subnets, an endpoints group."""

    def program():
        if with_network:
            overrides["network_resources"] = [StandInNetwork()]
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        zones = [f"{REGION}a", f"{REGION}b"]
        app = [
            aws.ec2.Subnet(
                f"app-{i}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24", availability_zone=zone
            )
            for i, zone in enumerate(zones)
        ]
        data = [
            aws.ec2.Subnet(
                f"data-{i}", vpc_id=vpc.id, cidr_block=f"10.0.{10 + i}.0/24", availability_zone=zone
            )
            for i, zone in enumerate(zones)
        ]
        endpoints = aws.ec2.SecurityGroup("endpoints", vpc_id=vpc.id)
        args = dict(
            vpc_id=vpc.id,
            data_subnet_ids=[s.id for s in data],
            app_subnet_ids=[s.id for s in app],
            endpoints_security_group_id=endpoints.id,
            kms_key_arn=CMK_ARN,
            code=CODE,
            db_users=USERS,
        )
        args.update(overrides)
        db = DatabaseWithProxy("db", DatabaseArgs(**args))
        return {
            "master_secret_replica_arn": db.master_secret_replica_arn,
            "proxy_resource_id": db.proxy_resource_id,
            "proxy_endpoint": db.proxy_endpoint,
            "master_secret_arn": db.master_secret_arn,
            "user_secret_arns": db.user_secret_arns,
            "port": db.port,
        }

    run = run_program(program, mocks=DatabaseMocks(), stack=stack)
    assert run.error is None, run.user_message
    return run


@pytest.fixture(scope="module")
def iam_run() -> ProgramRun:
    return _run_database()


@pytest.fixture(scope="module")
def secret_run() -> ProgramRun:
    return _run_database(
        auth_mode="secret", multi_az=True, deletion_protection=False, skip_final_snapshot=True
    )


def _policy(resource) -> dict:
    return json.loads(resource.inputs["policy"])


def _statements(resource) -> list[dict]:
    return _policy(resource)["Statement"]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _sg_id(run: ProgramRun, name: str) -> str:
    return run.one(SG, name).id


# Resources and their properties


def test_database_iam_mode_creates_expected_resources(iam_run):
    counts = iam_run.count_by_type()
    assert counts[PROXY] == 1
    assert counts[INSTANCE] == 1
    assert counts["aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"] == 1
    assert counts["aws:rds/proxyTarget:ProxyTarget"] == 1
    assert counts["aws:rds/subnetGroup:SubnetGroup"] == 1
    assert counts["aws:rds/parameterGroup:ParameterGroup"] == 1
    assert counts["aws:lambda/invocation:Invocation"] == 1
    assert counts["aws:secretsmanager/secret:Secret"] == 0
    component = iam_run.one("lambda-private-db:components:DatabaseWithProxy", "db")
    children = {r.urn for r in iam_run.children_of(component.urn)}
    # Everything but the test's own VPC, subnets and endpoints group is a child of the component.
    for resource in iam_run.resources:
        if resource.name not in {"vpc", "endpoints", "db"} and not resource.name.startswith(
            ("app-", "data-")
        ):
            assert resource.urn in children, resource.name


def test_proxy_requires_tls_and_uses_end_to_end_iam(iam_run):
    proxy = iam_run.one(PROXY)
    assert proxy.inputs["requireTls"] is True
    assert proxy.inputs["engineFamily"] == "POSTGRESQL"
    assert proxy.inputs["defaultAuthScheme"] == "IAM_AUTH"
    assert "auths" not in proxy.inputs
    assert proxy.inputs["idleClientTimeout"] == 1800
    assert proxy.inputs["vpcSecurityGroupIds"] == [_sg_id(iam_run, "db-proxy")]
    assert iam_run.result["proxy_resource_id"] == proxy.state["arn"].rsplit(":", 1)[1]
    assert iam_run.result["proxy_resource_id"].startswith("prx-")


def test_proxy_pool_settings_come_from_args():
    run = _run_database(
        max_connections_percent=75,
        max_idle_connections_percent=20,
        connection_borrow_timeout_seconds=30,
        idle_client_timeout_seconds=600,
    )
    pool = run.one("aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup")
    assert pool.inputs["connectionPoolConfig"] == {
        "maxConnectionsPercent": 75,
        "maxIdleConnectionsPercent": 20,
        "connectionBorrowTimeout": 30,
    }
    assert pool.inputs["dbProxyName"] == run.one(PROXY).id
    assert run.one(PROXY).inputs["idleClientTimeout"] == 600


def test_parameter_group_forces_tls_and_bounds_statements(iam_run):
    group = iam_run.one("aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == "postgres16"
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters == {"rds.force_ssl": "1", "statement_timeout": "30000"}
    instance = iam_run.one(INSTANCE)
    assert instance.inputs["parameterGroupName"] == group.state["name"]


def test_instance_is_private_encrypted_and_iam_enabled(iam_run):
    inputs = iam_run.one(INSTANCE).inputs
    assert inputs["engine"] == "postgres"
    assert inputs["storageEncrypted"] is True
    assert inputs["kmsKeyId"] == CMK_ARN
    assert inputs["publiclyAccessible"] is False
    assert inputs["iamDatabaseAuthenticationEnabled"] is True
    assert inputs["manageMasterUserPassword"] is True
    assert inputs["masterUserSecretKmsKeyId"] == CMK_ARN
    assert "password" not in inputs
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["performanceInsightsKmsKeyId"] == CMK_ARN
    assert inputs["enabledCloudwatchLogsExports"] == ["postgresql"]
    assert inputs["autoMinorVersionUpgrade"] is True
    assert inputs["backupRetentionPeriod"] >= 1
    assert inputs["vpcSecurityGroupIds"] == [_sg_id(iam_run, "db-db")]
    # Defaults: single AZ, protected, final snapshot kept.
    assert inputs["multiAz"] is False
    assert inputs["deletionProtection"] is True
    assert inputs["skipFinalSnapshot"] is False
    # Named after project and stack, so two stacks in one account and region do not collide.
    assert inputs["identifier"] == "lambda-private-db-dev-db"
    assert inputs["finalSnapshotIdentifier"] == "lambda-private-db-dev-db-final"


def test_instance_availability_and_deletion_follow_args(secret_run):
    inputs = secret_run.one(INSTANCE).inputs
    assert inputs["multiAz"] is True
    assert inputs["deletionProtection"] is False
    assert inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in inputs


def test_security_group_rules_reference_groups_and_no_cidr(secret_run):
    run = secret_run
    groups = {name: _sg_id(run, name) for name in ("db-db", "db-proxy", "db-bootstrap")}
    endpoints = _sg_id(run, "endpoints")
    for group in run.of_type(SG):
        assert "ingress" not in group.inputs and "egress" not in group.inputs, group.name
    rules = run.of_type(INGRESS) + run.of_type(EGRESS)
    assert rules
    for rule in rules:
        assert rule.inputs.get("referencedSecurityGroupId"), rule.name
        assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs), rule.name
        assert rule.inputs["ipProtocol"] == "tcp"
        assert rule.inputs["fromPort"] == rule.inputs["toPort"]

    def edges(token):
        return {
            (
                r.inputs["securityGroupId"],
                r.inputs["referencedSecurityGroupId"],
                r.inputs["fromPort"],
            )
            for r in run.of_type(token)
        }

    assert edges(INGRESS) == {
        (groups["db-db"], groups["db-proxy"], 5432),
        (groups["db-db"], groups["db-bootstrap"], 5432),
        (endpoints, groups["db-bootstrap"], 443),
        (endpoints, groups["db-proxy"], 443),
    }
    assert edges(EGRESS) == {
        (groups["db-proxy"], groups["db-db"], 5432),
        (groups["db-bootstrap"], groups["db-db"], 5432),
        (groups["db-bootstrap"], endpoints, 443),
        (groups["db-proxy"], endpoints, 443),
    }


def test_security_groups_iam_mode_keep_proxy_off_the_endpoints(iam_run):
    proxy_group = _sg_id(iam_run, "db-proxy")
    touching_proxy = [
        r
        for r in iam_run.of_type(INGRESS) + iam_run.of_type(EGRESS)
        if proxy_group in (r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"])
    ]
    assert {r.name for r in touching_proxy} == {"db-db-from-proxy", "db-proxy-to-db"}


def test_subnets_span_at_least_two_zones(iam_run):
    zone_of = {s.id: s.inputs["availabilityZone"] for s in iam_run.of_type("aws:ec2/subnet:Subnet")}
    db_subnets = iam_run.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]
    proxy_subnets = iam_run.one(PROXY).inputs["vpcSubnetIds"]
    function_subnets = iam_run.one(FUNCTION).inputs["vpcConfig"]["subnetIds"]
    assert {zone_of[s] for s in db_subnets} == {f"{REGION}a", f"{REGION}b"}
    assert all(s.startswith("subnet-") for s in db_subnets)
    assert {zone_of[s] for s in proxy_subnets} == {f"{REGION}a", f"{REGION}b"}
    assert {zone_of[s] for s in function_subnets} == {f"{REGION}a", f"{REGION}b"}
    # The instance sits in the data subnets; the proxy and the function in the app subnets.
    data_ids = {s.id for s in iam_run.of_type("aws:ec2/subnet:Subnet") if "data" in s.name}
    assert set(db_subnets) == data_ids
    assert set(proxy_subnets).isdisjoint(data_ids)


def test_proxy_role_iam_mode_connects_only_as_the_tier_users(iam_run):
    instance = iam_run.one(INSTANCE)
    role = iam_run.one("aws:iam/role:Role", "db-proxy-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "rds.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
        }
    ]
    statements = _statements(iam_run.one("aws:iam/rolePolicy:RolePolicy", "db-proxy-access"))
    assert len(statements) == 1
    assert statements[0]["Action"] == "rds-db:connect"
    resource_id = instance.state["resourceId"]
    assert statements[0]["Resource"] == [
        f"arn:aws:rds-db:{REGION}:{ACCOUNT_ID}:dbuser:{resource_id}/ingest_writer",
        f"arn:aws:rds-db:{REGION}:{ACCOUNT_ID}:dbuser:{resource_id}/api_reader",
    ]


def test_secret_mode_uses_per_user_secrets_encrypted_with_the_cmk(secret_run):
    secrets = secret_run.of_type("aws:secretsmanager/secret:Secret")
    assert {s.name for s in secrets} == {"db-user-ingest_writer", "db-user-api_reader"}
    assert all(s.inputs["kmsKeyId"] == CMK_ARN for s in secrets)
    assert all("secretString" not in s.inputs for s in secrets)
    arns = {s.name.removeprefix("db-user-"): s.state["arn"] for s in secrets}
    assert secret_run.result["user_secret_arns"] == arns

    proxy = secret_run.one(PROXY).inputs
    assert "defaultAuthScheme" not in proxy
    assert proxy["requireTls"] is True
    assert sorted(proxy["auths"], key=lambda a: a["secretArn"]) == sorted(
        (
            {
                "authScheme": "SECRETS",
                "secretArn": arn,
                "iamAuth": "REQUIRED",
                "clientPasswordAuthType": "POSTGRES_SCRAM_SHA_256",
                "description": f"Tier role {user}",
            }
            for user, arn in arns.items()
        ),
        key=lambda a: a["secretArn"],
    )


def test_proxy_role_secret_mode_reads_only_its_secrets(secret_run):
    arns = sorted(s.state["arn"] for s in secret_run.of_type("aws:secretsmanager/secret:Secret"))
    statements = _statements(secret_run.one("aws:iam/rolePolicy:RolePolicy", "db-proxy-access"))
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"ReadTierSecrets", "UseKeyThroughSecretsManager"}
    assert by_sid["ReadTierSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert sorted(by_sid["ReadTierSecrets"]["Resource"]) == arns
    kms = by_sid["UseKeyThroughSecretsManager"]
    assert kms["Action"] == ["kms:Decrypt"]
    assert kms["Resource"] == CMK_ARN
    assert kms["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{REGION}.amazonaws.com"}
    }


@pytest.mark.parametrize("mode", ["iam", "secret"])
def test_iam_statements_are_scoped_to_arns(mode, iam_run, secret_run):
    run = iam_run if mode == "iam" else secret_run
    documents = [_policy(r) for r in run.of_type("aws:iam/rolePolicy:RolePolicy")]
    documents += [_policy(r) for r in run.of_type("aws:iam/policy:Policy")]
    assert len(documents) == 2
    for document in documents:
        for statement in document["Statement"]:
            actions = _as_list(statement["Action"])
            assert all(a != "*" and not a.endswith(":*") for a in actions), statement
            if statement["Resource"] == "*":
                # Only X-Ray's write actions, which have no resource type, are allowed on "*".
                assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
            else:
                assert all(r.startswith("arn:aws:") for r in _as_list(statement["Resource"]))


def test_bootstrap_role_reads_master_secret_and_writes_user_secrets(iam_run, secret_run):
    iam_statements = {s["Sid"]: s for s in _statements(iam_run.one("aws:iam/policy:Policy"))}
    master = iam_run.result["master_secret_arn"]
    assert master == iam_run.one(INSTANCE).state["masterUserSecrets"][0]["secretArn"]
    assert iam_statements["ReadMasterSecret"]["Resource"] == master
    assert iam_statements["ReadMasterSecret"]["Action"] == "secretsmanager:GetSecretValue"
    assert iam_statements["UseKeyThroughSecretsManager"]["Action"] == ["kms:Decrypt"]
    assert "ManageTierSecrets" not in iam_statements

    secret_statements = {s["Sid"]: s for s in _statements(secret_run.one("aws:iam/policy:Policy"))}
    arns = sorted(s.state["arn"] for s in secret_run.of_type("aws:secretsmanager/secret:Secret"))
    # Exactly what the bootstrap calls on a tier secret: it reads the stored password, tells an
    # empty secret from a missing one, and writes a new password.
    assert secret_statements["ManageTierSecrets"]["Action"] == [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
    ]
    assert sorted(secret_statements["ManageTierSecrets"]["Resource"]) == arns
    assert secret_statements["UseKeyThroughSecretsManager"]["Action"] == [
        "kms:Decrypt",
        "kms:GenerateDataKey",
    ]
    attachments = {a.inputs["policyArn"] for a in secret_run.of_type(ATTACHMENT)}
    assert attachments == {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        secret_run.one("aws:iam/policy:Policy").state["arn"],
    }


def test_bootstrap_function_depends_on_its_role_attachments(iam_run):
    function = iam_run.one(FUNCTION)
    attachments = {a.urn for a in iam_run.of_type(ATTACHMENT)}
    assert len(attachments) == 2
    assert attachments <= set(function.dependencies)
    log_group = iam_run.one("aws:cloudwatch/logGroup:LogGroup", "db-bootstrap-logs")
    assert log_group.urn in function.dependencies


def test_bootstrap_function_settings(iam_run):
    function = iam_run.one(FUNCTION)
    inputs = function.inputs
    assert inputs["name"] == "lambda-private-db-dev-db-bootstrap"
    assert inputs["handler"] == "lambda_src.handlers.bootstrap.handler"
    assert inputs["architectures"] == ["arm64"]
    assert inputs["runtime"] == "python3.13"
    assert inputs["kmsKeyArn"] == CMK_ARN
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert inputs["sourceCodeHash"] == CODE.source_code_hash
    assert inputs["vpcConfig"]["securityGroupIds"] == [_sg_id(iam_run, "db-bootstrap")]
    instance = iam_run.one(INSTANCE)
    assert inputs["environment"]["variables"] == {
        "DB_HOST": instance.state["address"],
        "DB_PORT": "5432",
        "DB_NAME": "app",
        "DB_USER": "app_admin",
        "DB_AUTH_MODE": "secret",
        "DB_SECRET_ARN": iam_run.result["master_secret_arn"],
        "DB_ENDPOINT_KIND": "instance",
        "DB_REGION": REGION,
    }
    log_group = iam_run.one("aws:cloudwatch/logGroup:LogGroup", "db-bootstrap-logs")
    assert log_group.inputs["name"] == "/aws/lambda/lambda-private-db-dev-db-bootstrap"
    assert log_group.inputs["kmsKeyId"] == CMK_ARN
    assert log_group.inputs["retentionInDays"] == 30
    assert inputs["loggingConfig"]["logGroup"] == log_group.inputs["name"]


def test_bootstrap_invocation_sends_the_agreed_event(iam_run, secret_run):
    invocation = iam_run.one("aws:lambda/invocation:Invocation")
    assert json.loads(invocation.inputs["input"]) == {
        "schema": "app",
        "roles": [
            {"name": "ingest_writer", "access": "read-write"},
            {"name": "api_reader", "access": "read-only"},
        ],
        "iamAuth": True,
    }
    assert invocation.inputs["functionName"] == "lambda-private-db-dev-db-bootstrap"
    assert invocation.inputs["triggers"]["code"] == CODE.source_code_hash

    event = json.loads(secret_run.one("aws:lambda/invocation:Invocation").inputs["input"])
    arns = secret_run.result["user_secret_arns"]
    assert event["iamAuth"] is False
    assert event["roles"] == [
        {"name": "ingest_writer", "access": "read-write", "secretArn": arns["ingest_writer"]},
        {"name": "api_reader", "access": "read-only", "secretArn": arns["api_reader"]},
    ]


def test_bootstrap_invocation_waits_for_instance_grants_and_rules(secret_run):
    invocation = secret_run.one("aws:lambda/invocation:Invocation")
    needed = {secret_run.one(INSTANCE).urn}
    needed |= {a.urn for a in secret_run.of_type(ATTACHMENT)}
    needed |= {r.urn for r in secret_run.of_type(INGRESS) + secret_run.of_type(EGRESS)}
    assert needed <= set(invocation.dependencies)
    target = secret_run.one("aws:rds/proxyTarget:ProxyTarget")
    assert invocation.urn in target.dependencies
    assert target.inputs["dbInstanceIdentifier"] == secret_run.one(INSTANCE).state["identifier"]


def test_everything_encrypted_with_the_cmk(secret_run):
    kms_inputs = {
        "aws:rds/instance:Instance": (
            "kmsKeyId",
            "performanceInsightsKmsKeyId",
            "masterUserSecretKmsKeyId",
        ),
        "aws:secretsmanager/secret:Secret": ("kmsKeyId",),
        "aws:cloudwatch/logGroup:LogGroup": ("kmsKeyId",),
        "aws:lambda/function:Function": ("kmsKeyArn",),
    }
    checked = 0
    for token, keys in kms_inputs.items():
        for resource in secret_run.of_type(token):
            for key in keys:
                assert resource.inputs[key] == CMK_ARN, (resource.name, key)
                checked += 1
    assert checked == 3 + 2 + 2 + 1


# Args validation


def _valid_args(**overrides) -> dict:
    args = dict(
        vpc_id="vpc-1",
        data_subnet_ids=["subnet-a", "subnet-b"],
        app_subnet_ids=["subnet-c", "subnet-d"],
        endpoints_security_group_id="sg-1",
        kms_key_arn=CMK_ARN,
        code=CODE,
        db_users=USERS,
    )
    args.update(overrides)
    return args


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"auth_mode": "password"}, "auth_mode", "'password'"),
        ({"engine_version": "9.6"}, "engine_version", "major version 9"),
        ({"engine_version": "latest"}, "engine_version", "'latest'"),
        ({"instance_class": "db.x9.huge"}, "instance_class", "db.t4g.micro"),
        ({"data_subnet_ids": ["subnet-a"]}, "data_subnet_ids", "got 1"),
        ({"app_subnet_ids": []}, "app_subnet_ids", "got 0"),
        ({"db_users": ()}, "db_users", "empty"),
        ({"db_users": (DatabaseUser("Bad-Name", "read-only"),)}, "db_users[0].name", "Bad-Name"),
        ({"db_users": (DatabaseUser("pg_x", "read-only"),)}, "db_users[0].name", "reserved"),
        (
            {"db_users": USERS + (DatabaseUser("api_reader", "read-only"),)},
            "db_users[2].name",
            "repeats",
        ),
        (
            {"db_users": (DatabaseUser("app_admin", "read-only"),)},
            "db_users[0].name",
            "master_username",
        ),
        ({"db_users": (DatabaseUser("x", "admin"),)}, "db_users[0].access", "'admin'"),
        ({"backup_retention_days": 0}, "backup_retention_days", "got 0"),
        ({"statement_timeout_ms": 0}, "statement_timeout_ms", "got 0"),
        ({"max_connections_percent": 101}, "max_connections_percent", "got 101"),
        ({"max_idle_connections_percent": 95}, "max_idle_connections_percent", "exceed"),
        (
            {"performance_insights_retention_days": 30},
            "performance_insights_retention_days",
            "got 30",
        ),
        ({"max_allocated_storage_gib": 10}, "max_allocated_storage_gib", "got 10"),
        # RDS wants the ceiling at least 10% above the allocated 20 GiB: 22.
        ({"max_allocated_storage_gib": 21}, "max_allocated_storage_gib", "at least 22"),
        (
            {"master_secret_replica": MasterSecretReplica("west", REPLICA_CMK_ARN)},
            "master_secret_replica.region",
            "'west'",
        ),
        (
            {"master_secret_replica": MasterSecretReplica("us-west-2", "")},
            "master_secret_replica.kms_key_arn",
            "empty",
        ),
        ({"log_retention_days": 10}, "log_retention_days", "got 10"),
        ({"port": 80}, "port", "got 80"),
        ({"database_name": "App"}, "database_name", "'App'"),
        ({"code": "lambda.zip"}, "code", "LambdaPackage"),
    ],
)
def test_database_args_invalid_value_names_the_field(overrides, field, fragment):
    with pytest.raises(DatabaseArgsError) as caught:
        DatabaseArgs(**_valid_args(**overrides))
    message = str(caught.value)
    assert f"'{field}'" in message
    assert fragment in message


def test_database_args_reports_every_problem_at_once():
    with pytest.raises(DatabaseArgsError) as caught:
        DatabaseArgs(**_valid_args(port=1, backup_retention_days=0, auth_mode="x"))
    message = str(caught.value)
    assert "'port'" in message and "'backup_retention_days'" in message
    assert "'auth_mode'" in message


def test_database_args_defaults_are_valid():
    args = DatabaseArgs(**_valid_args())
    assert args.auth_mode == "iam"
    with pytest.raises(AttributeError):
        args.port = 1  # type: ignore[misc]


def test_database_component_name_invalid_creates_nothing():
    def program():
        DatabaseWithProxy("Bad_Name", DatabaseArgs(**_valid_args()))

    run = run_program(program)
    assert isinstance(run.error, DatabaseArgsError)
    assert "component name" in str(run.error) and "'Bad_Name'" in str(run.error)
    assert run.resources == []


# Pure helpers


@pytest.mark.parametrize(
    ("instance_class", "expected"),
    [
        ("db.t4g.micro", 112),  # 1 GiB / 9531392 B
        ("db.t3.small", 225),
        ("db.t4g.medium", 450),
        ("db.m6g.large", 901),
        ("db.r6g.large", 1802),
        ("db.r6g.2xlarge", 5000),  # 7208 capped at 5000
        ("db.r7g.16xlarge", 5000),
    ],
)
def test_instance_max_connections_follows_the_rds_formula(instance_class, expected):
    assert instance_max_connections(instance_class) == expected


def test_instance_max_connections_unknown_class_lists_known_ones():
    with pytest.raises(ValueError) as caught:
        instance_max_connections("db.t2.nano")
    message = str(caught.value)
    assert "'instance_class'" in message and "'db.t2.nano'" in message
    assert all(known in message for known in INSTANCE_CLASS_MEMORY_GIB)


@pytest.mark.parametrize(
    ("instance_class", "percent", "expected"),
    [
        ("db.t4g.micro", 100, 112),
        ("db.t4g.micro", 90, 100),  # 100.8 rounds down
        ("db.t4g.micro", 50, 56),
        ("db.t4g.micro", 1, 1),
        ("db.r6g.large", 75, 1351),  # 1802 * 0.75 = 1351.5
        ("db.r6g.4xlarge", 10, 500),
    ],
)
def test_proxy_connection_budget_rounds_down(instance_class, percent, expected):
    assert proxy_connection_budget(instance_class, percent) == expected


@pytest.mark.parametrize("percent", [0, 101, 50.5, True])
def test_proxy_connection_budget_rejects_bad_percent(percent):
    with pytest.raises(ValueError, match="'max_connections_percent'"):
        proxy_connection_budget("db.t4g.micro", percent)


@pytest.mark.parametrize(
    ("version", "family"),
    [("16.4", "postgres16"), ("17", "postgres17"), ("13.20", "postgres13"), ("15.8", "postgres15")],
)
def test_parameter_group_family_from_major_version(version, family):
    assert parameter_group_family(version) == family


@pytest.mark.parametrize("version", ["12.19", "16.4.1", "v16", "", "18.0.0"])
def test_parameter_group_family_rejects_unsupported_versions(version):
    with pytest.raises(ValueError, match="'engine_version'"):
        parameter_group_family(version)


def test_proxy_resource_id_from_arn_extracts_the_prx_id():
    arn = "arn:aws:rds:us-east-1:123456789012:db-proxy:prx-0123456789abcdef0"
    assert proxy_resource_id_from_arn(arn) == "prx-0123456789abcdef0"
    with pytest.raises(ValueError, match="prx-"):
        proxy_resource_id_from_arn("arn:aws:rds:us-east-1:123456789012:db:mydb")


@pytest.mark.parametrize(
    ("allocated", "minimum"), [(20, 22), (100, 110), (101, 112), (1000, 1100), (65536, 72090)]
)
def test_min_max_allocated_storage_gib_is_ten_percent_above_rounded_up(allocated, minimum):
    assert min_max_allocated_storage_gib(allocated) == minimum


def test_database_args_accept_the_smallest_autoscaling_ceiling():
    assert DatabaseArgs(**_valid_args(max_allocated_storage_gib=22)).max_allocated_storage_gib == 22


# Derived names, logs, versions and the network


def test_database_names_carry_project_and_stack():
    names = database_names("lambda-private-db", "prod", "database")
    assert names.instance_identifier == "lambda-private-db-prod-database"
    assert names.final_snapshot_identifier == "lambda-private-db-prod-database-final"
    assert names.postgresql_log_group == (
        "/aws/rds/instance/lambda-private-db-prod-database/postgresql"
    )
    assert names.bootstrap_function == "lambda-private-db-prod-database-bootstrap"


@pytest.mark.parametrize("stack", ["blue_green", "dev.eu", "dev-", "a--b"])
def test_database_names_refuse_a_stack_rds_identifiers_cannot_hold(stack):
    with pytest.raises(DatabaseArgsError) as caught:
        database_names("lambda-private-db", stack, "database")
    message = str(caught.value)
    assert "instance identifier" in message and f"stack {stack!r}" in message


def test_database_component_with_a_bad_stack_name_creates_nothing():
    def program():
        DatabaseWithProxy("db", DatabaseArgs(**_valid_args()))

    run = run_program(program, stack="blue_green")
    assert isinstance(run.error, DatabaseArgsError)
    assert "stack 'blue_green'" in str(run.error)
    assert run.resources == []


def test_postgresql_log_group_is_made_first_with_the_cmk_and_retention(iam_run):
    instance = iam_run.one(INSTANCE)
    log_group = iam_run.one("aws:cloudwatch/logGroup:LogGroup", "db-postgresql-logs")
    assert log_group.inputs["name"] == "/aws/rds/instance/lambda-private-db-dev-db/postgresql"
    assert (
        log_group.inputs["name"] == f"/aws/rds/instance/{instance.inputs['identifier']}/postgresql"
    )
    assert log_group.inputs["kmsKeyId"] == CMK_ARN
    assert log_group.inputs["retentionInDays"] == 30
    assert log_group.urn in instance.dependencies


def test_engine_version_defaults_to_a_major_and_allows_major_upgrades(iam_run):
    inputs = iam_run.one(INSTANCE).inputs
    assert inputs["engineVersion"] == "16"
    assert inputs["autoMinorVersionUpgrade"] is True
    assert inputs["allowMajorVersionUpgrade"] is True
    assert not [m for level, m in iam_run.logs if level == "warning"]


def test_engine_version_with_a_minor_is_warned_about():
    run = _run_database(engine_version="16.4")
    warnings = [m for level, m in run.logs if level == "warning"]
    assert any(
        m.startswith("DatabaseArgs.engine_version is '16.4', which pins a minor version")
        and "('16')" in m
        for m in warnings
    ), warnings


def test_engine_version_warning_names_the_setting_it_is_given():
    run = _run_database(engine_version="16.4", engine_version_setting="'app:dbEngineVersion'")
    warnings = [m for level, m in run.logs if level == "warning"]
    assert any(m.startswith("'app:dbEngineVersion' is '16.4'") for m in warnings), warnings
    assert not any("engine_version" in m for m in warnings), warnings


def test_api_reaching_resources_wait_for_the_network():
    run = _run_database(with_network=True, auth_mode="secret")
    network = {
        run.one("aws:ec2/routeTable:RouteTable").urn,
        run.one("aws:ec2/vpcEndpoint:VpcEndpoint").urn,
    }
    for token in (PROXY, FUNCTION, "aws:lambda/invocation:Invocation"):
        assert network <= set(run.one(token).dependencies), token


def test_master_password_without_replica_is_managed_by_rds(iam_run):
    inputs = iam_run.one(INSTANCE).inputs
    assert inputs["manageMasterUserPassword"] is True
    assert "passwordWo" not in inputs
    assert not [token for token, _ in iam_run.invokes if token.endswith("getRandomPassword")]
    assert iam_run.of_type("aws:secretsmanager/secretVersion:SecretVersion") == []


def test_master_password_with_replica_lives_in_a_replicated_secret_of_our_own():
    run = _run_database(
        master_secret_replica=MasterSecretReplica("us-west-2", REPLICA_CMK_ARN),
        auth_mode="secret",
    )
    instance = run.one(INSTANCE)
    secret = run.one("aws:secretsmanager/secret:Secret", "db-master")
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion")

    assert "manageMasterUserPassword" not in instance.inputs
    assert "masterUserSecretKmsKeyId" not in instance.inputs
    assert "passwordWo" in instance.secret_inputs
    assert instance.inputs["passwordWoVersion"] == 1
    assert secret.inputs["kmsKeyId"] == CMK_ARN
    assert secret.inputs["replicas"] == [{"region": "us-west-2", "kmsKeyId": REPLICA_CMK_ARN}]
    assert version.inputs["secretId"] == secret.id
    assert "secretStringWo" in version.secret_inputs
    value = json.loads(version.inputs["secretStringWo"]["value"])
    assert value == {"username": "app_admin", "password": instance.inputs["passwordWo"]["value"]}
    # The master secret ARN keeps its meaning: what the bootstrap reads, the component exports.
    assert run.result["master_secret_arn"] == secret.state["arn"]
    env = run.one(FUNCTION).inputs["environment"]["variables"]
    assert env["DB_SECRET_ARN"] == secret.state["arn"]
    # The tier secrets of secret mode are still there beside it.
    names = {s.name for s in run.of_type("aws:secretsmanager/secret:Secret")}
    assert names == {"db-master", "db-user-ingest_writer", "db-user-api_reader"}
