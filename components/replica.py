"""CrossRegionReplica: an encrypted read replica of the database in a second region, with its own
network and key, the master secret replicated there, and Lambda tiers that read from it."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws

from components.database import (
    INSTANCE_CLASS_MEMORY_GIB,
    LAMBDA_ARCHITECTURE,
    LAMBDA_RUNTIME,
    LOG_RETENTION_DAYS,
    check_range,
    lambda_function_name,
    parameter_group_family,
    validate_component_name,
)
from components.lambda_package import LambdaPackage
from components.lambda_tier import LambdaTier, LambdaTierArgs
from components.network import Network, NetworkArgs
from components.secrets import Secrets, SecretsArgs

COMPONENT_TYPE = "lambda-private-db:components:CrossRegionReplica"

REPLICATION_HANDLER = "lambda_src.handlers.replicate_secret.handler"
REPLICATION_TIMEOUT_SECONDS = 60
REPLICATION_MEMORY_MB = 128

# What replicating the master secret takes: describe it, add and remove a replica region.
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicateSecretToRegions.html
SECRET_REPLICATION_ACTIONS = (
    "secretsmanager:DescribeSecret",
    "secretsmanager:ReplicateSecretToRegions",
    "secretsmanager:RemoveRegionsFromReplication",
)

_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")


class CrossRegionReplicaArgsError(ValueError):
    """CrossRegionReplicaArgs that cannot build a replica; each problem names the field."""


@dataclass(frozen=True)
class CrossRegionReplicaArgs:
    """Inputs of CrossRegionReplica; all checked in __post_init__, before any resource exists.

    region: the replica's region; must differ from primary_region.
    primary_region: the region of the source instance (the stack's aws:region).
    primary_vpc_cidr: the primary VPC's block. The replica's VPC must not overlap it, so that
        the two can later be peered or joined by a transit gateway without renumbering.
    secrets: the replica region's key (its region must be `region`).
    network: the replica's VPC (its region must be `region`; kms_key_arn is replaced by the
        replica key's ARN).
    source_instance_arn: the primary instance's ARN; across regions replicate_source_db takes
        the ARN, not the identifier.
    source_backup_retention_days: the primary's automated backups; RDS makes a replica only of
        an instance that keeps them (at least 1 day).
    source_master_secret_arn: the RDS-managed master secret in the primary region.
    source_kms_key_arn: the primary region's key, which encrypts that secret; the replication
        function decrypts through Secrets Manager with it.
    code: the Lambda code package (holds the replication handler).
    engine_version: the primary's version; the parameter group family follows its major.
    instance_class: the replica's class; it may differ from the primary's.
    port: the PostgreSQL port the replica listens on.
    database_name: the application database, for the tiers' DB_NAME.
    multi_az: a standby for the replica in a second zone of its region.
    deletion_protection: refuse to delete the replica (pulumi destroy fails until turned off).
    promoted: False while the instance replicates. Set True once it was promoted to a
        standalone instance (see the README's disaster-recovery runbook): then
        replicate_source_db is dropped and backups and the final snapshot apply.
    backup_retention_days / skip_final_snapshot: applied once promoted; RDS for PostgreSQL
        keeps no automated backups of a replica and takes no final snapshot of one.
    performance_insights_retention_days / statement_timeout_ms / log_retention_days: as on
        the primary.
    tiers: the replica region's Lambda tiers, keyed by tier name, with stand-ins where the
        network's and the replica's outputs go; they connect to the instance itself.
    profile: the AWS shared-config profile of the replica region's provider (the stack's
        aws:profile), or None for the environment's credentials.
    tags: added to every taggable resource.
    """

    region: str
    primary_region: str
    primary_vpc_cidr: str
    secrets: SecretsArgs
    network: NetworkArgs
    source_instance_arn: pulumi.Input[str]
    source_backup_retention_days: int
    source_master_secret_arn: pulumi.Input[str]
    source_kms_key_arn: pulumi.Input[str]
    code: LambdaPackage
    engine_version: str
    instance_class: str = "db.t4g.micro"
    port: int = 5432
    database_name: str = "app"
    multi_az: bool = False
    deletion_protection: bool = True
    promoted: bool = False
    backup_retention_days: int = 7
    skip_final_snapshot: bool = False
    performance_insights_retention_days: int = 7
    statement_timeout_ms: int = 30_000
    log_retention_days: int = 30
    tiers: Mapping[str, LambdaTierArgs] = field(default_factory=dict)
    profile: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = validate_replica_args(self)
        if problems:
            raise CrossRegionReplicaArgsError("; ".join(problems))


class CrossRegionReplica(pulumi.ComponentResource):
    """A read replica of the primary in another region, reachable from that region's tiers.

    Promotion is done by hand (the README's runbook) and then declared with `promoted`; failing
    back to the primary's region is not automated, and no alarm watches ReplicaLag.

    Outputs: region, kms_key_arn, vpc_id, app_subnet_ids, data_subnet_ids, instance_arn,
    instance_identifier, instance_endpoint (address), instance_resource_id,
    db_security_group_id, master_secret_replica_arn, tier_function_names, tier_function_arns,
    tier_api_endpoints (HTTP tiers only).
    """

    def __init__(
        self, name: str, args: CrossRegionReplicaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = validate_component_name(name)
        function_name = None
        try:
            function_name = lambda_function_name(
                pulumi.get_project(), pulumi.get_stack(), f"{name}-secret-sync"
            )
        except ValueError as exc:
            problems.append(str(exc))
        for tier_name in args.tiers:
            tier_component = f"{name}-{tier_name}"
            problems += validate_component_name(tier_component)
            try:
                lambda_function_name(pulumi.get_project(), pulumi.get_stack(), tier_component)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise CrossRegionReplicaArgsError("; ".join(problems))

        super().__init__(COMPONENT_TYPE, name, None, opts)
        tags = dict(args.tags)

        # One explicit provider for the replica region, handed to every replica-side child,
        # rather than pulumi-aws 7's per-resource `region` argument. The components reused
        # here (Secrets, Network, LambdaTier) take no region argument and look up the region,
        # account and partition with invokes; IAM resources take none either. A provider
        # reaches all of them, nested components and invokes included, so no resource of
        # the replica side can fall back to the stack's region by omission. An explicit
        # provider reads no `aws:` stack config: only the profile is passed on, so settings
        # such as aws:assumeRoles or aws:defaultTags do not reach the replica side.
        self.provider = aws.Provider(
            f"{name}-aws",
            region=args.region,
            profile=args.profile,
            opts=pulumi.ResourceOptions(parent=self),
        )
        replica_side = pulumi.ResourceOptions(parent=self, providers={"aws": self.provider})

        # The RDS User Guide lists replicas of a source whose master password RDS manages as
        # unsupported (rds-secrets-manager.html, Limitations). It could not be tried here, so
        # the deployment is not blocked, but every preview says so.
        pulumi.log.warn(
            "AWS documents that RDS refuses to create a read replica of an instance whose "
            "master password RDS manages in Secrets Manager (all engines but SQL Server), and "
            "the primary here manages it. If creating the replica fails with "
            "InvalidParameterValue, see 'Disaster recovery' in the README.",
            resource=self,
        )

        # The replica region's own key: a cross-region replica of an encrypted instance must
        # name a key of its region, and nothing on this side may depend on the primary's.
        self.secrets = Secrets(f"{name}-kms", args.secrets, opts=replica_side)
        key_arn = self.secrets.kms_key_arn
        self.network = Network(
            f"{name}-network", replace(args.network, kms_key_arn=key_arn), opts=replica_side
        )

        # The tiers add their own ingress rules to this group; it has no other rule.
        self.db_security_group = aws.ec2.SecurityGroup(
            f"{name}-db",
            vpc_id=self.network.vpc_id,
            description="PostgreSQL replica: the DB port from the replica region's tiers only",
            tags={**tags, "Name": f"{name}-db"},
            opts=replica_side,
        )
        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=self.network.data_subnet_ids,
            description="Isolated data subnets of the replica region, one per zone",
            tags=tags,
            opts=replica_side,
        )
        # A cross-region replica starts with its region's default parameter group, which does
        # not force TLS; this one does, with the primary's statement timeout.
        self.parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            family=parameter_group_family(args.engine_version),
            description="TLS only, bounded statement time (replica)",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name="rds.force_ssl", value="1", apply_method="immediate"
                ),
                aws.rds.ParameterGroupParameterArgs(
                    name="statement_timeout",
                    value=str(args.statement_timeout_ms),
                    apply_method="immediate",
                ),
            ],
            tags=tags,
            opts=replica_side,
        )

        # A replica takes its engine, version, master user and database from its source, so
        # none of them is set, and RDS does not manage a master password for a replica
        # (manage_master_user_password is refused): code in this region logs in with IAM
        # tokens, or with the replicated master secret below.
        # `promoted` must only follow a real promotion: on a replica that never existed it
        # would ask RDS for a new instance without source or master user, which RDS refuses.
        promoted = args.promoted
        self.instance = aws.rds.Instance(
            f"{name}-postgres",
            replicate_source_db=None if promoted else args.source_instance_arn,
            instance_class=args.instance_class,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=key_arn,
            port=args.port,
            db_subnet_group_name=self.subnet_group.name,
            parameter_group_name=self.parameter_group.name,
            vpc_security_group_ids=[self.db_security_group.id],
            publicly_accessible=False,
            iam_database_authentication_enabled=True,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days if promoted else None,
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=args.skip_final_snapshot if promoted else True,
            final_snapshot_identifier=(
                f"{name}-postgres-final" if promoted and not args.skip_final_snapshot else None
            ),
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key_arn,
            performance_insights_retention_period=args.performance_insights_retention_days,
            enabled_cloudwatch_logs_exports=["postgresql"],
            auto_minor_version_upgrade=True,
            tags=tags,
            opts=replica_side,
        )

        self._replicate_master_secret(name, args, function_name, key_arn, tags)

        # The tiers log in to the instance itself with IAM tokens: RDS Proxy can front only
        # the writer of a replication setup, never a read replica.
        # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.html
        self.tiers = {
            tier_name: LambdaTier(
                f"{name}-{tier_name}",
                replace(
                    tier_args,
                    vpc_id=self.network.vpc_id,
                    app_subnet_ids=self.network.app_subnet_ids,
                    proxy_security_group_id=self.db_security_group.id,
                    endpoints_security_group_id=self.network.endpoints_security_group_id,
                    kms_key_arn=key_arn,
                    db_host=self.instance.address,
                    db_port=args.port,
                    db_name=args.database_name,
                    proxy_resource_id=self.instance.resource_id,
                    auth_mode="iam",
                    db_secret_arn=None,
                    endpoint_kind="instance",
                ),
                opts=replica_side,
            )
            for tier_name, tier_args in args.tiers.items()
        }

        self.region = pulumi.Output.from_input(args.region)
        self.kms_key_arn = key_arn
        self.vpc_id = self.network.vpc_id
        self.app_subnet_ids = self.network.app_subnet_ids
        self.data_subnet_ids = self.network.data_subnet_ids
        self.instance_arn = self.instance.arn
        self.instance_identifier = self.instance.identifier
        self.instance_endpoint = self.instance.address
        self.instance_resource_id = self.instance.resource_id
        self.db_security_group_id = self.db_security_group.id
        self.master_secret_replica_arn = pulumi.Output.from_input(
            args.source_master_secret_arn
        ).apply(lambda arn: replica_secret_arn(arn, args.region))
        self.tier_function_names = {n: t.function_name for n, t in self.tiers.items()}
        self.tier_function_arns = {n: t.function_arn for n, t in self.tiers.items()}
        self.tier_api_endpoints = {
            n: t.api_endpoint for n, t in self.tiers.items() if t.api_endpoint is not None
        }
        self.register_outputs(
            {
                "region": self.region,
                "kms_key_arn": self.kms_key_arn,
                "vpc_id": self.vpc_id,
                "app_subnet_ids": self.app_subnet_ids,
                "data_subnet_ids": self.data_subnet_ids,
                "instance_arn": self.instance_arn,
                "instance_identifier": self.instance_identifier,
                "instance_endpoint": self.instance_endpoint,
                "instance_resource_id": self.instance_resource_id,
                "db_security_group_id": self.db_security_group_id,
                "master_secret_replica_arn": pulumi.Output.secret(self.master_secret_replica_arn),
                "tier_function_names": self.tier_function_names,
                "tier_function_arns": self.tier_function_arns,
                "tier_api_endpoints": self.tier_api_endpoints,
            }
        )

    def _replicate_master_secret(
        self,
        name: str,
        args: CrossRegionReplicaArgs,
        function_name: str | None,
        replica_key_arn: pulumi.Output[str],
        tags: dict[str, str],
    ) -> None:
        """Replicate the RDS-managed master secret into the replica region, with its key.

        RDS creates the master secret, so Pulumi cannot declare replicas on it (they belong to
        the source secret, and pulumi-aws 7.51 has no resource that adds a replica region to a
        secret it does not own). A small function in the primary region, invoked at deploy
        time, calls ReplicateSecretToRegions on it and removes the region again on destroy;
        Secrets Manager then keeps the copy in step, rotations included. No secret value
        passes through the function, Pulumi or its state.

        These resources live in the primary region (the default provider): the call is made
        against the source secret, and the function's logs are the primary's, under its key.

        Whether Secrets Manager lets anyone but RDS replicate a secret RDS owns is not stated
        in its documentation and was not tried here; if it refuses, the invocation fails with
        Secrets Manager's reason and the deployment stops there.
        """
        primary_side = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        account_id = aws.get_caller_identity_output(opts=invoke).account_id

        self.replication_log_group = aws.cloudwatch.LogGroup(
            f"{name}-secret-sync-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.source_kms_key_arn,
            tags=tags,
            opts=primary_side,
        )
        self.replication_role = aws.iam.Role(
            f"{name}-secret-sync-role",
            description="Replicates the RDS master secret into the replica region",
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
            opts=primary_side,
        )
        self.replication_policy = aws.iam.RolePolicy(
            f"{name}-secret-sync-access",
            role=self.replication_role.id,
            policy=pulumi.Output.all(
                secret_arn=args.source_master_secret_arn,
                source_key_arn=args.source_kms_key_arn,
                replica_key_arn=replica_key_arn,
                log_group_arn=self.replication_log_group.arn,
            ).apply(
                lambda v: json.dumps(
                    secret_replication_policy(
                        primary_region=args.primary_region, replica_region=args.region, **v
                    )
                )
            ),
            opts=primary_side,
        )
        self.replication_function = aws.lambda_.Function(
            f"{name}-secret-sync",
            name=function_name,
            description="Replicates the RDS master secret into the replica region",
            role=self.replication_role.arn,
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCHITECTURE],
            handler=REPLICATION_HANDLER,
            code=args.code.archive,
            source_code_hash=args.code.source_code_hash,
            timeout=REPLICATION_TIMEOUT_SECONDS,
            memory_size=REPLICATION_MEMORY_MB,
            kms_key_arn=args.source_kms_key_arn,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables={"LOG_LEVEL": "INFO"}),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON", log_group=self.replication_log_group.name
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.replication_policy, self.replication_log_group],
            ),
        )
        # CRUD: the function also runs when the input changes (another key or region) and when
        # the invocation is deleted, so that destroy stops the replication it started.
        self.secret_replication = aws.lambda_.Invocation(
            f"{name}-secret-replication",
            function_name=self.replication_function.name,
            input=pulumi.Output.json_dumps(
                {
                    "secretArn": args.source_master_secret_arn,
                    "replicaRegion": args.region,
                    "replicaKmsKeyId": replica_key_arn,
                }
            ),
            lifecycle_scope="CRUD",
            opts=primary_side,
        )


def validate_replica_args(args: CrossRegionReplicaArgs) -> list[str]:
    """Every problem with the args, each naming the field, the rule, the value and the fix."""
    problems: list[str] = []
    for field_name in ("region", "primary_region"):
        value = getattr(args, field_name)
        if not isinstance(value, str) or not _REGION.match(value):
            problems.append(
                f"'{field_name}' must be an AWS region name such as us-west-2, got {value!r}."
            )
    if args.region == args.primary_region:
        problems.append(
            f"'region' {args.region!r} is the primary's region; a cross-region replica must "
            "live in another region, e.g. us-west-2 for a primary in us-east-1."
        )
    for field_name, component_args in (("secrets", args.secrets), ("network", args.network)):
        if component_args.region != args.region:
            problems.append(
                f"'{field_name}.region' must be the replica's region {args.region!r}, got "
                f"{component_args.region!r}."
            )
    problems += check_cidrs_apart(args.network.vpc_cidr, args.primary_vpc_cidr)
    if not isinstance(args.source_backup_retention_days, int) or (
        args.source_backup_retention_days < 1
    ):
        problems.append(
            "'source_backup_retention_days' must be at least 1: RDS makes a read replica only "
            f"of an instance with automated backups, got {args.source_backup_retention_days!r}; "
            "turn the primary's backups on."
        )
    try:
        parameter_group_family(args.engine_version)
    except ValueError as exc:
        problems.append(str(exc))
    if args.instance_class not in INSTANCE_CLASS_MEMORY_GIB:
        problems.append(
            f"'instance_class' {args.instance_class!r} is not a known RDS for PostgreSQL "
            "class; use one such as db.t4g.medium or db.r6g.large."
        )
    problems += check_range("port", args.port, 1150, 65535, "RDS accepts ports 1150-65535")
    problems += check_range(
        "backup_retention_days", args.backup_retention_days, 1, 35, "applied once promoted"
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
    return problems


def check_cidrs_apart(replica_cidr: str, primary_cidr: str) -> list[str]:
    """[] when the two VPC blocks share no address, else one message naming both."""
    try:
        replica = ipaddress.IPv4Network(replica_cidr)
        primary = ipaddress.IPv4Network(primary_cidr)
    except ValueError as exc:
        return [f"'network.vpc_cidr' and 'primary_vpc_cidr' must be IPv4 CIDR blocks: {exc}."]
    if replica.overlaps(primary):
        return [
            f"'network.vpc_cidr' {replica} overlaps the primary's VPC {primary}; pick a block "
            "outside it, e.g. 10.30.0.0/16 beside 10.20.0.0/16, so the two VPCs can be "
            "connected later."
        ]
    return []


def replica_secret_arn(secret_arn: str, replica_region: str) -> str:
    """A replicated secret keeps the primary's ARN except for the region."""
    parts = secret_arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager":
        raise ValueError(f"not a Secrets Manager secret ARN: {secret_arn!r}")
    parts[3] = replica_region
    return ":".join(parts)


def secret_replication_policy(
    *,
    secret_arn: str,
    source_key_arn: str,
    replica_key_arn: str,
    log_group_arn: str,
    primary_region: str,
    replica_region: str,
) -> dict:
    """The replication function's policy: replication of the one secret, reading it with the
    primary's key and writing the copy with the replica's, both only through Secrets Manager,
    and its own log group (no AWS managed policy, so nothing broader comes with it).
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/replicate-secrets.html"""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
            },
            {
                "Sid": "ReplicateMasterSecret",
                "Effect": "Allow",
                "Action": list(SECRET_REPLICATION_ACTIONS),
                "Resource": secret_arn,
            },
            {
                "Sid": "DecryptSourceThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": source_key_arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{primary_region}.amazonaws.com"
                    }
                },
            },
            {
                "Sid": "EncryptReplicaThroughSecretsManager",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": replica_key_arn,
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{replica_region}.amazonaws.com"
                    }
                },
            },
        ],
    }
