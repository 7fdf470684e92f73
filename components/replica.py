"""CrossRegionReplica: an encrypted read replica of the database in a second region, with its own
network and key, and Lambda tiers that read from it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws

from components.database import (
    INSTANCE_CLASS_MEMORY_GIB,
    LOG_RETENTION_DAYS,
    MAX_INSTANCE_IDENTIFIER_LENGTH,
    check_range,
    check_rds_identifier,
    final_snapshot_inputs,
    lambda_function_name,
    parameter_group_family,
    postgresql_log_group,
    private_instance_inputs,
    tls_parameter_group,
    validate_component_name,
)
from components.lambda_package import LambdaPackage
from components.lambda_tier import LambdaTier, LambdaTierArgs
from components.network import Network, NetworkArgs
from components.secrets import Secrets, SecretsArgs

COMPONENT_TYPE = "lambda-private-db:components:CrossRegionReplica"

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
    code: the Lambda code package (the tiers' handlers).
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

    The master secret's copy in this region belongs to the primary's secret (DatabaseWithProxy
    with master_secret_replica), which names this component's key.

    Outputs: region, kms_key_arn, vpc_id, app_subnet_ids, data_subnet_ids, instance_arn,
    instance_identifier, instance_endpoint (address), instance_resource_id,
    db_security_group_id, tier_function_names, tier_function_arns, tier_api_endpoints (HTTP
    tiers only).
    """

    def __init__(
        self, name: str, args: CrossRegionReplicaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # The stack program makes the same check before it creates anything.
        problems = check_replica_names(pulumi.get_project(), pulumi.get_stack(), name, args.tiers)
        if problems:
            raise CrossRegionReplicaArgsError("; ".join(problems))
        identifier = replica_instance_identifier(pulumi.get_project(), pulumi.get_stack(), name)

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
        self.parameter_group = tls_parameter_group(
            name,
            engine_version=args.engine_version,
            statement_timeout_ms=args.statement_timeout_ms,
            description="TLS only, bounded statement time (replica)",
            tags=tags,
            opts=replica_side,
        )

        # In this region, under this region's key.
        self.postgresql_log_group = postgresql_log_group(
            name,
            instance_identifier=identifier,
            retention_days=args.log_retention_days,
            kms_key_arn=key_arn,
            tags=tags,
            opts=replica_side,
        )

        # A replica takes its engine, version, master user and database from its source, so
        # none of them is set, and RDS does not manage a master password for a replica
        # (manage_master_user_password is refused): code in this region logs in with IAM
        # tokens, or with the master secret's copy that the primary's secret keeps here.
        # `promoted` must only follow a real promotion: on a replica that never existed it
        # would ask RDS for a new instance without source or master user, which RDS refuses.
        promoted = args.promoted
        self.instance = aws.rds.Instance(
            f"{name}-postgres",
            identifier=identifier,
            replicate_source_db=None if promoted else args.source_instance_arn,
            instance_class=args.instance_class,
            backup_retention_period=args.backup_retention_days if promoted else None,
            # RDS takes no final snapshot of a replica, so one is asked for only once promoted.
            **final_snapshot_inputs(identifier, skip=args.skip_final_snapshot or not promoted),
            **private_instance_inputs(
                kms_key_arn=key_arn,
                port=args.port,
                subnet_group=self.subnet_group,
                parameter_group=self.parameter_group,
                security_group=self.db_security_group,
                multi_az=args.multi_az,
                deletion_protection=args.deletion_protection,
                performance_insights_retention_days=args.performance_insights_retention_days,
                tags=tags,
            ),
            opts=pulumi.ResourceOptions.merge(
                replica_side, pulumi.ResourceOptions(depends_on=[self.postgresql_log_group])
            ),
        )

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
                    network_resources=[self.network],
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
                "tier_function_names": self.tier_function_names,
                "tier_function_arns": self.tier_function_arns,
                "tier_api_endpoints": self.tier_api_endpoints,
            }
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


def replica_instance_identifier(project: str, stack: str, component_name: str) -> str:
    """The replica instance's RDS identifier: '<project>-<stack>-<component>', lowercase."""
    return f"{project}-{stack}-{component_name}".lower()


def check_replica_names(
    project: str, stack: str, component_name: str, tier_names: Iterable[str]
) -> list[str]:
    """Every problem with the names the component derives (instance, tier functions)."""
    problems = validate_component_name(component_name)
    problems += check_rds_identifier(
        "instance identifier",
        replica_instance_identifier(project, stack, component_name),
        MAX_INSTANCE_IDENTIFIER_LENGTH,
        stack,
    )
    for tier_name in tier_names:
        tier_component = f"{component_name}-{tier_name}"
        problems += validate_component_name(tier_component)
        try:
            lambda_function_name(project, stack, tier_component)
        except ValueError as exc:
            problems.append(str(exc))
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
