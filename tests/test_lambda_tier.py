"""LambdaTier under Pulumi mocks: network, identity, logs, queues, triggers; Args validation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pulumi_aws as aws
import pytest

from components.lambda_package import LambdaPackage
from components.lambda_tier import (
    HttpTrigger,
    LambdaTier,
    LambdaTierArgs,
    LambdaTierArgsError,
    SqsTrigger,
    minimum_visibility_timeout_seconds,
    tier_policy_document,
)
from tests.support.pulumi_mocks import ACCOUNT_ID, REGION, ProgramRun, RecordingMocks, run_program

CMK_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
CODE = LambdaPackage(path=Path("build/lambda.zip"), source_code_hash="c2hhMjU2LW9mLXRoZS16aXA=")
PROXY_ID = "prx-0123456789abcdef0"
PROXY_HOST = "db-proxy.proxy-c0ffee.us-east-1.rds.amazonaws.com"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:tier-api_reader-AbCdEf"

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
FUNCTION = "aws:lambda/function:Function"
QUEUE = "aws:sqs/queue:Queue"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
POLICY = "aws:iam/policy:Policy"


class TierMocks(RecordingMocks):
    """The shared mocks, with an alias ARN shaped like Lambda's (function ARN:alias name)."""

    def new_resource(self, args):
        resource_id, state = super().new_resource(args)
        if args.typ == "aws:lambda/alias:Alias":
            state["arn"] = (
                f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{state['functionName']}:"
                f"{state['name']}"
            )
        return resource_id, state


def _run_tier(name: str = "ingest", **overrides) -> ProgramRun:
    """The tier in a VPC with two AZs of app subnets, a proxy group and an endpoints group."""

    def program():
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        app = [
            aws.ec2.Subnet(
                f"app-{i}",
                vpc_id=vpc.id,
                cidr_block=f"10.0.{i}.0/24",
                availability_zone=f"{REGION}{zone}",
            )
            for i, zone in enumerate("ab")
        ]
        proxy_group = aws.ec2.SecurityGroup("proxy", vpc_id=vpc.id)
        endpoints = aws.ec2.SecurityGroup("endpoints", vpc_id=vpc.id)
        args = dict(
            handler="lambda_src.handlers.writer.handler",
            code=CODE,
            db_user="ingest_writer",
            vpc_id=vpc.id,
            app_subnet_ids=[s.id for s in app],
            proxy_security_group_id=proxy_group.id,
            endpoints_security_group_id=endpoints.id,
            kms_key_arn=CMK_ARN,
            db_host=PROXY_HOST,
            db_port=5432,
            db_name="app",
            proxy_resource_id=PROXY_ID,
            trigger=SqsTrigger(batch_size=10, maximum_concurrency=4),
        )
        args.update(overrides)
        tier = LambdaTier(name, LambdaTierArgs(**args))
        return {
            "function_name": tier.function_name,
            "function_arn": tier.function_arn,
            "role_arn": tier.role_arn,
            "security_group_id": tier.security_group_id,
            "dlq_arn": tier.dlq_arn,
            "alias_arn": tier.alias_arn,
            "queue_url": tier.queue_url,
            "queue_arn": tier.queue_arn,
            "api_endpoint": tier.api_endpoint,
        }

    run = run_program(program, mocks=TierMocks())
    assert run.error is None, run.user_message
    return run


@pytest.fixture(scope="module")
def sqs_run() -> ProgramRun:
    return _run_tier()


@pytest.fixture(scope="module")
def http_run() -> ProgramRun:
    return _run_tier(
        "api",
        handler="lambda_src.handlers.reader.handler",
        db_user="api_reader",
        trigger=HttpTrigger(),
        provisioned_concurrency=2,
        reserved_concurrency=4,
        timeout_seconds=10,
    )


def _statements(run: ProgramRun) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(run.one(POLICY).inputs["policy"])["Statement"]}


def _sg_id(run: ProgramRun, name: str) -> str:
    return run.one(SG, name).id


# Resources and properties


def test_lambda_tier_sqs_creates_expected_resources(sqs_run):
    counts = sqs_run.count_by_type()
    assert counts[FUNCTION] == 1
    assert counts[QUEUE] == 3  # the function's DLQ, the trigger queue and its DLQ
    assert counts["aws:lambda/eventSourceMapping:EventSourceMapping"] == 1
    assert counts[LOG_GROUP] == 1
    assert counts["aws:iam/role:Role"] == 1
    assert counts[POLICY] == 1
    assert counts[ATTACHMENT] == 2
    assert counts["aws:apigatewayv2/api:Api"] == 0
    assert counts["aws:lambda/alias:Alias"] == 0
    component = sqs_run.one("lambda-private-db:components:LambdaTier", "ingest")
    outside = {"vpc", "app-0", "app-1", "proxy", "endpoints", "ingest"}
    for resource in sqs_run.resources:
        if resource.name not in outside:
            assert resource.parent == component.urn, resource.name


def test_function_settings_and_environment(sqs_run):
    function = sqs_run.one(FUNCTION)
    inputs = function.inputs
    assert inputs["name"] == "lambda-private-db-dev-ingest"
    assert inputs["runtime"] == "python3.13"
    assert inputs["architectures"] == ["arm64"]
    assert inputs["handler"] == "lambda_src.handlers.writer.handler"
    assert inputs["tracingConfig"] == {"mode": "Active"}
    assert inputs["kmsKeyArn"] == CMK_ARN
    assert inputs["reservedConcurrentExecutions"] == 5
    assert inputs["publish"] is False
    assert inputs["sourceCodeHash"] == CODE.source_code_hash
    assert inputs["deadLetterConfig"] == {"targetArn": sqs_run.result["dlq_arn"]}
    assert inputs["vpcConfig"]["securityGroupIds"] == [_sg_id(sqs_run, "ingest-fn")]
    assert inputs["environment"]["variables"] == {
        "DB_HOST": PROXY_HOST,
        "DB_PORT": "5432",
        "DB_NAME": "app",
        "DB_USER": "ingest_writer",
        "DB_AUTH_MODE": "iam",
        "DB_ENDPOINT_KIND": "proxy",
        "DB_REGION": REGION,
        "LOG_LEVEL": "INFO",
    }
    assert sqs_run.result["function_name"] == "lambda-private-db-dev-ingest"
    assert sqs_run.result["function_arn"] == function.state["arn"]


def test_function_runs_in_app_subnets_of_two_zones(sqs_run):
    zone_of = {s.id: s.inputs["availabilityZone"] for s in sqs_run.of_type("aws:ec2/subnet:Subnet")}
    subnets = sqs_run.one(FUNCTION).inputs["vpcConfig"]["subnetIds"]
    assert len(subnets) == 2
    assert {zone_of[s] for s in subnets} == {f"{REGION}a", f"{REGION}b"}


def test_function_depends_on_its_role_attachments_and_log_group(sqs_run):
    function = sqs_run.one(FUNCTION)
    attachments = sqs_run.of_type(ATTACHMENT)
    assert {a.inputs["role"] for a in attachments} == {sqs_run.one("aws:iam/role:Role").id}
    assert {a.urn for a in attachments} <= set(function.dependencies)
    assert sqs_run.one(LOG_GROUP).urn in function.dependencies


def test_log_group_is_the_functions_and_encrypted(sqs_run):
    log_group = sqs_run.one(LOG_GROUP).inputs
    assert log_group["name"] == "/aws/lambda/lambda-private-db-dev-ingest"
    assert log_group["kmsKeyId"] == CMK_ARN
    assert log_group["retentionInDays"] == 30
    assert sqs_run.one(FUNCTION).inputs["loggingConfig"]["logGroup"] == log_group["name"]


def test_security_group_rules_reference_groups_and_no_cidr(sqs_run):
    tier = _sg_id(sqs_run, "ingest-fn")
    proxy = _sg_id(sqs_run, "proxy")
    endpoints = _sg_id(sqs_run, "endpoints")
    tier_group = sqs_run.one(SG, "ingest-fn").inputs
    assert "ingress" not in tier_group and "egress" not in tier_group
    assert "internet-egress" not in tier_group["tags"]
    rules = sqs_run.of_type(INGRESS) + sqs_run.of_type(EGRESS)
    for rule in rules:
        assert not {"cidrIpv4", "cidrIpv6"} & set(rule.inputs), rule.name

    def edges(token):
        return {
            (
                r.inputs["securityGroupId"],
                r.inputs["referencedSecurityGroupId"],
                r.inputs["fromPort"],
                r.inputs["toPort"],
            )
            for r in sqs_run.of_type(token)
        }

    assert edges(EGRESS) == {(tier, proxy, 5432, 5432), (tier, endpoints, 443, 443)}
    assert edges(INGRESS) == {(proxy, tier, 5432, 5432), (endpoints, tier, 443, 443)}
    assert sqs_run.result["security_group_id"] == tier


def test_internet_egress_only_on_443_from_a_tagged_group():
    run = _run_tier(internet_egress=True, nat_available=True)
    group = run.one(SG, "ingest-fn")
    assert group.inputs["tags"]["internet-egress"] == "true"
    internet = [r for r in run.of_type(EGRESS) if "cidrIpv4" in r.inputs]
    assert len(internet) == 1
    assert internet[0].inputs["cidrIpv4"] == "0.0.0.0/0"
    assert internet[0].inputs["securityGroupId"] == group.id
    assert (internet[0].inputs["fromPort"], internet[0].inputs["toPort"]) == (443, 443)
    assert all("cidrIpv4" not in r.inputs for r in run.of_type(INGRESS))


def test_policy_grants_rds_db_connect_on_the_proxy_dbuser_arn_exactly(sqs_run):
    statement = _statements(sqs_run)["ConnectAsTierUser"]
    assert statement["Action"] == "rds-db:connect"
    assert statement["Resource"] == (
        f"arn:aws:rds-db:{REGION}:{ACCOUNT_ID}:dbuser:{PROXY_ID}/ingest_writer"
    )


def test_policy_scopes_every_statement_to_named_resources(sqs_run):
    statements = _statements(sqs_run)
    assert set(statements) == {
        "ConnectAsTierUser",
        "UseStackKey",
        "SendToDeadLetterQueue",
        "ConsumeTriggerQueue",
        "WriteTraces",
    }
    assert statements["UseStackKey"]["Resource"] == CMK_ARN
    assert statements["UseStackKey"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statements["SendToDeadLetterQueue"] == {
        "Sid": "SendToDeadLetterQueue",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": sqs_run.result["dlq_arn"],
    }
    consume = statements["ConsumeTriggerQueue"]
    assert consume["Resource"] == sqs_run.result["queue_arn"]
    assert set(consume["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }
    for sid, statement in statements.items():
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all(a != "*" and not a.endswith(":*") for a in actions), sid
        if statement["Resource"] == "*":
            assert sid == "WriteTraces"
            assert set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    managed = {a.inputs["policyArn"] for a in sqs_run.of_type(ATTACHMENT)}
    assert managed == {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        sqs_run.one(POLICY).state["arn"],
    }


def test_role_trusts_lambda_only(sqs_run):
    trust = json.loads(sqs_run.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
        }
    ]


def test_secret_mode_reads_the_one_secret_instead_of_connecting_with_iam():
    # A password works only straight to the instance; the proxy requires IAM from clients.
    run = _run_tier(auth_mode="secret", db_secret_arn=SECRET_ARN, endpoint_kind="instance")
    statements = _statements(run)
    assert "ConnectAsTierUser" not in statements
    assert statements["ReadTierSecret"]["Action"] == "secretsmanager:GetSecretValue"
    assert statements["ReadTierSecret"]["Resource"] == SECRET_ARN
    variables = run.one(FUNCTION).inputs["environment"]["variables"]
    assert variables["DB_AUTH_MODE"] == "secret"
    assert variables["DB_SECRET_ARN"] == SECRET_ARN
    assert variables["DB_ENDPOINT_KIND"] == "instance"


def test_sqs_trigger_queues_are_encrypted_with_redrive_and_visibility(sqs_run):
    queues = {q.name: q for q in sqs_run.of_type(QUEUE)}
    assert set(queues) == {"ingest-dlq", "ingest-queue-dlq", "ingest-queue"}
    for queue in queues.values():
        assert queue.inputs["kmsMasterKeyId"] == CMK_ARN, queue.name
    trigger = queues["ingest-queue"].inputs
    timeout = sqs_run.one(FUNCTION).inputs["timeout"]
    assert trigger["visibilityTimeoutSeconds"] >= 6 * timeout
    assert trigger["visibilityTimeoutSeconds"] == 6 * 15 + 0
    assert json.loads(trigger["redrivePolicy"]) == {
        "deadLetterTargetArn": queues["ingest-queue-dlq"].state["arn"],
        "maxReceiveCount": 5,
    }
    assert sqs_run.result["queue_url"] == queues["ingest-queue"].state["url"]


def test_sqs_trigger_visibility_timeout_counts_the_batching_window():
    run = _run_tier(
        timeout_seconds=20,
        trigger=SqsTrigger(batch_size=100, maximum_batching_window_seconds=5),
    )
    queue = run.one(QUEUE, "ingest-queue")
    assert queue.inputs["visibilityTimeoutSeconds"] == 6 * 20 + 5


def test_event_source_mapping_reports_batch_item_failures(sqs_run):
    mapping = sqs_run.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.inputs["eventSourceArn"] == sqs_run.result["queue_arn"]
    assert mapping.inputs["functionName"] == sqs_run.result["function_arn"]
    assert mapping.inputs["batchSize"] == 10
    assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": 4}
    access = sqs_run.one(ATTACHMENT, "ingest-access")
    assert access.urn in mapping.dependencies


def test_http_trigger_routes_to_the_alias_with_a_scoped_permission(http_run):
    api = http_run.one("aws:apigatewayv2/api:Api")
    assert api.inputs["protocolType"] == "HTTP"
    alias_arn = http_run.result["alias_arn"]
    assert alias_arn.endswith(":live")
    integration = http_run.one("aws:apigatewayv2/integration:Integration")
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert integration.inputs["integrationUri"] == alias_arn
    assert integration.inputs["timeoutMilliseconds"] == 11_000
    routes = http_run.of_type("aws:apigatewayv2/route:Route")
    assert {r.inputs["routeKey"] for r in routes} == {"GET /items", "GET /items/{id}"}
    assert {r.inputs["target"] for r in routes} == {f"integrations/{integration.id}"}

    permission = http_run.one("aws:lambda/permission:Permission").inputs
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["qualifier"] == "live"
    assert permission["sourceArn"] == f"{api.state['executionArn']}/*/*"
    assert http_run.result["api_endpoint"] == api.state["apiEndpoint"]
    assert http_run.result["queue_url"] is None


def test_http_trigger_stage_logs_access_to_an_encrypted_group(http_run):
    stage = http_run.one("aws:apigatewayv2/stage:Stage").inputs
    assert stage["name"] == "$default"
    assert stage["autoDeploy"] is True
    access_logs = http_run.one(LOG_GROUP, "api-api-logs")
    assert stage["accessLogSettings"]["destinationArn"] == access_logs.state["arn"]
    assert "$context.requestId" in stage["accessLogSettings"]["format"]
    assert access_logs.inputs["kmsKeyId"] == CMK_ARN
    assert access_logs.inputs["retentionInDays"] == 30
    assert stage["defaultRouteSettings"] == {
        "throttlingBurstLimit": 50,
        "throttlingRateLimit": 100.0,
    }


def test_provisioned_concurrency_uses_a_published_version_and_alias(http_run):
    function = http_run.one(FUNCTION)
    assert function.inputs["publish"] is True
    alias = http_run.one("aws:lambda/alias:Alias").inputs
    assert alias["name"] == "live"
    assert alias["functionVersion"] == function.state["version"]
    warm = http_run.one(
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"
    ).inputs
    assert warm["qualifier"] == "live"
    assert warm["provisionedConcurrentExecutions"] == 2
    assert warm["functionName"] == function.inputs["name"]


def test_tier_without_trigger_has_no_queue_or_api():
    run = _run_tier(trigger=None)
    assert {q.name for q in run.of_type(QUEUE)} == {"ingest-dlq"}
    assert not run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    assert not run.of_type("aws:apigatewayv2/api:Api")
    assert "ConsumeTriggerQueue" not in _statements(run)
    assert run.result["queue_arn"] is None and run.result["api_endpoint"] is None


# Args validation


def _valid_args(**overrides) -> dict:
    args = dict(
        handler="lambda_src.handlers.writer.handler",
        code=CODE,
        db_user="ingest_writer",
        vpc_id="vpc-1",
        app_subnet_ids=["subnet-a", "subnet-b"],
        proxy_security_group_id="sg-proxy",
        endpoints_security_group_id="sg-endpoints",
        kms_key_arn=CMK_ARN,
        db_host=PROXY_HOST,
        db_port=5432,
        db_name="app",
        proxy_resource_id=PROXY_ID,
    )
    args.update(overrides)
    return args


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"handler": "writer"}, "handler", "'writer'"),
        ({"db_user": "Ingest"}, "db_user", "'Ingest'"),
        ({"auth_mode": "password"}, "auth_mode", "'password'"),
        ({"auth_mode": "secret"}, "db_secret_arn", "required"),
        ({"db_secret_arn": SECRET_ARN}, "db_secret_arn", "auth_mode is 'iam'"),
        ({"auth_mode": "secret", "db_secret_arn": SECRET_ARN}, "auth_mode", "require IAM"),
        ({"endpoint_kind": "cluster"}, "endpoint_kind", "'cluster'"),
        ({"app_subnet_ids": ["subnet-a"]}, "app_subnet_ids", "got 1"),
        ({"memory_mb": 64}, "memory_mb", "got 64"),
        ({"timeout_seconds": 901}, "timeout_seconds", "got 901"),
        ({"reserved_concurrency": 0}, "reserved_concurrency", "got 0"),
        ({"provisioned_concurrency": 6}, "provisioned_concurrency", "got 6"),
        ({"log_retention_days": 2}, "log_retention_days", "got 2"),
        ({"log_level": "TRACE"}, "log_level", "'TRACE'"),
        ({"internet_egress": True}, "internet_egress", "no NAT gateway"),
        ({"trigger": "sqs"}, "trigger", "'sqs'"),
        ({"trigger": SqsTrigger(batch_size=0)}, "trigger.batch_size", "got 0"),
        ({"trigger": SqsTrigger(batch_size=50)}, "trigger.batch_size", "batching window"),
        ({"trigger": SqsTrigger(maximum_concurrency=1)}, "trigger.maximum_concurrency", "got 1"),
        (
            {"trigger": SqsTrigger(maximum_concurrency=6)},
            "trigger.maximum_concurrency",
            "'reserved_concurrency' (5)",
        ),
        (
            {"trigger": SqsTrigger(visibility_timeout_seconds=60)},
            "trigger.visibility_timeout_seconds",
            "(90 s)",
        ),
        ({"trigger": SqsTrigger(max_receive_count=0)}, "trigger.max_receive_count", "got 0"),
        ({"trigger": HttpTrigger(route_keys=())}, "trigger.route_keys", "empty"),
        ({"trigger": HttpTrigger(route_keys=("items",))}, "trigger.route_keys[0]", "'items'"),
        (
            {"trigger": HttpTrigger(route_keys=("GET /a", "GET /a"))},
            "trigger.route_keys",
            "repeats",
        ),
        ({"trigger": HttpTrigger(), "timeout_seconds": 60}, "timeout_seconds", "30 s"),
        ({"network_resources": ["vpc-0123"]}, "network_resources", "'vpc-0123'"),
        (
            {"trigger": HttpTrigger(throttling_rate_limit=0)},
            "trigger.throttling_rate_limit",
            "got 0",
        ),
    ],
)
def test_lambda_tier_args_invalid_value_names_the_field(overrides, field, fragment):
    with pytest.raises(LambdaTierArgsError) as caught:
        LambdaTierArgs(**_valid_args(**overrides))
    message = str(caught.value)
    assert f"'{field}'" in message
    assert fragment in message


def test_lambda_tier_args_reports_every_problem_at_once():
    with pytest.raises(LambdaTierArgsError) as caught:
        LambdaTierArgs(**_valid_args(memory_mb=1, log_level="x", handler="h"))
    message = str(caught.value)
    assert all(f"'{f}'" in message for f in ("memory_mb", "log_level", "handler"))


def test_lambda_tier_args_are_frozen():
    args = LambdaTierArgs(**_valid_args())
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.memory_mb = 1024  # type: ignore[misc]


def test_lambda_tier_bad_component_name_creates_nothing():
    def program():
        LambdaTier("Ingest Tier", LambdaTierArgs(**_valid_args()))

    run = run_program(program, mocks=TierMocks())
    assert isinstance(run.error, LambdaTierArgsError)
    assert "'Ingest Tier'" in str(run.error)
    assert run.resources == []


# Pure helpers


@pytest.mark.parametrize(
    ("timeout", "window", "expected"), [(15, 0, 90), (30, 0, 180), (20, 5, 125), (900, 0, 5400)]
)
def test_minimum_visibility_timeout_is_six_timeouts_plus_window(timeout, window, expected):
    assert minimum_visibility_timeout_seconds(timeout, window) == expected


def test_tier_policy_document_secret_mode_without_queue():
    document = tier_policy_document(
        partition="aws-us-gov",
        region="us-gov-west-1",
        account_id=ACCOUNT_ID,
        proxy_resource_id=PROXY_ID,
        db_user="api_reader",
        iam_auth=False,
        kms_key_arn=CMK_ARN,
        dlq_arn="arn:aws-us-gov:sqs:us-gov-west-1:123456789012:dlq",
        secret_arn=SECRET_ARN,
    )
    sids = [s["Sid"] for s in document["Statement"]]
    assert sids == ["ReadTierSecret", "UseStackKey", "SendToDeadLetterQueue", "WriteTraces"]


def test_tier_policy_document_builds_dbuser_arn_in_the_partition():
    document = tier_policy_document(
        partition="aws-cn",
        region="cn-north-1",
        account_id=ACCOUNT_ID,
        proxy_resource_id=PROXY_ID,
        db_user="api_reader",
        iam_auth=True,
        kms_key_arn=CMK_ARN,
        dlq_arn="arn:aws-cn:sqs:cn-north-1:123456789012:dlq",
    )
    connect = document["Statement"][0]
    assert connect["Resource"] == (
        f"arn:aws-cn:rds-db:cn-north-1:{ACCOUNT_ID}:dbuser:{PROXY_ID}/api_reader"
    )
