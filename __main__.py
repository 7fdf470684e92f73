"""The stack program: read the stack's config, then build key, network, database and tiers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import pulumi

from components.database import (
    DatabaseArgs,
    DatabaseArgsError,
    DatabaseUser,
    DatabaseWithProxy,
    MasterSecretReplica,
    database_names,
)
from components.lambda_package import LambdaPackage, LambdaPackageError, build_lambda_package
from components.lambda_tier import (
    HttpTrigger,
    LambdaTier,
    LambdaTierArgs,
    LambdaTierArgsError,
    SqsTrigger,
)
from components.network import Network, NetworkArgs, NetworkArgsError
from components.replica import (
    CrossRegionReplica,
    CrossRegionReplicaArgs,
    CrossRegionReplicaArgsError,
    check_replica_names,
)
from components.secrets import Secrets, SecretsArgs, SecretsArgsError
from stack_config import (
    StackConfig,
    TierConfig,
    config_key,
    load_stack_config,
    resolve_availability_zones,
)

# Stand-ins for the outputs of components not yet built, so that every component's args are
# checked before the first resource is registered. dataclasses.replace() checks them again
# with the real outputs.
_PENDING = "pending-until-created"

# Component names: they are part of every resource name and of the RDS identifiers.
DATABASE = "database"
REPLICA = "replica"

_ARGS_ERRORS = (
    NetworkArgsError,
    SecretsArgsError,
    DatabaseArgsError,
    LambdaTierArgsError,
    CrossRegionReplicaArgsError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class ComponentPlan:
    """Every component's args, checked, with stand-ins where an output of another goes."""

    secrets: SecretsArgs
    network: NetworkArgs
    database: DatabaseArgs
    tiers: dict[str, LambdaTierArgs]
    replica: CrossRegionReplicaArgs | None = None


def main() -> None:
    config = resolve_availability_zones(load_stack_config())
    code = _stop_on_error("the Lambda code package", build_lambda_package)
    plan = _stop_on_error("the stack's components", lambda: plan_components(config, code))

    secrets = Secrets("kms", plan.secrets)
    network = Network("network", replace(plan.network, kms_key_arn=secrets.kms_key_arn))

    # With a replica, the primary's master secret is replicated under the replica region's key,
    # which the replica component creates, while the replica needs the primary's ARN: the key's
    # ARN is handed to the database now and filled in once the replica exists. (No resource
    # cycle: the key depends on nothing of the primary.)
    master_secret_replica = plan.database.master_secret_replica
    resolve_replica_key_arn = None
    if master_secret_replica is not None:
        replica_key_arn, resolve_replica_key_arn = pulumi.deferred_output()
        master_secret_replica = replace(master_secret_replica, kms_key_arn=replica_key_arn)
    database = DatabaseWithProxy(
        DATABASE,
        replace(
            plan.database,
            vpc_id=network.vpc_id,
            data_subnet_ids=network.data_subnet_ids,
            app_subnet_ids=network.app_subnet_ids,
            endpoints_security_group_id=network.endpoints_security_group_id,
            kms_key_arn=secrets.kms_key_arn,
            master_secret_replica=master_secret_replica,
            network_resources=[network],
        ),
    )
    tiers = {
        name: LambdaTier(
            name,
            replace(
                args,
                vpc_id=network.vpc_id,
                app_subnet_ids=network.app_subnet_ids,
                proxy_security_group_id=database.proxy_security_group_id,
                endpoints_security_group_id=network.endpoints_security_group_id,
                kms_key_arn=secrets.kms_key_arn,
                db_host=database.proxy_endpoint,
                db_port=database.port,
                db_name=database.database_name,
                proxy_resource_id=database.proxy_resource_id,
                network_resources=[network],
            ),
        )
        for name, args in plan.tiers.items()
    }
    # Both regions live in this one stack, so deploying the replica side also needs the
    # primary's region to answer (see the README's Limitations).
    replica = None
    if plan.replica is not None:
        assert resolve_replica_key_arn is not None
        try:
            replica = CrossRegionReplica(
                REPLICA, replace(plan.replica, source_instance_arn=database.instance_arn)
            )
        except BaseException as exc:
            # Left unresolved, the deferred key would keep the program waiting forever.
            resolve_replica_key_arn(_failed_output(exc))
            raise
        resolve_replica_key_arn(replica.kms_key_arn)

    pulumi.export("region", config.region)
    pulumi.export("kmsKeyArn", secrets.kms_key_arn)
    pulumi.export("vpcId", network.vpc_id)
    pulumi.export("availabilityZones", network.availability_zones)
    pulumi.export("appSubnetIds", network.app_subnet_ids)
    pulumi.export("dataSubnetIds", network.data_subnet_ids)
    pulumi.export("publicSubnetIds", network.public_subnet_ids)
    pulumi.export("proxyEndpoint", database.proxy_endpoint)
    pulumi.export("dbPort", database.port)
    pulumi.export("dbName", database.database_name)
    # The ARN names no password, but it points at the master credentials: keep it out of
    # plain-text state and CLI output all the same.
    pulumi.export("masterSecretArn", pulumi.Output.secret(database.master_secret_arn))
    pulumi.export("tierFunctionNames", {name: tier.function_name for name, tier in tiers.items()})
    pulumi.export("tierFunctionArns", {name: tier.function_arn for name, tier in tiers.items()})
    pulumi.export(
        "tierQueueUrls",
        {
            name: tier.queue_url
            for name, tier in tiers.items()
            if isinstance(plan.tiers[name].trigger, SqsTrigger)
        },
    )
    pulumi.export(
        "tierApiEndpoints",
        {
            name: tier.api_endpoint
            for name, tier in tiers.items()
            if isinstance(plan.tiers[name].trigger, HttpTrigger)
        },
    )
    if replica is not None:
        pulumi.export("replicaRegion", replica.region)
        pulumi.export("replicaKmsKeyArn", replica.kms_key_arn)
        pulumi.export("replicaVpcId", replica.vpc_id)
        pulumi.export("replicaInstanceIdentifier", replica.instance_identifier)
        pulumi.export("replicaEndpoint", replica.instance_endpoint)
        pulumi.export(
            "replicaMasterSecretArn", pulumi.Output.secret(database.master_secret_replica_arn)
        )
        pulumi.export("replicaTierFunctionNames", replica.tier_function_names)
        pulumi.export("replicaTierApiEndpoints", replica.tier_api_endpoints)


def plan_components(config: StackConfig, code: LambdaPackage) -> ComponentPlan:
    """The args of every component, built and checked before anything is created."""
    zones = config.network.availability_zones
    pending_subnets = [_PENDING] * len(zones)
    tags = {"project": config.project, "stack": config.stack}

    secrets = SecretsArgs(
        alias_name=f"alias/{config.project}-{config.stack}",
        region=config.region,
        deletion_window_days=config.kms_deletion_window_days,
        tags=tags,
    )
    network = NetworkArgs(
        vpc_cidr=config.network.vpc_cidr,
        availability_zones=zones,
        subnet_plan=config.network.subnet_plan,
        region=config.region,
        kms_key_arn=_PENDING,
        nat_strategy=config.network.nat_strategy,
        endpoint_services=config.network.endpoint_services,
        db_port=config.database.port,
        flow_logs_retention_days=config.log_retention_days,
        tags=tags,
        nat_strategy_setting=config_key(config.project, "natStrategy"),
    )
    db = config.database
    proxy = config.proxy
    # The names the database derives from project and stack, checked before anything exists.
    database_names(config.project, config.stack, DATABASE)
    # RDS refuses a read replica of an instance whose master password it manages, so with a
    # replica the database keeps the password in a secret of its own, replicated there.
    master_secret_replica = (
        MasterSecretReplica(region=config.replica.region, kms_key_arn=_PENDING)
        if config.replica is not None
        else None
    )
    database = DatabaseArgs(
        vpc_id=_PENDING,
        data_subnet_ids=pending_subnets,
        app_subnet_ids=pending_subnets,
        endpoints_security_group_id=_PENDING,
        kms_key_arn=_PENDING,
        code=code,
        db_users=_database_users(config),
        auth_mode=db.auth_mode,
        engine_version=db.engine_version,
        instance_class=db.instance_class,
        allocated_storage_gib=db.allocated_storage_gib,
        max_allocated_storage_gib=db.max_allocated_storage_gib,
        database_name=db.name,
        master_username=db.master_username,
        port=db.port,
        multi_az=db.multi_az,
        backup_retention_days=db.backup_retention_days,
        deletion_protection=db.deletion_protection,
        skip_final_snapshot=not db.final_snapshot,
        performance_insights_retention_days=db.performance_insights_retention_days,
        statement_timeout_ms=db.statement_timeout_ms,
        max_connections_percent=proxy.max_connections_percent,
        max_idle_connections_percent=proxy.max_idle_connections_percent,
        connection_borrow_timeout_seconds=proxy.connection_borrow_timeout_seconds,
        idle_client_timeout_seconds=proxy.idle_client_timeout_seconds,
        log_retention_days=config.log_retention_days,
        master_secret_replica=master_secret_replica,
        tags=tags,
        engine_version_setting=config_key(config.project, "dbEngineVersion"),
    )
    tiers = {
        tier.name: _tier_args(config, tier, code, pending_subnets, tags) for tier in config.tiers
    }
    replica = _replica_args(config, code, tags) if config.replica is not None else None
    return ComponentPlan(
        secrets=secrets, network=network, database=database, tiers=tiers, replica=replica
    )


def _database_users(config: StackConfig) -> list[DatabaseUser]:
    """The roles the primary's bootstrap creates: every tier's, the replica's included, since a
    read replica is a copy of the primary and has only the roles made there."""
    replica_tiers = config.replica.tiers if config.replica is not None else ()
    users: dict[str, DatabaseUser] = {}
    for tier in (*config.tiers, *replica_tiers):
        users.setdefault(tier.db_user, DatabaseUser(tier.db_user, tier.access))
    return list(users.values())


def _replica_args(
    config: StackConfig, code: LambdaPackage, tags: dict[str, str]
) -> CrossRegionReplicaArgs:
    """The replica's args, checked, with a stand-in for the primary's instance."""
    replica = config.replica
    assert replica is not None
    db = config.database
    problems = check_replica_names(
        config.project, config.stack, REPLICA, [tier.name for tier in replica.tiers]
    )
    if problems:
        raise CrossRegionReplicaArgsError("; ".join(problems))
    replica_tags = {**tags, "role": "replica"}
    pending_subnets = [_PENDING] * len(replica.network.availability_zones)
    # The replica's tiers are planned like the primary's, with the replica region's NAT.
    tier_config = replace(
        config, network=replace(config.network, nat_strategy=replica.network.nat_strategy)
    )
    return CrossRegionReplicaArgs(
        region=replica.region,
        primary_region=config.region,
        primary_vpc_cidr=config.network.vpc_cidr,
        secrets=SecretsArgs(
            alias_name=f"alias/{config.project}-{config.stack}-replica",
            region=replica.region,
            deletion_window_days=config.kms_deletion_window_days,
            tags=replica_tags,
        ),
        network=NetworkArgs(
            vpc_cidr=replica.network.vpc_cidr,
            availability_zones=replica.network.availability_zones,
            subnet_plan=replica.network.subnet_plan,
            region=replica.region,
            kms_key_arn=_PENDING,
            nat_strategy=replica.network.nat_strategy,
            endpoint_services=replica.network.endpoint_services,
            db_port=db.port,
            flow_logs_retention_days=config.log_retention_days,
            tags=replica_tags,
            label="the replica region's network",
            nat_strategy_setting=config_key(config.project, "replica.natStrategy"),
        ),
        source_instance_arn=_PENDING,
        source_backup_retention_days=db.backup_retention_days,
        code=code,
        engine_version=db.engine_version,
        instance_class=replica.instance_class,
        port=db.port,
        database_name=db.name,
        multi_az=replica.multi_az,
        deletion_protection=replica.deletion_protection,
        promoted=replica.promoted,
        backup_retention_days=db.backup_retention_days,
        skip_final_snapshot=not replica.final_snapshot,
        performance_insights_retention_days=db.performance_insights_retention_days,
        statement_timeout_ms=db.statement_timeout_ms,
        log_retention_days=config.log_retention_days,
        tiers={
            tier.name: replace(
                _tier_args(tier_config, tier, code, pending_subnets, replica_tags),
                endpoint_kind="instance",
            )
            for tier in replica.tiers
        },
        profile=pulumi.Config("aws").get("profile"),
        tags=replica_tags,
    )


def _tier_args(
    config: StackConfig,
    tier: TierConfig,
    code: LambdaPackage,
    pending_subnets: list[str],
    tags: dict[str, str],
) -> LambdaTierArgs:
    trigger: SqsTrigger | HttpTrigger | None = None
    if tier.trigger == "sqs":
        trigger = SqsTrigger(batch_size=tier.batch_size, maximum_concurrency=tier.max_concurrency)
    elif tier.trigger == "http":
        trigger = HttpTrigger(access_log_retention_days=config.log_retention_days)
    return LambdaTierArgs(
        handler=tier.handler_path,
        code=code,
        db_user=tier.db_user,
        vpc_id=_PENDING,
        app_subnet_ids=pending_subnets,
        proxy_security_group_id=_PENDING,
        endpoints_security_group_id=_PENDING,
        kms_key_arn=_PENDING,
        db_host=_PENDING,
        db_port=config.database.port,
        db_name=config.database.name,
        proxy_resource_id=_PENDING,
        # Functions always reach the proxy with IAM tokens; dbAuthMode only decides how the
        # proxy logs in to the database (IAM end to end, or the per-tier secrets).
        auth_mode="iam",
        memory_mb=tier.memory_mb,
        timeout_seconds=tier.timeout_seconds,
        reserved_concurrency=tier.reserved_concurrency,
        provisioned_concurrency=tier.provisioned_concurrency,
        log_retention_days=config.log_retention_days,
        log_level=tier.log_level,
        trigger=trigger,
        internet_egress=tier.internet_egress,
        nat_available=config.network.nat_strategy != "none",
        tags={**tags, "tier": tier.name},
    )


def _failed_output(error: BaseException) -> pulumi.Output[str]:
    """An output that fails with `error`, so whatever waits on it stops instead of hanging."""

    def fail(_: object) -> str:
        raise error

    return pulumi.Output.from_input("").apply(fail)


def _stop_on_error(what: str, build: Callable[[], T]) -> T:
    """Turn a component's own validation error into a pulumi.RunError, which the language host
    prints as one message instead of a traceback."""
    try:
        return build()
    except (*_ARGS_ERRORS, LambdaPackageError) as exc:
        raise pulumi.RunError(f"{what}: {exc}") from exc


main()
