"""PostgreSQL on RDS behind an RDS Proxy, with the deploy-time bootstrap of schema and roles."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.lambda_package import LambdaPackage
from components.security_groups import allow_from_group, allow_to_group

COMPONENT_TYPE = "lambda-private-db:components:DatabaseWithProxy"

AUTH_MODES = ("iam", "secret")
ACCESS_LEVELS = ("read-write", "read-only")
MIN_AVAILABILITY_ZONES = 2
HTTPS_PORT = 443

# RDS for PostgreSQL's default parameter group sets max_connections to
# LEAST(DBInstanceClassMemory / 9531392, 5000):
# https://docs.aws.amazon.com/prescriptive-guidance/latest/tuning-postgresql-parameters/max-connections.html
MAX_CONNECTIONS_MEMORY_DIVISOR_BYTES = 9_531_392
MAX_CONNECTIONS_CEILING = 5000
GIB = 1024**3

# Memory (GiB) of the instance classes RDS for PostgreSQL offers; the connection budget is
# derived from it. Burstable classes first, then the general-purpose (m) and memory-optimised
# (r) families, whose memory grows in proportion to the size (large: 8 GiB for m, 16 for r).
_BURSTABLE_MEMORY_GIB = {
    "micro": 1,
    "small": 2,
    "medium": 4,
    "large": 8,
    "xlarge": 16,
    "2xlarge": 32,
}
_SIZE_MULTIPLIER = {
    "large": 1,
    "xlarge": 2,
    "2xlarge": 4,
    "4xlarge": 8,
    "8xlarge": 16,
    "12xlarge": 24,
    "16xlarge": 32,
}
_GIB_PER_LARGE = {"m": 8, "r": 16}
_STANDARD_FAMILIES = ("m5", "m6g", "m6i", "m7g", "r5", "r6g", "r6i", "r7g")
INSTANCE_CLASS_MEMORY_GIB: Mapping[str, int] = {
    **{
        f"db.{family}.{size}": gib
        for family in ("t3", "t4g")
        for size, gib in _BURSTABLE_MEMORY_GIB.items()
    },
    **{
        f"db.{family}.{size}": _GIB_PER_LARGE[family[0]] * multiplier
        for family in _STANDARD_FAMILIES
        for size, multiplier in _SIZE_MULTIPLIER.items()
    },
}

# Major versions of RDS for PostgreSQL that RDS Proxy fronts and RDS still offers.
SUPPORTED_MAJOR_VERSIONS = range(13, 18)

# Performance Insights keeps 7 days free, or a multiple of 31 days up to 731.
PERFORMANCE_INSIGHTS_FREE_RETENTION_DAYS = 7
PERFORMANCE_INSIGHTS_MAX_RETENTION_DAYS = 731

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# A PostgreSQL role name we create: lowercase, so it needs no quoting, and within NAMEDATALEN.
_DB_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Component names end up in RDS identifiers (letters, digits, hyphens; a letter first; no
# double or trailing hyphen) and in function names.
_COMPONENT_NAME = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,29}$")
_ENGINE_VERSION = re.compile(r"^(\d+)(\.\d+)?$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")

BOOTSTRAP_HANDLER = "lambda_src.handlers.bootstrap.handler"
LAMBDA_RUNTIME = aws.lambda_.Runtime.PYTHON3D13
LAMBDA_ARCHITECTURE = "arm64"
LAMBDA_VPC_ACCESS_POLICY = "service-role/AWSLambdaVPCAccessExecutionRole"
MAX_FUNCTION_NAME_LENGTH = 64

# What the bootstrap calls on each tier's secret in secret mode (lambda_src/credentials.py):
# read the stored password, tell an empty secret from a missing one, store a new password.
TIER_SECRET_ACTIONS = (
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
    "secretsmanager:PutSecretValue",
)

# RDS DB instance identifiers: at most 63 characters; snapshot identifiers: at most 255. Both
# take letters, digits and hyphens, start with a letter, and have no double or trailing hyphen.
MAX_INSTANCE_IDENTIFIER_LENGTH = 63
MAX_SNAPSHOT_IDENTIFIER_LENGTH = 255
_RDS_IDENTIFIER = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$")

# RDS refuses a storage autoscaling ceiling less than 10% above the allocated storage:
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html
STORAGE_AUTOSCALING_HEADROOM_PERCENT = 10

# The master password this program generates when RDS cannot manage it (a stack with a
# cross-region replica). RDS refuses '/', '@', '"' and spaces in a master password.
MASTER_PASSWORD_LENGTH = 40
MASTER_PASSWORD_EXCLUDED_CHARACTERS = '/@" '
# The write-only inputs are sent once, at creation; a new version number would send them again.
MASTER_PASSWORD_VERSION = 1


class DatabaseArgsError(ValueError):
    """DatabaseArgs failed validation; the message names every bad field and its fix."""


@dataclass(frozen=True)
class DatabaseUser:
    """A database role the bootstrap creates for one tier.

    name: the PostgreSQL role (and DB_USER of the tier), lowercase letters, digits, underscores.
    access: "read-write" (select, insert, update, delete on the schema's tables) or "read-only".
    """

    name: str
    access: Literal["read-write", "read-only"]


@dataclass(frozen=True)
class MasterSecretReplica:
    """Where the master secret is replicated: a region and a key of that region.

    region: the replica region, e.g. us-west-2.
    kms_key_arn: a customer-managed key in that region, which encrypts the copy there.
    """

    region: str
    kms_key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class DatabaseArgs:
    """Inputs of DatabaseWithProxy; all checked in __post_init__, before any resource exists.

    vpc_id: the VPC of the Network component.
    data_subnet_ids: isolated subnets, one per AZ, for the DB subnet group (at least 2 AZs).
    app_subnet_ids: private subnets, one per AZ, for the proxy and the bootstrap function.
    endpoints_security_group_id: the interface endpoints' group; the bootstrap (and, with
        secrets, the proxy) reach Secrets Manager through it on 443.
    kms_key_arn: the customer-managed key for storage, Performance Insights, the master secret,
        the per-user secrets, logs and the bootstrap function's environment.
    code: the Lambda code package holding lambda_src (the bootstrap handler).
    db_users: the tiers' database roles; unique names.
    auth_mode: "iam" = end-to-end IAM (clients and proxy authenticate with IAM tokens, no
        secrets); "secret" = the proxy logs in to the database with a per-user secret the
        bootstrap fills. Either way clients authenticate to the proxy with IAM (iam_auth
        REQUIRED), so the tiers behind it always use IAM tokens.
    engine_version: the major version, e.g. "16" (default), which RDS keeps on its latest
        minor version through automatic minor upgrades. "16.4" is accepted but warned about:
        once RDS upgrades past it, every `pulumi up` asks to go back, which RDS refuses. A new
        major version in config is applied as a major upgrade (allow_major_version_upgrade).
    instance_class: one of INSTANCE_CLASS_MEMORY_GIB (default db.t4g.micro).
    allocated_storage_gib / max_allocated_storage_gib: gp3 storage and its autoscaling ceiling,
        at least 10% above the allocated storage (None = no autoscaling).
    database_name / master_username / schema_name: names inside PostgreSQL.
    port: the PostgreSQL port (default 5432).
    multi_az: a standby in a second AZ.
    backup_retention_days: 1..35 (at least one day, replicas need backups).
    deletion_protection / skip_final_snapshot: what `pulumi destroy` may do.
    performance_insights_retention_days: 7, or a multiple of 31 up to 731.
    statement_timeout_ms: server-side limit of one statement (see the parameter group).
    max_connections_percent / max_idle_connections_percent: the proxy pool, as percentages of
        the instance's max_connections.
    connection_borrow_timeout_seconds: how long a client waits for a pooled connection.
    idle_client_timeout_seconds: when the proxy drops an idle client connection.
    bootstrap_timeout_seconds / bootstrap_memory_mb: the bootstrap function's limits.
    log_retention_days: retention of the bootstrap function's log group.
    master_secret_replica: None (default) lets RDS generate the master password and keep it in
        a secret it manages. Given, the component generates the password itself and keeps it in
        a secret of its own that Secrets Manager replicates into that region under that key:
        RDS refuses to make a read replica of an instance whose password it manages.
    network_resources: what the database's AWS API traffic needs in place first, usually the
        Network component (its route tables, ACL and VPC endpoints). Without a NAT the
        endpoints are the bootstrap's and the proxy's only way to Secrets Manager.
    tags: added to every taggable resource.
    engine_version_setting: where the reader sets engine_version, as the warnings quote it;
        the stack program passes its config key ('<project>:dbEngineVersion').
    """

    vpc_id: pulumi.Input[str]
    data_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    app_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    endpoints_security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    code: LambdaPackage
    db_users: Sequence[DatabaseUser]
    auth_mode: Literal["iam", "secret"] = "iam"
    engine_version: str = "16"
    instance_class: str = "db.t4g.micro"
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int | None = 100
    database_name: str = "app"
    master_username: str = "app_admin"
    schema_name: str = "app"
    port: int = 5432
    multi_az: bool = False
    backup_retention_days: int = 7
    deletion_protection: bool = True
    skip_final_snapshot: bool = False
    performance_insights_retention_days: int = PERFORMANCE_INSIGHTS_FREE_RETENTION_DAYS
    statement_timeout_ms: int = 30_000
    max_connections_percent: int = 90
    max_idle_connections_percent: int = 50
    connection_borrow_timeout_seconds: int = 120
    idle_client_timeout_seconds: int = 1800
    bootstrap_timeout_seconds: int = 60
    bootstrap_memory_mb: int = 256
    log_retention_days: int = 30
    master_secret_replica: MasterSecretReplica | None = None
    network_resources: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    engine_version_setting: str = "DatabaseArgs.engine_version"

    def __post_init__(self) -> None:
        problems = validate_database_args(self)
        if problems:
            raise DatabaseArgsError("; ".join(problems))


class DatabaseWithProxy(pulumi.ComponentResource):
    """RDS for PostgreSQL (TLS forced, CMK-encrypted) reachable only through an RDS Proxy.

    Outputs: proxy_endpoint, proxy_arn, proxy_resource_id, proxy_security_group_id,
    db_security_group_id, instance_arn, instance_identifier, instance_endpoint,
    master_secret_arn, master_secret_replica_arn (None without master_secret_replica), port,
    database_name, user_secret_arns (db user -> secret ARN, empty with IAM auth),
    bootstrap_function_name, bootstrap_result.
    """

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # The stack program checks these names before it creates anything; this is the same
        # check for any other caller, still before the first resource.
        names = database_names(pulumi.get_project(), pulumi.get_stack(), name)
        function_name = names.bootstrap_function

        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Whatever reaches AWS APIs from the VPC (the proxy, the bootstrap function and its run)
        # waits for the network's routes, ACL and endpoints.
        network = list(args.network_resources)
        invoke = pulumi.InvokeOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        tags = dict(args.tags)
        iam_auth = args.auth_mode == "iam"

        # Security groups carry no inline rules: every rule is its own resource below, between
        # groups only. The provider removes the allow-all egress AWS adds to a new group.
        self.db_security_group = aws.ec2.SecurityGroup(
            f"{name}-db",
            vpc_id=args.vpc_id,
            description="PostgreSQL: the DB port from the proxy and the bootstrap function only",
            tags={**tags, "Name": f"{name}-db"},
            opts=child,
        )
        self.proxy_security_group = aws.ec2.SecurityGroup(
            f"{name}-proxy",
            vpc_id=args.vpc_id,
            description="RDS Proxy: the DB port from the Lambda tiers only",
            tags={**tags, "Name": f"{name}-proxy"},
            opts=child,
        )
        self.bootstrap_security_group = aws.ec2.SecurityGroup(
            f"{name}-bootstrap",
            vpc_id=args.vpc_id,
            description="Bootstrap function: egress to the database and the endpoints only",
            tags={**tags, "Name": f"{name}-bootstrap"},
            opts=child,
        )
        db_group_id = self.db_security_group.id
        proxy_group_id = self.proxy_security_group.id
        bootstrap_group_id = self.bootstrap_security_group.id
        endpoints_group_id = args.endpoints_security_group_id
        rules = [
            allow_from_group(
                f"{name}-db-from-proxy",
                group_id=db_group_id,
                peer_group_id=proxy_group_id,
                port=args.port,
                description="PostgreSQL from the RDS Proxy",
                opts=child,
            ),
            allow_from_group(
                f"{name}-db-from-bootstrap",
                group_id=db_group_id,
                peer_group_id=bootstrap_group_id,
                port=args.port,
                description="PostgreSQL from the bootstrap function",
                opts=child,
            ),
            allow_to_group(
                f"{name}-proxy-to-db",
                group_id=proxy_group_id,
                peer_group_id=db_group_id,
                port=args.port,
                description="PostgreSQL to the instance",
                opts=child,
            ),
            allow_to_group(
                f"{name}-bootstrap-to-db",
                group_id=bootstrap_group_id,
                peer_group_id=db_group_id,
                port=args.port,
                description="PostgreSQL to the instance",
                opts=child,
            ),
            allow_to_group(
                f"{name}-bootstrap-to-endpoints",
                group_id=bootstrap_group_id,
                peer_group_id=endpoints_group_id,
                port=HTTPS_PORT,
                description="HTTPS to the interface endpoints (Secrets Manager)",
                opts=child,
            ),
            allow_from_group(
                f"{name}-endpoints-from-bootstrap",
                group_id=endpoints_group_id,
                peer_group_id=bootstrap_group_id,
                port=HTTPS_PORT,
                description="HTTPS from the bootstrap function",
                opts=child,
            ),
        ]
        if not iam_auth:
            # With per-user secrets the proxy reads them from Secrets Manager through its own
            # network interfaces, which in this VPC reach AWS APIs only via the endpoints.
            rules += [
                allow_to_group(
                    f"{name}-proxy-to-endpoints",
                    group_id=proxy_group_id,
                    peer_group_id=endpoints_group_id,
                    port=HTTPS_PORT,
                    description="HTTPS to the interface endpoints (Secrets Manager)",
                    opts=child,
                ),
                allow_from_group(
                    f"{name}-endpoints-from-proxy",
                    group_id=endpoints_group_id,
                    peer_group_id=proxy_group_id,
                    port=HTTPS_PORT,
                    description="HTTPS from the RDS Proxy",
                    opts=child,
                ),
            ]

        # The instance lives in the isolated data subnets of every AZ.
        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=args.data_subnet_ids,
            description="Isolated data subnets, one per availability zone",
            tags=tags,
            opts=child,
        )

        self.parameter_group = tls_parameter_group(
            name,
            engine_version=args.engine_version,
            statement_timeout_ms=args.statement_timeout_ms,
            description="TLS only, bounded statement time",
            tags=tags,
            opts=child,
        )

        if _ENGINE_VERSION.match(args.engine_version).group(2) is not None:
            major = args.engine_version.split(".")[0]
            pulumi.log.warn(
                f"{args.engine_version_setting} is {args.engine_version!r}, which pins a minor "
                "version while automatic minor upgrades are on: once RDS upgrades the instance "
                "past it, each `pulumi up` asks to go back to it, which RDS refuses. Set it to "
                f"the major version ({major!r}) to follow RDS's minor upgrades.",
                resource=self,
            )

        # Its name follows the instance's fixed identifier.
        self.postgresql_log_group = postgresql_log_group(
            name,
            instance_identifier=names.instance_identifier,
            retention_days=args.log_retention_days,
            kms_key_arn=args.kms_key_arn,
            tags=tags,
            opts=child,
        )

        master_password = self._master_password(name, args, tags)

        self.instance = aws.rds.Instance(
            f"{name}-postgres",
            identifier=names.instance_identifier,
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gib,
            max_allocated_storage=args.max_allocated_storage_gib,
            db_name=args.database_name,
            username=args.master_username,
            manage_master_user_password=True if master_password is None else None,
            master_user_secret_kms_key_id=args.kms_key_arn if master_password is None else None,
            password_wo=master_password,
            password_wo_version=None if master_password is None else MASTER_PASSWORD_VERSION,
            backup_retention_period=args.backup_retention_days,
            # Destroying a recreated instance of the same stack fails while the previous one's
            # final snapshot exists under the same name; delete or rename that snapshot.
            **final_snapshot_inputs(names.instance_identifier, skip=args.skip_final_snapshot),
            **private_instance_inputs(
                kms_key_arn=args.kms_key_arn,
                port=args.port,
                subnet_group=self.subnet_group,
                parameter_group=self.parameter_group,
                security_group=self.db_security_group,
                multi_az=args.multi_az,
                deletion_protection=args.deletion_protection,
                performance_insights_retention_days=args.performance_insights_retention_days,
                tags=tags,
            ),
            # A major version changes only when config says so; RDS refuses it without this.
            allow_major_version_upgrade=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.postgresql_log_group, *self._master_secret_writes],
                # The write-only password is sent once, on create (see _master_password).
                ignore_changes=["password_wo"] if master_password is not None else None,
            ),
        )
        if self.master_secret is None:
            master_secret_arn = self.instance.master_user_secrets.apply(
                lambda secrets: secrets[0].secret_arn
            )
        else:
            master_secret_arn = self.master_secret.arn

        # Per-user secrets exist only for the secret mode. They are created empty: the bootstrap
        # generates each password and writes it, so no password passes through Pulumi.
        self.user_secrets: dict[str, aws.secretsmanager.Secret] = {}
        if not iam_auth:
            for user in args.db_users:
                self.user_secrets[user.name] = aws.secretsmanager.Secret(
                    f"{name}-user-{user.name}",
                    description=f"RDS Proxy login of database role {user.name}",
                    kms_key_id=args.kms_key_arn,
                    recovery_window_in_days=7,
                    tags=tags,
                    opts=child,
                )

        # The proxy's role: with end-to-end IAM it signs in as each tier role with rds-db:connect
        # on the instance's dbuser ARNs (the instance's resource id, not the proxy's):
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-iam-setup.html
        # With secrets it reads exactly those secrets, decrypting through Secrets Manager only.
        self.proxy_role = aws.iam.Role(
            f"{name}-proxy-role",
            description="RDS Proxy: log in to the instance as the tier roles",
            assume_role_policy=_service_trust_policy("rds.amazonaws.com", account_id),
            tags=tags,
            opts=child,
        )
        if iam_auth:
            proxy_statements = [
                {
                    "Sid": "ConnectAsTierRoles",
                    "Effect": "Allow",
                    "Action": "rds-db:connect",
                    "Resource": [
                        pulumi.Output.all(
                            partition, region, account_id, self.instance.resource_id
                        ).apply(lambda v, user=user.name: rds_db_user_arn(*v, user))
                        for user in args.db_users
                    ],
                }
            ]
        else:
            proxy_statements = [
                {
                    "Sid": "ReadTierSecrets",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": [secret.arn for secret in self.user_secrets.values()],
                },
                _kms_via_secrets_manager_statement(args.kms_key_arn, region, ["kms:Decrypt"]),
            ]
        proxy_policy = aws.iam.RolePolicy(
            f"{name}-proxy-access",
            role=self.proxy_role.id,
            policy=pulumi.Output.json_dumps(
                {"Version": "2012-10-17", "Statement": proxy_statements}
            ),
            opts=child,
        )

        self.proxy = aws.rds.Proxy(
            f"{name}-proxy",
            engine_family="POSTGRESQL",
            require_tls=True,
            role_arn=self.proxy_role.arn,
            vpc_subnet_ids=args.app_subnet_ids,
            vpc_security_group_ids=[self.proxy_security_group.id],
            idle_client_timeout=args.idle_client_timeout_seconds,
            debug_logging=False,
            default_auth_scheme="IAM_AUTH" if iam_auth else None,
            auths=None
            if iam_auth
            else [
                aws.rds.ProxyAuthArgs(
                    auth_scheme="SECRETS",
                    secret_arn=secret.arn,
                    iam_auth="REQUIRED",
                    client_password_auth_type="POSTGRES_SCRAM_SHA_256",
                    description=f"Tier role {user}",
                )
                for user, secret in self.user_secrets.items()
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[proxy_policy, *network]),
        )
        self.proxy_pool = aws.rds.ProxyDefaultTargetGroup(
            f"{name}-proxy-pool",
            db_proxy_name=self.proxy.name,
            connection_pool_config=aws.rds.ProxyDefaultTargetGroupConnectionPoolConfigArgs(
                max_connections_percent=args.max_connections_percent,
                max_idle_connections_percent=args.max_idle_connections_percent,
                connection_borrow_timeout=args.connection_borrow_timeout_seconds,
            ),
            opts=child,
        )

        # The bootstrap connects straight to the instance as the master user (the proxy knows
        # only the tier roles), creates the schema and roles, and with secrets fills them.
        self.bootstrap_log_group = aws.cloudwatch.LogGroup(
            f"{name}-bootstrap-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.kms_key_arn,
            tags=tags,
            opts=child,
        )
        self.bootstrap_role = aws.iam.Role(
            f"{name}-bootstrap-role",
            description="Bootstrap function: schema and roles, as the master user",
            assume_role_policy=_service_trust_policy("lambda.amazonaws.com", account_id),
            tags=tags,
            opts=child,
        )
        vpc_access = aws.iam.RolePolicyAttachment(
            f"{name}-bootstrap-vpc-access",
            role=self.bootstrap_role.name,
            policy_arn=partition.apply(
                lambda p: f"arn:{p}:iam::aws:policy/{LAMBDA_VPC_ACCESS_POLICY}"
            ),
            opts=child,
        )
        bootstrap_statements: list[dict] = [
            {
                "Sid": "ReadMasterSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": master_secret_arn,
            },
            _kms_via_secrets_manager_statement(
                args.kms_key_arn,
                region,
                ["kms:Decrypt"] if iam_auth else ["kms:Decrypt", "kms:GenerateDataKey"],
            ),
            _xray_write_statement(),
        ]
        if not iam_auth:
            # The bootstrap reads each tier secret (a stored password is applied as it is),
            # tells "no value yet" from "no secret" with DescribeSecret, and writes a new one.
            bootstrap_statements.append(
                {
                    "Sid": "ManageTierSecrets",
                    "Effect": "Allow",
                    "Action": list(TIER_SECRET_ACTIONS),
                    "Resource": [secret.arn for secret in self.user_secrets.values()],
                }
            )
        bootstrap_policy = aws.iam.Policy(
            f"{name}-bootstrap-access",
            description="Bootstrap function: the master secret, the CMK through Secrets Manager",
            policy=pulumi.Output.json_dumps(
                {"Version": "2012-10-17", "Statement": bootstrap_statements}
            ),
            tags=tags,
            opts=child,
        )
        bootstrap_access = aws.iam.RolePolicyAttachment(
            f"{name}-bootstrap-access",
            role=self.bootstrap_role.name,
            policy_arn=bootstrap_policy.arn,
            opts=child,
        )
        # Depending on the attachments avoids the first-apply race in which Lambda checks the
        # role for ec2:CreateNetworkInterface before IAM has attached the policy.
        self.bootstrap_function = aws.lambda_.Function(
            f"{name}-bootstrap",
            name=function_name,
            description="Creates the schema and the tier roles; idempotent",
            role=self.bootstrap_role.arn,
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCHITECTURE],
            handler=BOOTSTRAP_HANDLER,
            code=args.code.archive,
            source_code_hash=args.code.source_code_hash,
            timeout=args.bootstrap_timeout_seconds,
            memory_size=args.bootstrap_memory_mb,
            kms_key_arn=args.kms_key_arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "DB_HOST": self.instance.address,
                    "DB_PORT": str(args.port),
                    "DB_NAME": args.database_name,
                    "DB_USER": args.master_username,
                    "DB_AUTH_MODE": "secret",
                    "DB_SECRET_ARN": master_secret_arn,
                    "DB_ENDPOINT_KIND": "instance",
                    "DB_REGION": region,
                }
            ),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.app_subnet_ids,
                security_group_ids=[self.bootstrap_security_group.id],
            ),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=self.bootstrap_log_group.name
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[vpc_access, bootstrap_access, self.bootstrap_log_group, *network],
            ),
        )

        event = bootstrap_event(
            args.schema_name,
            args.db_users,
            iam_auth=iam_auth,
            secret_arns={user: secret.arn for user, secret in self.user_secrets.items()},
        )
        event_json = pulumi.Output.json_dumps(event)
        # CREATE_ONLY runs the bootstrap on creation and whenever a trigger changes (the event or
        # the code), which replaces the invocation; the SQL is idempotent, so a rerun is safe.
        # It never runs otherwise: a role dropped by hand comes back only with the next change,
        # and the role of a removed tier stays in the database until dropped by hand.
        self.bootstrap_invocation = aws.lambda_.Invocation(
            f"{name}-bootstrap-run",
            function_name=self.bootstrap_function.name,
            input=event_json,
            lifecycle_scope="CREATE_ONLY",
            triggers={
                "event": event_json.apply(lambda text: hashlib.sha256(text.encode()).hexdigest()),
                "code": args.code.source_code_hash,
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.instance, vpc_access, bootstrap_access, *rules, *network],
            ),
        )

        # The proxy logs in as the tier roles, which exist once the bootstrap has run; with
        # secrets, the secrets hold a value only from then on.
        self.proxy_target = aws.rds.ProxyTarget(
            f"{name}-proxy-target",
            db_proxy_name=self.proxy.name,
            target_group_name=self.proxy_pool.name,
            db_instance_identifier=self.instance.identifier,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.bootstrap_invocation]),
        )

        self.proxy_endpoint = self.proxy.endpoint
        self.proxy_arn = self.proxy.arn
        self.proxy_resource_id = self.proxy.arn.apply(proxy_resource_id_from_arn)
        self.proxy_security_group_id = self.proxy_security_group.id
        self.db_security_group_id = self.db_security_group.id
        self.instance_arn = self.instance.arn
        self.instance_identifier = self.instance.identifier
        self.instance_endpoint = self.instance.address
        self.master_secret_arn = master_secret_arn
        # A replica of a secret keeps its name and suffix; only the region in the ARN differs.
        replica = args.master_secret_replica
        self.master_secret_replica_arn = (
            None
            if replica is None
            else master_secret_arn.apply(lambda arn: replica_secret_arn(arn, replica.region))
        )
        self.port = pulumi.Output.from_input(args.port)
        self.database_name = pulumi.Output.from_input(args.database_name)
        self.user_secret_arns = {user: s.arn for user, s in self.user_secrets.items()}
        self.bootstrap_function_name = self.bootstrap_function.name
        self.bootstrap_result = self.bootstrap_invocation.result
        self.register_outputs(
            {
                "proxy_endpoint": self.proxy_endpoint,
                "proxy_arn": self.proxy_arn,
                "proxy_resource_id": self.proxy_resource_id,
                "proxy_security_group_id": self.proxy_security_group_id,
                "db_security_group_id": self.db_security_group_id,
                "instance_arn": self.instance_arn,
                "instance_identifier": self.instance_identifier,
                "instance_endpoint": self.instance_endpoint,
                "master_secret_arn": pulumi.Output.secret(self.master_secret_arn),
                "master_secret_replica_arn": (
                    None
                    if self.master_secret_replica_arn is None
                    else pulumi.Output.secret(self.master_secret_replica_arn)
                ),
                "port": self.port,
                "database_name": self.database_name,
                "user_secret_arns": self.user_secret_arns,
                "bootstrap_function_name": self.bootstrap_function_name,
            }
        )

    def _master_password(
        self, name: str, args: DatabaseArgs, tags: dict[str, str]
    ) -> pulumi.Output[str] | None:
        """The master password when this component, not RDS, keeps it; None when RDS does.

        RDS will not create a read replica of an instance whose master password it manages in
        Secrets Manager (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
        rds-secrets-manager.html, Limitations). With a replica, the password is generated here,
        stored first in a secret of our own, which Secrets Manager replicates into the replica
        region under that region's key, then given to the instance.

        Secrets Manager generates the password at each run, but the write-only inputs that
        carry it are sent only on create (their version stays MASTER_PASSWORD_VERSION) and are
        exempt from diffs, so a later run changes nothing: the value is set once, and changing
        it afterwards is the job of a Secrets Manager rotation (none is deployed here). Pulumi
        keeps the inputs it sent in its state, so the password is there, encrypted as a Pulumi
        secret; it is never in plain state, an output or a log.
        """
        self.master_secret: aws.secretsmanager.Secret | None = None
        self._master_secret_writes: list[pulumi.Resource] = []
        replica = args.master_secret_replica
        if replica is None:
            return None

        generated = aws.secretsmanager.get_random_password_output(
            password_length=MASTER_PASSWORD_LENGTH,
            exclude_characters=MASTER_PASSWORD_EXCLUDED_CHARACTERS,
            include_space=False,
            require_each_included_type=True,
            opts=pulumi.InvokeOptions(parent=self),
        )
        password = pulumi.Output.secret(generated.random_password)

        self.master_secret = aws.secretsmanager.Secret(
            f"{name}-master",
            description="Master user of the PostgreSQL instance, generated at its creation",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=7,
            replicas=[
                aws.secretsmanager.SecretReplicaArgs(
                    region=replica.region, kms_key_id=replica.kms_key_arn
                )
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The shape RDS gives its own master secret, which the bootstrap reads.
        master_value = aws.secretsmanager.SecretVersion(
            f"{name}-master-value",
            secret_id=self.master_secret.id,
            secret_string_wo=pulumi.Output.secret(
                pulumi.Output.json_dumps({"username": args.master_username, "password": password})
            ),
            secret_string_wo_version=MASTER_PASSWORD_VERSION,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secret_string_wo"]),
        )
        self._master_secret_writes = [master_value]
        return password


def tls_parameter_group(
    component_name: str,
    *,
    engine_version: str,
    statement_timeout_ms: int,
    description: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.rds.ParameterGroup:
    """'<component>-params': refuses connections without TLS and bounds each statement's time.

    RDS Proxy does not pass a client's cancel request on to PostgreSQL
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.html, "Quotas and
    limitations"), so a client timeout cannot stop a runaway query; the server-side
    statement_timeout does. rds.force_ssl refuses any connection without TLS.
    """
    return aws.rds.ParameterGroup(
        f"{component_name}-params",
        family=parameter_group_family(engine_version),
        description=description,
        parameters=[
            aws.rds.ParameterGroupParameterArgs(
                name="rds.force_ssl", value="1", apply_method="immediate"
            ),
            aws.rds.ParameterGroupParameterArgs(
                name="statement_timeout", value=str(statement_timeout_ms), apply_method="immediate"
            ),
        ],
        tags=tags,
        opts=opts,
    )


def postgresql_log_group(
    component_name: str,
    *,
    instance_identifier: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.LogGroup:
    """'<component>-postgresql-logs': the group the instance's PostgreSQL log is exported to.

    RDS would create it on the first export, with no key and no expiry; made first, it has both.
    """
    return aws.cloudwatch.LogGroup(
        f"{component_name}-postgresql-logs",
        name=postgresql_log_group_name(instance_identifier),
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        tags=tags,
        opts=opts,
    )


def _service_trust_policy(service: str, account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    # aws:SourceAccount keeps another account's use of the service from assuming the role.
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


def _kms_via_secrets_manager_statement(
    kms_key_arn: pulumi.Input[str], region: pulumi.Input[str], actions: list[str]
) -> dict:
    return {
        "Sid": "UseKeyThroughSecretsManager",
        "Effect": "Allow",
        "Action": actions,
        "Resource": kms_key_arn,
        "Condition": {
            "StringEquals": {
                "kms:ViaService": pulumi.Output.concat("secretsmanager.", region, ".amazonaws.com")
            }
        },
    }


def _xray_write_statement() -> dict:
    # X-Ray accepts trace segments only on "*": its write actions have no resource type.
    return {
        "Sid": "WriteTraces",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    }


def validate_database_args(args: DatabaseArgs) -> list[str]:
    """Every problem with the args, each naming the field, the rule, the value and the fix."""
    problems: list[str] = []

    if args.auth_mode not in AUTH_MODES:
        problems.append(
            f"'auth_mode' must be one of {', '.join(AUTH_MODES)}, got {args.auth_mode!r}; "
            "use 'iam' for end-to-end IAM authentication or 'secret' for per-user secrets."
        )
    try:
        parameter_group_family(args.engine_version)
    except ValueError as exc:
        problems.append(str(exc))
    try:
        instance_max_connections(args.instance_class)
    except ValueError as exc:
        problems.append(str(exc))

    for field_name in ("data_subnet_ids", "app_subnet_ids"):
        subnets = getattr(args, field_name)
        # Subnet lists known at plan time are checked here; a list that is itself an Output
        # is checked by the policy pack's multi-AZ policies at preview.
        if isinstance(subnets, Sequence) and len(subnets) < MIN_AVAILABILITY_ZONES:
            problems.append(
                f"'{field_name}' needs one subnet in each of at least {MIN_AVAILABILITY_ZONES} "
                f"availability zones, got {len(subnets)}; add a zone to the network."
            )

    if not args.db_users:
        problems.append(
            "'db_users' is empty; give each Lambda tier a database user, "
            "e.g. DatabaseUser('ingest_writer', 'read-write')."
        )
    seen: set[str] = set()
    for index, user in enumerate(args.db_users):
        where = f"'db_users[{index}].name'"
        if not _DB_IDENTIFIER.match(user.name):
            problems.append(
                f"{where} must be a lowercase PostgreSQL identifier (a-z, 0-9, _; at most 63), "
                f"got {user.name!r}; rename it, e.g. 'api_reader'."
            )
        elif user.name.startswith(("pg_", "rds")):
            problems.append(
                f"{where} must not start with 'pg_' or 'rds' (reserved by PostgreSQL and RDS), "
                f"got {user.name!r}; rename it."
            )
        if user.name == args.master_username:
            problems.append(
                f"{where} must differ from 'master_username' ({args.master_username!r}); "
                "tiers never log in as the master user."
            )
        if user.name in seen:
            problems.append(f"{where} repeats {user.name!r}; give each tier its own user.")
        seen.add(user.name)
        if user.access not in ACCESS_LEVELS:
            problems.append(
                f"'db_users[{index}].access' must be one of {', '.join(ACCESS_LEVELS)}, "
                f"got {user.access!r}."
            )

    for field_name in ("database_name", "master_username", "schema_name"):
        value = getattr(args, field_name)
        if not isinstance(value, str) or not _DB_IDENTIFIER.match(value):
            problems.append(
                f"'{field_name}' must be a lowercase PostgreSQL identifier (a-z, 0-9, _), "
                f"got {value!r}."
            )
    if isinstance(args.master_username, str) and args.master_username.startswith(("pg_", "rds")):
        problems.append(
            f"'master_username' must not start with 'pg_' or 'rds', got {args.master_username!r}."
        )

    problems += check_range("port", args.port, 1150, 65535, "RDS accepts ports 1150-65535")
    problems += check_range(
        "allocated_storage_gib", args.allocated_storage_gib, 20, 65536, "gp3 takes 20-65536 GiB"
    )
    if args.max_allocated_storage_gib is not None and is_whole_number(args.allocated_storage_gib):
        minimum = min_max_allocated_storage_gib(args.allocated_storage_gib)
        if (
            not is_whole_number(args.max_allocated_storage_gib)
            or args.max_allocated_storage_gib < minimum
        ):
            problems.append(
                "'max_allocated_storage_gib' must be at least 10% above "
                f"'allocated_storage_gib' ({args.allocated_storage_gib}), so at least {minimum} "
                f"(RDS's rule for storage autoscaling), got {args.max_allocated_storage_gib!r}; "
                f"raise it to {minimum} or more, or set None to turn storage autoscaling off."
            )
    problems += check_range(
        "backup_retention_days",
        args.backup_retention_days,
        1,
        35,
        "backups are kept at least one day (replicas and point-in-time restore need them)",
    )
    retention = args.performance_insights_retention_days
    if not is_whole_number(retention) or not (
        retention == PERFORMANCE_INSIGHTS_FREE_RETENTION_DAYS
        or (retention % 31 == 0 and 31 <= retention <= PERFORMANCE_INSIGHTS_MAX_RETENTION_DAYS)
    ):
        problems.append(
            "'performance_insights_retention_days' must be 7 or a multiple of 31 up to 731, "
            f"got {retention!r}."
        )
    problems += check_range(
        "statement_timeout_ms",
        args.statement_timeout_ms,
        1000,
        3_600_000,
        "0 would turn the only query timeout behind the proxy off",
    )
    problems += check_range(
        "max_connections_percent", args.max_connections_percent, 1, 100, "it is a percentage"
    )
    problems += check_range(
        "max_idle_connections_percent",
        args.max_idle_connections_percent,
        0,
        100,
        "it is a percentage",
    )
    if (
        is_whole_number(args.max_idle_connections_percent)
        and is_whole_number(args.max_connections_percent)
        and args.max_idle_connections_percent > args.max_connections_percent
    ):
        problems.append(
            f"'max_idle_connections_percent' ({args.max_idle_connections_percent}) must not "
            f"exceed 'max_connections_percent' ({args.max_connections_percent}); lower it."
        )
    problems += check_range(
        "connection_borrow_timeout_seconds",
        args.connection_borrow_timeout_seconds,
        0,
        3600,
        "RDS Proxy accepts 0-3600 seconds",
    )
    problems += check_range(
        "idle_client_timeout_seconds",
        args.idle_client_timeout_seconds,
        1,
        28_800,
        "RDS Proxy accepts 1 second to 8 hours",
    )
    problems += check_range(
        "bootstrap_timeout_seconds", args.bootstrap_timeout_seconds, 10, 900, "Lambda's limit"
    )
    problems += check_range(
        "bootstrap_memory_mb", args.bootstrap_memory_mb, 128, 10_240, "Lambda's limit"
    )
    if args.log_retention_days not in LOG_RETENTION_DAYS:
        problems.append(
            f"'log_retention_days' must be one CloudWatch Logs accepts ({LOG_RETENTION_DAYS}), "
            f"got {args.log_retention_days!r}."
        )
    if not isinstance(args.code, LambdaPackage):
        problems.append(
            f"'code' must be a LambdaPackage from build_lambda_package(), got {args.code!r}."
        )
    replica = args.master_secret_replica
    if replica is not None:
        if not isinstance(replica, MasterSecretReplica):
            problems.append(
                "'master_secret_replica' must be a MasterSecretReplica(region, kms_key_arn) or "
                f"None, got {replica!r}."
            )
        else:
            if not isinstance(replica.region, str) or not _REGION.match(replica.region):
                problems.append(
                    "'master_secret_replica.region' must be an AWS region name such as "
                    f"us-west-2, got {replica.region!r}."
                )
            if not replica.kms_key_arn:
                problems.append(
                    "'master_secret_replica.kms_key_arn' is empty; give the ARN of a "
                    "customer-managed key in the replica region."
                )
    if any(not isinstance(r, pulumi.Resource) for r in args.network_resources):
        problems.append(
            "'network_resources' must hold Pulumi resources (the Network component), got "
            f"{list(args.network_resources)!r}."
        )
    return problems


def validate_component_name(name: str) -> list[str]:
    """The component name feeds RDS identifiers and function names; check it fits both."""
    if isinstance(name, str) and _COMPONENT_NAME.match(name):
        return []
    return [
        f"component name must start with a lowercase letter and hold at most 30 lowercase "
        f"letters, digits and single hyphens (it becomes part of RDS identifiers), got {name!r}."
    ]


def instance_max_connections(instance_class: str) -> int:
    """RDS for PostgreSQL's default max_connections for an instance class.

    Uses the nominal memory of the class; RDS subtracts what the OS and its agents use from
    DBInstanceClassMemory, so the real value is somewhat lower (see README, Limitations).
    """
    memory_gib = INSTANCE_CLASS_MEMORY_GIB.get(instance_class)
    if memory_gib is None:
        known = ", ".join(sorted(INSTANCE_CLASS_MEMORY_GIB))
        raise ValueError(
            f"'instance_class' {instance_class!r} is not a known RDS for PostgreSQL class, so "
            f"its connection limit is unknown; use one of: {known}."
        )
    return min(memory_gib * GIB // MAX_CONNECTIONS_MEMORY_DIVISOR_BYTES, MAX_CONNECTIONS_CEILING)


def proxy_connection_budget(instance_class: str, max_connections_percent: int) -> int:
    """How many database connections the proxy may open: max_connections x percent, rounded down.

    Each concurrently running function holds at most one connection, so the tiers' reserved
    concurrency must fit in this number.
    """
    if not is_whole_number(max_connections_percent) or not 1 <= max_connections_percent <= 100:
        raise ValueError(
            "'max_connections_percent' must be a whole percentage from 1 to 100, "
            f"got {max_connections_percent!r}."
        )
    return instance_max_connections(instance_class) * max_connections_percent // 100


def parameter_group_family(engine_version: str) -> str:
    """The parameter group family of an RDS for PostgreSQL version: '16.4' -> 'postgres16'."""
    match = _ENGINE_VERSION.match(engine_version) if isinstance(engine_version, str) else None
    supported = f"{SUPPORTED_MAJOR_VERSIONS.start}-{SUPPORTED_MAJOR_VERSIONS.stop - 1}"
    if match is None:
        raise ValueError(
            f"'engine_version' must look like '16' or '16.4', got {engine_version!r}; "
            f"use a PostgreSQL major version {supported}."
        )
    major = int(match.group(1))
    if major not in SUPPORTED_MAJOR_VERSIONS:
        raise ValueError(
            f"'engine_version' {engine_version!r} has major version {major}; RDS for "
            f"PostgreSQL with RDS Proxy is supported here for {supported}; pick one of those."
        )
    return f"postgres{major}"


@dataclass(frozen=True)
class DatabaseNames:
    """The physical names DatabaseWithProxy derives from project, stack and component name."""

    bootstrap_function: str
    instance_identifier: str
    final_snapshot_identifier: str
    postgresql_log_group: str


def database_names(project: str, stack: str, component_name: str) -> DatabaseNames:
    """Every physical name of the component, checked; DatabaseArgsError lists each problem."""
    problems = validate_component_name(component_name)
    function_name = ""
    try:
        function_name = lambda_function_name(project, stack, f"{component_name}-bootstrap")
    except ValueError as exc:
        problems.append(str(exc))
    identifier = f"{project}-{stack}-{component_name}".lower()
    snapshot = final_snapshot_identifier(identifier)
    problems += check_rds_identifier(
        "instance identifier", identifier, MAX_INSTANCE_IDENTIFIER_LENGTH, stack
    )
    problems += check_rds_identifier(
        "final snapshot identifier", snapshot, MAX_SNAPSHOT_IDENTIFIER_LENGTH, stack
    )
    if problems:
        raise DatabaseArgsError("; ".join(dict.fromkeys(problems)))
    return DatabaseNames(
        bootstrap_function=function_name,
        instance_identifier=identifier,
        final_snapshot_identifier=snapshot,
        postgresql_log_group=postgresql_log_group_name(identifier),
    )


def check_rds_identifier(what: str, identifier: str, max_length: int, stack: str) -> list[str]:
    """[] when `identifier` is a valid RDS identifier, else one message naming the stack."""
    if len(identifier) <= max_length and _RDS_IDENTIFIER.match(identifier):
        return []
    return [
        f"{what} {identifier!r} (project-stack-component) must hold at most {max_length} "
        "letters, digits and single hyphens, start with a letter and not end with a hyphen; "
        f"rename or shorten the stack {stack!r}."
    ]


def postgresql_log_group_name(instance_identifier: str) -> str:
    """The log group RDS exports an instance's PostgreSQL log to."""
    return f"/aws/rds/instance/{instance_identifier}/postgresql"


def final_snapshot_identifier(instance_identifier: str) -> str:
    """The final snapshot's identifier: the instance's (project-stack-component) + '-final', so
    stacks sharing an account and region do not collide."""
    return f"{instance_identifier}-final"


def final_snapshot_inputs(instance_identifier: str, *, skip: bool) -> dict[str, object]:
    """The instance inputs that say whether `pulumi destroy` takes a final snapshot, and which."""
    return {
        "skip_final_snapshot": skip,
        "final_snapshot_identifier": None
        if skip
        else final_snapshot_identifier(instance_identifier),
    }


def private_instance_inputs(
    *,
    kms_key_arn: pulumi.Input[str],
    port: int,
    subnet_group: aws.rds.SubnetGroup,
    parameter_group: aws.rds.ParameterGroup,
    security_group: aws.ec2.SecurityGroup,
    multi_az: bool,
    deletion_protection: bool,
    performance_insights_retention_days: int,
    tags: Mapping[str, str],
) -> dict[str, object]:
    """The instance inputs the primary and its cross-region replica share.

    Both are private (isolated subnets, one group, no public address), encrypted with the
    customer-managed key (storage and Performance Insights), open to IAM authentication, export
    the PostgreSQL log, and take RDS's minor upgrades.
    """
    return {
        "storage_type": "gp3",
        "storage_encrypted": True,
        "kms_key_id": kms_key_arn,
        "port": port,
        "db_subnet_group_name": subnet_group.name,
        "parameter_group_name": parameter_group.name,
        "vpc_security_group_ids": [security_group.id],
        "publicly_accessible": False,
        "iam_database_authentication_enabled": True,
        "multi_az": multi_az,
        "copy_tags_to_snapshot": True,
        "deletion_protection": deletion_protection,
        "performance_insights_enabled": True,
        "performance_insights_kms_key_id": kms_key_arn,
        "performance_insights_retention_period": performance_insights_retention_days,
        "enabled_cloudwatch_logs_exports": ["postgresql"],
        "auto_minor_version_upgrade": True,
        "tags": tags,
    }


def min_max_allocated_storage_gib(allocated_storage_gib: int) -> int:
    """The smallest autoscaling ceiling RDS accepts: 10% above the allocated storage, rounded
    up to a whole GiB."""
    return -(-allocated_storage_gib * (100 + STORAGE_AUTOSCALING_HEADROOM_PERCENT) // 100)


def replica_secret_arn(secret_arn: str, replica_region: str) -> str:
    """A replica of a secret keeps the source's ARN except for the region."""
    parts = secret_arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager":
        raise ValueError(f"not a Secrets Manager secret ARN: {secret_arn!r}")
    parts[3] = replica_region
    return ":".join(parts)


def rds_db_user_arn(
    partition: str, region: str, account_id: str, resource_id: str, db_user: str
) -> str:
    """The rds-db:connect resource for one database user of an instance ("db-...") or proxy
    ("prx-...")."""
    return f"arn:{partition}:rds-db:{region}:{account_id}:dbuser:{resource_id}/{db_user}"


def proxy_resource_id_from_arn(proxy_arn: str) -> str:
    """'arn:aws:rds:us-east-1:111122223333:db-proxy:prx-0abc' -> 'prx-0abc'."""
    resource_id = proxy_arn.rsplit(":", 1)[-1]
    if not resource_id.startswith("prx-"):
        raise ValueError(f"not an RDS Proxy ARN (no 'prx-' resource id): {proxy_arn!r}")
    return resource_id


def lambda_function_name(project: str, stack: str, component_name: str) -> str:
    """A function name unique per project and stack: '<project>-<stack>-<component>'."""
    name = f"{project}-{stack}-{component_name}"
    if len(name) > MAX_FUNCTION_NAME_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(
            f"function name {name!r} (project-stack-component) must hold at most "
            f"{MAX_FUNCTION_NAME_LENGTH} letters, digits, hyphens and underscores; "
            "shorten the component (tier) name or the stack name."
        )
    return name


def bootstrap_event(
    schema_name: str,
    db_users: Sequence[DatabaseUser],
    *,
    iam_auth: bool,
    secret_arns: Mapping[str, pulumi.Input[str]] | None = None,
) -> dict:
    """The agreed bootstrap event: schema, roles (with their secret ARNs in secret mode)."""
    roles = []
    for user in db_users:
        role: dict = {"name": user.name, "access": user.access}
        if not iam_auth:
            role["secretArn"] = (secret_arns or {})[user.name]
        roles.append(role)
    return {"schema": schema_name, "roles": roles, "iamAuth": iam_auth}


def check_range(field_name: str, value: object, low: int, high: int, why: str) -> list[str]:
    """[] when value is a whole number in [low, high], else one message naming the field."""
    if is_whole_number(value) and low <= value <= high:
        return []
    return [f"'{field_name}' must be a whole number from {low} to {high} ({why}), got {value!r}."]


def is_whole_number(value: object) -> bool:
    """An int that is not a bool (True would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)
