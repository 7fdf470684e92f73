"""A Lambda function in the VPC that reaches PostgreSQL through the RDS Proxy, with its trigger."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.database import (
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    LAMBDA_VPC_ACCESS_POLICY,
    LOG_RETENTION_DAYS,
    check_range,
    is_whole_number,
    lambda_function_name,
    rds_db_user_arn,
    validate_component_name,
)
from components.lambda_package import LambdaPackage
from components.security_groups import allow_from_group, allow_to_group

COMPONENT_TYPE = "lambda-private-db:components:LambdaTier"

HTTPS_PORT = 443
INTERNET_EGRESS_TAG = "internet-egress"
ALIAS_NAME = "live"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Lambda's guidance for SQS sources: a visibility timeout of at least six times the function
# timeout plus the batching window, so a batch still being retried is not handed out again.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200
# Maximum concurrency of an SQS event source mapping: AWS accepts 2 to 1000.
MIN_SQS_MAXIMUM_CONCURRENCY = 2
MAX_SQS_MAXIMUM_CONCURRENCY = 1000
# API Gateway gives up on an integration after 30 seconds. The integration waits one second
# longer than the function may run, so that the function's own timeout, not API Gateway's,
# ends a request that runs too long: a function behind an HTTP API may run 29 seconds at most.
MAX_HTTP_INTEGRATION_TIMEOUT_SECONDS = 30
MAX_HTTP_FUNCTION_TIMEOUT_SECONDS = MAX_HTTP_INTEGRATION_TIMEOUT_SECONDS - 1

_HANDLER = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_DB_USER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ROUTE_KEY = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) /[\w{}+/.-]*$")

_SQS_CONSUMER_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)

_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
        "integrationLatency": "$context.integrationLatency",
    }
)


class LambdaTierArgsError(ValueError):
    """LambdaTierArgs failed validation; the message names every bad field and its fix."""


@dataclass(frozen=True)
class SqsTrigger:
    """Feed the function from an SQS queue of its own.

    batch_size: messages per invocation (1-10, or up to 10000 with a batching window).
    maximum_batching_window_seconds: how long Lambda gathers a batch (0-300).
    maximum_concurrency: ceiling on concurrent invocations from the queue (2-1000); each holds
        one database connection, so it must not exceed the tier's reserved concurrency.
    max_receive_count: receives before a message moves to the queue's dead-letter queue.
    message_retention_seconds: how long the queue keeps a message (60 s to 14 days).
    visibility_timeout_seconds: None = six times the function timeout plus the batching window.
    """

    batch_size: int = 10
    maximum_batching_window_seconds: int = 0
    maximum_concurrency: int = 2
    max_receive_count: int = 5
    message_retention_seconds: int = 4 * 24 * 3600
    visibility_timeout_seconds: int | None = None


@dataclass(frozen=True)
class HttpTrigger:
    """Serve the function through an API Gateway HTTP API (payload format 2.0).

    route_keys: "METHOD /path" routes to the function.
    throttling_burst_limit / throttling_rate_limit: the stage's default throttling.
    access_log_retention_days: retention of the KMS-encrypted access log group.
    """

    route_keys: tuple[str, ...] = ("GET /items", "GET /items/{id}")
    throttling_burst_limit: int = 50
    throttling_rate_limit: float = 100.0
    access_log_retention_days: int = 30


@dataclass(frozen=True)
class LambdaTierArgs:
    """Inputs of LambdaTier; all checked in __post_init__, before any resource exists.

    handler: the function's handler, e.g. "lambda_src.handlers.writer.handler".
    code: the Lambda code package (build_lambda_package()).
    db_user: the database role the function logs in as (DB_USER).
    vpc_id / app_subnet_ids: the VPC and its private app subnets, one per AZ.
    proxy_security_group_id / endpoints_security_group_id: the groups this tier may reach; the
        tier adds the matching ingress rules to them.
    kms_key_arn: the customer-managed key for the environment, logs and queues.
    db_host / db_port / db_name: where to connect (the proxy endpoint, by default).
    proxy_resource_id: the proxy's "prx-..." id, for the rds-db:connect resource.
    auth_mode: "iam" (an IAM token per connection; rds-db:connect) or "secret" (a password
        from db_secret_arn; GetSecretValue). Through the RDS Proxy only "iam" works: the proxy
        requires IAM from its clients whatever it uses towards the database.
    db_secret_arn: the one secret the function reads, with auth_mode "secret" only.
    endpoint_kind: "proxy" or "instance"; chooses the TLS trust bundle in the function.
    memory_mb / timeout_seconds: the function's size and time limit.
    reserved_concurrency: the most concurrent executions, hence database connections.
    provisioned_concurrency: 0 = none; otherwise kept warm on a published version and alias.
    log_retention_days / log_level: the function's log group retention and LOG_LEVEL.
    trigger: SqsTrigger, HttpTrigger or None.
    internet_egress: allow HTTPS to the internet; needs nat_available.
    nat_available: whether the network has a NAT gateway.
    network_resources: what the function needs in place before it can run, usually the Network
        component (its route tables, ACL and VPC endpoints). The function, and with it its
        trigger, alias and provisioned concurrency, is created only after them, so its first
        invocations do not fail for want of a route or an endpoint.
    tags: added to every taggable resource.
    """

    handler: str
    code: LambdaPackage
    db_user: str
    vpc_id: pulumi.Input[str]
    app_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    proxy_security_group_id: pulumi.Input[str]
    endpoints_security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: pulumi.Input[str]
    proxy_resource_id: pulumi.Input[str]
    auth_mode: Literal["iam", "secret"] = "iam"
    db_secret_arn: pulumi.Input[str] | None = None
    endpoint_kind: Literal["proxy", "instance"] = "proxy"
    memory_mb: int = 512
    timeout_seconds: int = 15
    reserved_concurrency: int = 5
    provisioned_concurrency: int = 0
    log_retention_days: int = 30
    log_level: str = "INFO"
    trigger: SqsTrigger | HttpTrigger | None = None
    internet_egress: bool = False
    nat_available: bool = False
    network_resources: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = validate_lambda_tier_args(self)
        if problems:
            raise LambdaTierArgsError("; ".join(problems))


class LambdaTier(pulumi.ComponentResource):
    """One function of the application with its network, identity, logs, DLQ and trigger.

    Outputs: function_name, function_arn, role_arn, security_group_id, dlq_arn, alias_arn (with
    provisioned concurrency, else None), queue_url and queue_arn (SQS trigger, else None),
    api_endpoint (HTTP trigger, else None).
    """

    def __init__(
        self, name: str, args: LambdaTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = validate_component_name(name)
        function_name = None
        try:
            function_name = lambda_function_name(pulumi.get_project(), pulumi.get_stack(), name)
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise LambdaTierArgsError("; ".join(problems))

        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        tags = dict(args.tags)
        sqs_trigger = args.trigger if isinstance(args.trigger, SqsTrigger) else None
        http_trigger = args.trigger if isinstance(args.trigger, HttpTrigger) else None

        # The tier's own group: egress to the proxy and the endpoints only, and the matching
        # ingress rules on their groups, all between groups. The policy pack allows egress to
        # 0.0.0.0/0 on 443 only from groups tagged for it.
        group_tags = {**tags, "Name": name}
        if args.internet_egress:
            group_tags[INTERNET_EGRESS_TAG] = "true"
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-fn",
            vpc_id=args.vpc_id,
            description=f"Lambda tier {name}: egress to the RDS Proxy and the endpoints only",
            tags=group_tags,
            opts=child,
        )
        rules = [
            allow_to_group(
                f"{name}-to-proxy",
                group_id=self.security_group.id,
                peer_group_id=args.proxy_security_group_id,
                port=args.db_port,
                description="PostgreSQL to the RDS Proxy",
                opts=child,
            ),
            allow_from_group(
                f"{name}-proxy-from-fn",
                group_id=args.proxy_security_group_id,
                peer_group_id=self.security_group.id,
                port=args.db_port,
                description=f"PostgreSQL from Lambda tier {name}",
                opts=child,
            ),
            allow_to_group(
                f"{name}-to-endpoints",
                group_id=self.security_group.id,
                peer_group_id=args.endpoints_security_group_id,
                port=HTTPS_PORT,
                description="HTTPS to the interface endpoints",
                opts=child,
            ),
            allow_from_group(
                f"{name}-endpoints-from-fn",
                group_id=args.endpoints_security_group_id,
                peer_group_id=self.security_group.id,
                port=HTTPS_PORT,
                description=f"HTTPS from Lambda tier {name}",
                opts=child,
            ),
        ]
        if args.internet_egress:
            rules.append(
                aws.vpc.SecurityGroupEgressRule(
                    f"{name}-to-internet",
                    security_group_id=self.security_group.id,
                    cidr_ipv4="0.0.0.0/0",
                    ip_protocol="tcp",
                    from_port=HTTPS_PORT,
                    to_port=HTTPS_PORT,
                    description="HTTPS to the internet through the NAT gateway",
                    opts=child,
                )
            )

        # Dead-letter queue for asynchronous invocations that exhaust their retries.
        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            kms_master_key_id=args.kms_key_arn,
            message_retention_seconds=14 * 24 * 3600,
            tags=tags,
            opts=child,
        )

        self.queue: aws.sqs.Queue | None = None
        if sqs_trigger is not None:
            queue_dlq = aws.sqs.Queue(
                f"{name}-queue-dlq",
                kms_master_key_id=args.kms_key_arn,
                message_retention_seconds=14 * 24 * 3600,
                tags=tags,
                opts=child,
            )
            self.queue = aws.sqs.Queue(
                f"{name}-queue",
                kms_master_key_id=args.kms_key_arn,
                visibility_timeout_seconds=effective_visibility_timeout_seconds(
                    args.timeout_seconds, sqs_trigger
                ),
                message_retention_seconds=sqs_trigger.message_retention_seconds,
                redrive_policy=pulumi.Output.json_dumps(
                    {
                        "deadLetterTargetArn": queue_dlq.arn,
                        "maxReceiveCount": sqs_trigger.max_receive_count,
                    }
                ),
                tags=tags,
                opts=child,
            )

        # Created before the function, so Lambda never creates an unencrypted, unexpiring one.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )

        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"Lambda tier {name}",
            assume_role_policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        vpc_access = aws.iam.RolePolicyAttachment(
            f"{name}-vpc-access",
            role=self.role.name,
            policy_arn=partition.apply(
                lambda p: f"arn:{p}:iam::aws:policy/{LAMBDA_VPC_ACCESS_POLICY}"
            ),
            opts=child,
        )
        policy_document = pulumi.Output.all(
            partition=partition,
            region=region,
            account_id=account_id,
            proxy_resource_id=args.proxy_resource_id,
            kms_key_arn=args.kms_key_arn,
            dlq_arn=self.dlq.arn,
            queue_arn=self.queue.arn if self.queue is not None else None,
            secret_arn=args.db_secret_arn if args.auth_mode == "secret" else None,
        ).apply(
            lambda v: json.dumps(
                tier_policy_document(db_user=args.db_user, iam_auth=args.auth_mode == "iam", **v)
            )
        )
        self.policy = aws.iam.Policy(
            f"{name}-access",
            description=f"Lambda tier {name}: its database user, key, queues and traces",
            policy=policy_document,
            tags=tags,
            opts=child,
        )
        access = aws.iam.RolePolicyAttachment(
            f"{name}-access",
            role=self.role.name,
            policy_arn=self.policy.arn,
            opts=child,
        )

        environment: dict[str, pulumi.Input[str]] = {
            "DB_HOST": args.db_host,
            "DB_PORT": pulumi.Output.from_input(args.db_port).apply(str),
            "DB_NAME": args.db_name,
            "DB_USER": args.db_user,
            "DB_AUTH_MODE": args.auth_mode,
            "DB_ENDPOINT_KIND": args.endpoint_kind,
            "DB_REGION": region,
            "LOG_LEVEL": args.log_level,
        }
        if args.auth_mode == "secret":
            environment["DB_SECRET_ARN"] = args.db_secret_arn
        provisioned = args.provisioned_concurrency > 0

        # Depending on the attachments avoids the first-apply race in which Lambda checks the
        # role for ec2:CreateNetworkInterface before IAM has attached the policy. Depending on
        # the network holds back the function, hence everything that invokes it, until its
        # routes and endpoints exist.
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            name=function_name,
            description=f"Lambda tier {name}",
            role=self.role.arn,
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCHITECTURE],
            handler=args.handler,
            code=args.code.archive,
            source_code_hash=args.code.source_code_hash,
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            publish=provisioned,
            kms_key_arn=args.kms_key_arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.app_subnet_ids,
                security_group_ids=[self.security_group.id],
            ),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=self.dlq.arn),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=self.log_group.name
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[vpc_access, access, self.log_group, *args.network_resources],
            ),
        )

        self.alias: aws.lambda_.Alias | None = None
        target_arn = self.function.arn
        if provisioned:
            self.alias = aws.lambda_.Alias(
                f"{name}-live",
                name=ALIAS_NAME,
                function_name=self.function.name,
                function_version=self.function.version,
                opts=child,
            )
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-warm",
                function_name=self.function.name,
                qualifier=self.alias.name,
                provisioned_concurrent_executions=args.provisioned_concurrency,
                opts=child,
            )
            target_arn = self.alias.arn

        if sqs_trigger is not None and self.queue is not None:
            # Lambda validates the role's SQS permissions when the mapping is created.
            aws.lambda_.EventSourceMapping(
                f"{name}-from-queue",
                event_source_arn=self.queue.arn,
                function_name=target_arn,
                batch_size=sqs_trigger.batch_size,
                maximum_batching_window_in_seconds=sqs_trigger.maximum_batching_window_seconds,
                function_response_types=["ReportBatchItemFailures"],
                scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                    maximum_concurrency=sqs_trigger.maximum_concurrency
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[access]),
            )

        self.api: aws.apigatewayv2.Api | None = None
        if http_trigger is not None:
            self.api = aws.apigatewayv2.Api(
                f"{name}-api",
                protocol_type="HTTP",
                description=f"HTTP API of Lambda tier {name}",
                tags=tags,
                opts=child,
            )
            integration = aws.apigatewayv2.Integration(
                f"{name}-integration",
                api_id=self.api.id,
                integration_type="AWS_PROXY",
                integration_method="POST",
                integration_uri=target_arn,
                payload_format_version="2.0",
                timeout_milliseconds=min(
                    (args.timeout_seconds + 1) * 1000,
                    MAX_HTTP_INTEGRATION_TIMEOUT_SECONDS * 1000,
                ),
                opts=child,
            )
            for index, route_key in enumerate(http_trigger.route_keys):
                aws.apigatewayv2.Route(
                    f"{name}-route-{index}",
                    api_id=self.api.id,
                    route_key=route_key,
                    target=integration.id.apply(lambda i: f"integrations/{i}"),
                    opts=child,
                )
            access_logs = aws.cloudwatch.LogGroup(
                f"{name}-api-logs",
                name=f"/aws/apigateway/{function_name}",
                retention_in_days=http_trigger.access_log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags=tags,
                opts=child,
            )
            aws.apigatewayv2.Stage(
                f"{name}-stage",
                api_id=self.api.id,
                name="$default",
                auto_deploy=True,
                access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                    destination_arn=access_logs.arn, format=_ACCESS_LOG_FORMAT
                ),
                default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                    throttling_burst_limit=http_trigger.throttling_burst_limit,
                    throttling_rate_limit=http_trigger.throttling_rate_limit,
                ),
                tags=tags,
                opts=child,
            )
            aws.lambda_.Permission(
                f"{name}-invoke-from-api",
                action="lambda:InvokeFunction",
                function=self.function.name,
                qualifier=self.alias.name if self.alias is not None else None,
                principal="apigateway.amazonaws.com",
                source_arn=self.api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
                opts=child,
            )

        self.function_name = self.function.name
        self.function_arn = self.function.arn
        self.role_arn = self.role.arn
        self.security_group_id = self.security_group.id
        self.dlq_arn = self.dlq.arn
        self.alias_arn = self.alias.arn if self.alias is not None else None
        self.queue_url = self.queue.url if self.queue is not None else None
        self.queue_arn = self.queue.arn if self.queue is not None else None
        self.api_endpoint = self.api.api_endpoint if self.api is not None else None
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "role_arn": self.role_arn,
                "security_group_id": self.security_group_id,
                "dlq_arn": self.dlq_arn,
                "alias_arn": self.alias_arn,
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "api_endpoint": self.api_endpoint,
            }
        )


def validate_lambda_tier_args(args: LambdaTierArgs) -> list[str]:
    """Every problem with the args, each naming the field, the rule, the value and the fix."""
    problems: list[str] = []

    if any(not isinstance(r, pulumi.Resource) for r in args.network_resources):
        problems.append(
            "'network_resources' must hold Pulumi resources (the Network component), got "
            f"{list(args.network_resources)!r}."
        )
    if not isinstance(args.handler, str) or not _HANDLER.match(args.handler):
        problems.append(
            f"'handler' must be a dotted 'module.function' path, got {args.handler!r}; "
            "e.g. 'lambda_src.handlers.writer.handler'."
        )
    if not isinstance(args.code, LambdaPackage):
        problems.append(
            f"'code' must be a LambdaPackage from build_lambda_package(), got {args.code!r}."
        )
    if not isinstance(args.db_user, str) or not _DB_USER.match(args.db_user):
        problems.append(
            "'db_user' must be a lowercase PostgreSQL identifier (a-z, 0-9, _), "
            f"got {args.db_user!r}."
        )
    if args.auth_mode not in ("iam", "secret"):
        problems.append(f"'auth_mode' must be 'iam' or 'secret', got {args.auth_mode!r}.")
    elif args.auth_mode == "secret" and args.db_secret_arn is None:
        problems.append(
            "'db_secret_arn' is required with auth_mode 'secret'; pass the tier's secret ARN "
            "or use auth_mode 'iam'."
        )
    elif args.auth_mode == "secret" and args.endpoint_kind == "proxy":
        problems.append(
            "'auth_mode' 'secret' cannot log in through the RDS Proxy: DatabaseWithProxy makes "
            "the proxy require IAM from every client (per-user secrets are only how the proxy "
            "logs in to the database); use auth_mode 'iam' for tiers behind the proxy."
        )
    elif args.auth_mode == "iam" and args.db_secret_arn is not None:
        problems.append(
            "'db_secret_arn' is set but auth_mode is 'iam'; drop it, so the function is not "
            "granted a secret it does not use."
        )
    if args.endpoint_kind not in ("proxy", "instance"):
        problems.append(
            f"'endpoint_kind' must be 'proxy' or 'instance', got {args.endpoint_kind!r}."
        )
    if isinstance(args.app_subnet_ids, Sequence) and len(args.app_subnet_ids) < 2:
        problems.append(
            "'app_subnet_ids' needs one subnet in each of at least 2 availability zones, "
            f"got {len(args.app_subnet_ids)}; add a zone to the network."
        )

    problems += check_range("memory_mb", args.memory_mb, 128, 10_240, "Lambda's limits")
    problems += check_range("timeout_seconds", args.timeout_seconds, 1, 900, "Lambda's limits")
    problems += check_range(
        "reserved_concurrency",
        args.reserved_concurrency,
        1,
        10_000,
        "0 would stop the function; it also caps the tier's database connections",
    )
    if is_whole_number(args.provisioned_concurrency) and is_whole_number(args.reserved_concurrency):
        if not 0 <= args.provisioned_concurrency <= args.reserved_concurrency:
            problems.append(
                f"'provisioned_concurrency' must be from 0 to 'reserved_concurrency' "
                f"({args.reserved_concurrency}), got {args.provisioned_concurrency}; lower it "
                "or raise the reserved concurrency."
            )
    else:
        problems.append(
            "'provisioned_concurrency' must be a whole number, "
            f"got {args.provisioned_concurrency!r}."
        )
    if args.log_retention_days not in LOG_RETENTION_DAYS:
        problems.append(
            f"'log_retention_days' must be one CloudWatch Logs accepts ({LOG_RETENTION_DAYS}), "
            f"got {args.log_retention_days!r}."
        )
    if args.log_level not in LOG_LEVELS:
        problems.append(
            f"'log_level' must be one of {', '.join(LOG_LEVELS)}, got {args.log_level!r}."
        )
    if args.internet_egress and not args.nat_available:
        problems.append(
            "'internet_egress' is true but the network has no NAT gateway, so the function "
            "could not reach the internet; set a NAT strategy or turn internet_egress off."
        )

    if isinstance(args.trigger, SqsTrigger):
        problems += validate_sqs_trigger(
            args.trigger, args.timeout_seconds, args.reserved_concurrency
        )
    elif isinstance(args.trigger, HttpTrigger):
        problems += validate_http_trigger(args.trigger, args.timeout_seconds)
    elif args.trigger is not None:
        problems.append(f"'trigger' must be SqsTrigger, HttpTrigger or None, got {args.trigger!r}.")
    return problems


def validate_sqs_trigger(
    trigger: SqsTrigger, timeout_seconds: int, reserved_concurrency: int
) -> list[str]:
    """Problems with an SQS trigger for a function with this timeout and reserved concurrency."""
    problems: list[str] = []
    problems += check_range(
        "trigger.maximum_batching_window_seconds",
        trigger.maximum_batching_window_seconds,
        0,
        300,
        "Lambda's limits",
    )
    problems += check_range(
        "trigger.batch_size", trigger.batch_size, 1, 10_000, "Lambda's limits for SQS"
    )
    if (
        is_whole_number(trigger.batch_size)
        and trigger.batch_size > 10
        and trigger.maximum_batching_window_seconds == 0
    ):
        problems.append(
            f"'trigger.batch_size' {trigger.batch_size} needs a batching window: above 10 "
            "messages Lambda requires maximum_batching_window_seconds >= 1; set one or lower "
            "the batch size."
        )
    problems += check_range(
        "trigger.maximum_concurrency",
        trigger.maximum_concurrency,
        MIN_SQS_MAXIMUM_CONCURRENCY,
        MAX_SQS_MAXIMUM_CONCURRENCY,
        "SQS event source mapping limits",
    )
    if (
        is_whole_number(trigger.maximum_concurrency)
        and is_whole_number(reserved_concurrency)
        and trigger.maximum_concurrency > reserved_concurrency
    ):
        problems.append(
            f"'trigger.maximum_concurrency' ({trigger.maximum_concurrency}) must not exceed "
            f"'reserved_concurrency' ({reserved_concurrency}): every concurrent batch holds one "
            "database connection out of the tier's share of the proxy's budget, and a mapping "
            "above the reservation is throttled; lower it or raise the reservation."
        )
    problems += check_range(
        "trigger.max_receive_count", trigger.max_receive_count, 1, 1000, "SQS redrive limits"
    )
    problems += check_range(
        "trigger.message_retention_seconds",
        trigger.message_retention_seconds,
        60,
        14 * 24 * 3600,
        "SQS keeps messages 1 minute to 14 days",
    )
    if is_whole_number(timeout_seconds) and is_whole_number(
        trigger.maximum_batching_window_seconds
    ):
        minimum = minimum_visibility_timeout_seconds(
            timeout_seconds, trigger.maximum_batching_window_seconds
        )
        visibility = trigger.visibility_timeout_seconds
        # Lambda's 900 s limit keeps the minimum (at most 5700 s) under SQS's ceiling.
        if visibility is not None and (
            not is_whole_number(visibility)
            or not minimum <= visibility <= MAX_VISIBILITY_TIMEOUT_SECONDS
        ):
            problems.append(
                "'trigger.visibility_timeout_seconds' must be at least "
                f"{VISIBILITY_TIMEOUT_FACTOR} times the function timeout plus the batching "
                f"window ({minimum} s) and at most "
                f"{MAX_VISIBILITY_TIMEOUT_SECONDS} s, got {visibility!r}; raise it, or leave it "
                "unset for the minimum."
            )
    return problems


def validate_http_trigger(trigger: HttpTrigger, timeout_seconds: int) -> list[str]:
    """Problems with an HTTP API trigger for a function with this timeout."""
    problems: list[str] = []
    if not trigger.route_keys:
        problems.append("'trigger.route_keys' is empty; add a route such as 'GET /items'.")
    for index, route_key in enumerate(trigger.route_keys):
        if not isinstance(route_key, str) or not _ROUTE_KEY.match(route_key):
            problems.append(
                f"'trigger.route_keys[{index}]' must read 'METHOD /path', got {route_key!r}; "
                "e.g. 'GET /items/{id}'."
            )
    if len(set(trigger.route_keys)) != len(trigger.route_keys):
        problems.append("'trigger.route_keys' repeats a route; list each once.")
    problems += check_range(
        "trigger.throttling_burst_limit", trigger.throttling_burst_limit, 1, 5000, "API quota"
    )
    if not isinstance(trigger.throttling_rate_limit, (int, float)) or not (
        0 < trigger.throttling_rate_limit <= 10_000
    ):
        problems.append(
            "'trigger.throttling_rate_limit' must be above 0 and at most 10000 requests per "
            f"second, got {trigger.throttling_rate_limit!r}."
        )
    if trigger.access_log_retention_days not in LOG_RETENTION_DAYS:
        problems.append(
            "'trigger.access_log_retention_days' must be one CloudWatch Logs accepts, "
            f"got {trigger.access_log_retention_days!r}."
        )
    if is_whole_number(timeout_seconds) and timeout_seconds > MAX_HTTP_FUNCTION_TIMEOUT_SECONDS:
        problems.append(
            f"'timeout_seconds' {timeout_seconds} exceeds what an HTTP API waits for: API "
            f"Gateway ends an integration after {MAX_HTTP_INTEGRATION_TIMEOUT_SECONDS} s; use "
            f"at most {MAX_HTTP_FUNCTION_TIMEOUT_SECONDS} s."
        )
    return problems


def minimum_visibility_timeout_seconds(timeout_seconds: int, batching_window_seconds: int) -> int:
    """The least visibility timeout of a queue feeding a function with this timeout."""
    return VISIBILITY_TIMEOUT_FACTOR * timeout_seconds + batching_window_seconds


def effective_visibility_timeout_seconds(timeout_seconds: int, trigger: SqsTrigger) -> int:
    """The visibility timeout the queue gets: the one asked for, or the minimum."""
    if trigger.visibility_timeout_seconds is not None:
        return trigger.visibility_timeout_seconds
    return minimum_visibility_timeout_seconds(
        timeout_seconds, trigger.maximum_batching_window_seconds
    )


def tier_policy_document(
    *,
    partition: str,
    region: str,
    account_id: str,
    proxy_resource_id: str,
    db_user: str,
    iam_auth: bool,
    kms_key_arn: str,
    dlq_arn: str,
    queue_arn: str | None = None,
    secret_arn: str | None = None,
) -> dict:
    """The tier's customer-managed policy: exactly what the function uses, on named resources.

    X-Ray's write actions are the only ones on "*": they have no resource type to scope to.
    The ENI actions for the VPC come from AWSLambdaVPCAccessExecutionRole, attached beside.
    """
    statements: list[dict] = []
    if iam_auth:
        statements.append(
            {
                "Sid": "ConnectAsTierUser",
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": rds_db_user_arn(
                    partition, region, account_id, proxy_resource_id, db_user
                ),
            }
        )
    if secret_arn is not None:
        statements.append(
            {
                "Sid": "ReadTierSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secret_arn,
            }
        )
    # Decrypt: the environment, the secret and messages of the trigger queue. GenerateDataKey:
    # sending a failed event to the KMS-encrypted dead-letter queue.
    statements.append(
        {
            "Sid": "UseStackKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": kms_key_arn,
        }
    )
    statements.append(
        {
            "Sid": "SendToDeadLetterQueue",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": dlq_arn,
        }
    )
    if queue_arn is not None:
        statements.append(
            {
                "Sid": "ConsumeTriggerQueue",
                "Effect": "Allow",
                "Action": list(_SQS_CONSUMER_ACTIONS),
                "Resource": queue_arn,
            }
        )
    statements.append(
        {
            "Sid": "WriteTraces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}
