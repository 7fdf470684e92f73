"""Encryption at rest (customer-managed KMS keys, rotation, log retention) and in transit (TLS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource
from support import (
    EXEMPT_CONFIG,
    UNKNOWN,
    Config,
    Finding,
    StackView,
    label,
    matches_any,
    not_known_yet,
    on_resource,
    resource_policy,
    shown,
    stack_policy,
    truthy,
    unverified,
    violation,
)

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
# Aurora's instances: they, not the cluster, carry publiclyAccessible and Performance Insights.
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_PROXY = "aws:rds/proxy:Proxy"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
SECRET = "aws:secretsmanager/secret:Secret"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
KMS_REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
SQS_QUEUE = "aws:sqs/queue:Queue"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
LAMBDA_FUNCTION = "aws:lambda/function:Function"

# A key reference that comes from one of these resources is a customer-managed key of the stack.
CUSTOMER_KEY_TYPES = (KMS_KEY, KMS_ALIAS, KMS_REPLICA_KEY)

# Aliases under alias/aws/ name the AWS-managed keys (aws/rds, aws/sqs, ...), which cannot be
# rotated on demand, shared across accounts, or restricted by a key policy.
AWS_MANAGED_KEY_CONFIG = {
    "awsManagedKeyPatterns": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["alias/aws/*", "arn:*:kms:*:*:alias/aws/*"],
        "description": "Key references (glob patterns) refused as not customer-managed.",
    }
}

# Only symmetric encryption keys outside custom key stores support automatic rotation.
# https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html
ROTATABLE_KEY_SPEC = "SYMMETRIC_DEFAULT"
ROTATABLE_KEY_USAGE = "ENCRYPT_DECRYPT"


# Helpers


def customer_managed_key_findings(
    view: StackView,
    resource: PolicyResource,
    prop: str,
    config: Config,
    fix: str | None = None,
) -> Iterator[Finding]:
    """Checks that `prop` names a customer-managed KMS key, resolving unknowns in the stack.

    `fix` ends each violation; by default it says to set `prop` to a key you manage.
    """
    fix = fix or f"Set {prop} to the ARN of a KMS key you manage."
    props = view.props(resource)
    resource_label = label(resource.resource_type, resource.name)
    value = props.get(prop)
    if value is UNKNOWN:
        if view.deps(resource, prop, *CUSTOMER_KEY_TYPES):
            return
        yield unverified(
            prop,
            resource_label,
            "the key is not known yet and does not come from a KMS key of this stack",
        )
        return
    if not value:
        yield violation(
            f"{resource_label} must encrypt with a customer-managed KMS key: {prop} is not set, "
            f"so AWS uses its managed key. {fix}"
        )
        return
    # Limit: an AWS-managed key named by its key ARN or ID (not its alias) looks like any other
    # key and passes; only the alias form (alias/aws/...) is recognized.
    if matches_any(str(value), config.strings("awsManagedKeyPatterns")):
        yield violation(
            f"{resource_label} must encrypt with a customer-managed KMS key: {prop} is "
            f"'{value}', an AWS-managed key. {fix}"
        )


def cmk_of_each(
    view: StackView, resource_type: str, prop: str, config: Config, fix: str | None = None
) -> Iterator[tuple[PolicyResource, Finding]]:
    """The key check of `prop` on every resource of `resource_type` in the stack."""
    for resource in view.of_type(resource_type):
        yield from on_resource(
            resource, customer_managed_key_findings(view, resource, prop, config, fix)
        )


def cmk_where_enabled(
    view: StackView, resource: PolicyResource, switch: str, prop: str, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    """The key check of `prop` where the boolean `switch` turns on what that key encrypts."""
    enabled = view.props(resource).get(switch)
    if enabled is UNKNOWN:
        yield resource, not_known_yet(resource, switch)
    elif truthy(enabled):
        yield from on_resource(
            resource, customer_managed_key_findings(view, resource, prop, config)
        )


def _is_read_replica(props: dict[str, Any]) -> bool:
    return bool(props.get("replicateSourceDb") or props.get("replicationSourceIdentifier"))


def _replica_sources(view: StackView, resource: PolicyResource) -> list[PolicyResource]:
    """The instances or clusters of this stack that a read replica copies."""
    return [
        *view.deps(resource, "replicateSourceDb", RDS_INSTANCE, RDS_CLUSTER),
        *view.deps(resource, "replicationSourceIdentifier", RDS_INSTANCE, RDS_CLUSTER),
    ]


def _instance_engine(view: StackView, resource: PolicyResource) -> Any:
    """An instance's engine; a read replica, which sets none, takes its source's.

    Where the source is not a resource of this stack, the family of the replica's own parameter
    group ("postgres16") tells the engine; None when nothing does.
    """
    seen = {resource.urn}
    current = resource
    while True:
        props = view.props(current)
        engine = props.get("engine")
        if engine is not None or not _is_read_replica(props):
            return engine
        sources = [source for source in _replica_sources(view, current) if source.urn not in seen]
        if not sources:
            break
        current = sources[0]
        seen.add(current.urn)
    for group in view.deps(resource, "parameterGroupName", RDS_PARAMETER_GROUP):
        family = view.props(group).get("family")
        if isinstance(family, str):
            return "postgres" if family.startswith("postgres") else family
    return None


# Policies


def rds_storage_encrypted_with_cmk(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    for resource in view.of_type(RDS_INSTANCE, RDS_CLUSTER):
        props = view.props(resource)
        resource_label = label(resource.resource_type, resource.name)
        encrypted = props.get("storageEncrypted")
        if encrypted is UNKNOWN:
            yield resource, unverified("storageEncrypted", resource_label, "it is not known yet")
        elif not truthy(encrypted):
            # A same-region read replica inherits its source's encryption and rejects the flag;
            # a source of this stack is checked on its own, any other cannot be seen.
            if _is_read_replica(props) and encrypted is None:
                if not _replica_sources(view, resource):
                    yield (
                        resource,
                        unverified(
                            "storageEncrypted",
                            resource_label,
                            "a read replica that does not set it inherits its source's "
                            "encryption, and its source is not a resource of this stack",
                        ),
                    )
                    continue
            else:
                yield (
                    resource,
                    violation(
                        f"{resource_label} must encrypt its storage: storageEncrypted is "
                        f"{shown(encrypted)}; set storageEncrypted to true and kmsKeyId to a "
                        "customer-managed key."
                    ),
                )
                continue
        if _is_read_replica(props) and not props.get("kmsKeyId"):
            if truthy(encrypted) and not _replica_sources(view, resource):
                yield (
                    resource,
                    unverified(
                        "kmsKeyId",
                        resource_label,
                        "a read replica that does not set it uses its source's key, and its "
                        "source is not a resource of this stack",
                    ),
                )
            continue
        yield from on_resource(
            resource, customer_managed_key_findings(view, resource, "kmsKeyId", config)
        )


def rds_performance_insights_cmk(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    for resource in view.of_type(RDS_INSTANCE, RDS_CLUSTER, RDS_CLUSTER_INSTANCE):
        yield from cmk_where_enabled(
            view, resource, "performanceInsightsEnabled", "performanceInsightsKmsKeyId", config
        )


def secrets_use_cmk(view: StackView, config: Config) -> Iterator[tuple[PolicyResource, Finding]]:
    yield from cmk_of_each(view, SECRET, "kmsKeyId", config)
    for resource in view.of_type(RDS_INSTANCE, RDS_CLUSTER):
        yield from cmk_where_enabled(
            view, resource, "manageMasterUserPassword", "masterUserSecretKmsKeyId", config
        )


def kms_key_rotation_enabled(props: dict[str, Any], resource_label: str, config: Config):
    spec = props.get("customerMasterKeySpec") or ROTATABLE_KEY_SPEC
    usage = props.get("keyUsage") or ROTATABLE_KEY_USAGE
    if UNKNOWN in (spec, usage, props.get("customKeyStoreId")):
        yield unverified(
            "customerMasterKeySpec/keyUsage", resource_label, "the key type is not known yet"
        )
        return
    if spec != ROTATABLE_KEY_SPEC or usage != ROTATABLE_KEY_USAGE or props.get("customKeyStoreId"):
        # AWS cannot rotate these keys; rotation is not a meaningful demand here.
        return
    enabled = props.get("enableKeyRotation")
    if enabled is UNKNOWN:
        yield unverified("enableKeyRotation", resource_label, "it is not known yet")
        return
    if not truthy(enabled):
        yield violation(
            f"{resource_label} must rotate its key material: enableKeyRotation is "
            f"{shown(enabled)}; set enableKeyRotation to true."
        )
        return
    period_days = props.get("rotationPeriodInDays")
    max_period_days = config.integer("maxRotationPeriodDays")
    if period_days is UNKNOWN:
        yield unverified("rotationPeriodInDays", resource_label, "it is not known yet")
    elif period_days is not None and int(period_days) > max_period_days:
        yield violation(
            f"{resource_label} must rotate at least every {max_period_days} days: "
            f"rotationPeriodInDays is {int(period_days)}; lower rotationPeriodInDays."
        )


def sqs_encrypted_with_cmk(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    fix = "Set kmsMasterKeyId to the ARN of a KMS key you manage (SQS-managed SSE is not a CMK)."
    return cmk_of_each(view, SQS_QUEUE, "kmsMasterKeyId", config, fix)


def log_group_encrypted_with_cmk(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    fix = "Set kmsKeyId to a KMS key whose policy lets the CloudWatch Logs service use it."
    return cmk_of_each(view, LOG_GROUP, "kmsKeyId", config, fix)


def log_group_retention_set(props: dict[str, Any], resource_label: str, config: Config):
    retention_days = props.get("retentionInDays")
    min_retention_days = config.integer("minRetentionDays")
    if retention_days is UNKNOWN:
        yield unverified("retentionInDays", resource_label, "it is not known yet")
    elif not retention_days:
        yield violation(
            f"{resource_label} must expire its logs: retentionInDays is not set, so logs are kept "
            f"forever; set retentionInDays (at least {min_retention_days})."
        )
    elif int(retention_days) < min_retention_days:
        yield violation(
            f"{resource_label} must keep logs at least {min_retention_days} days: retentionInDays "
            f"is {int(retention_days)}; raise retentionInDays."
        )


def lambda_environment_encrypted_with_cmk(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    for resource in view.of_type(LAMBDA_FUNCTION):
        environment = view.props(resource).get("environment")
        if environment is UNKNOWN:
            yield resource, not_known_yet(resource, "environment")
            continue
        if (environment or {}).get("variables"):
            yield from on_resource(
                resource, customer_managed_key_findings(view, resource, "kmsKeyArn", config)
            )


def rds_proxy_require_tls(props: dict[str, Any], resource_label: str, config: Config):
    family = props.get("engineFamily")
    if family is UNKNOWN:
        yield unverified("engineFamily", resource_label, "it is not known yet")
        return
    if family not in config.strings("engineFamilies"):
        return
    require_tls = props.get("requireTls")
    if require_tls is UNKNOWN:
        yield unverified("requireTls", resource_label, "it is not known yet")
    elif not truthy(require_tls):
        yield violation(
            f"{resource_label} must require TLS from clients: requireTls is {shown(require_tls)}; "
            "set requireTls to true."
        )


def postgres_force_ssl(view: StackView, config: Config) -> Iterator[tuple[PolicyResource, Finding]]:
    # Limit: only aws.rds.Instance with engine "postgres" is checked; Aurora PostgreSQL sets
    # rds.force_ssl in a cluster parameter group, which this policy does not read.
    required_min_version = config.get("sslMinProtocolVersion")
    for resource in view.of_type(RDS_INSTANCE):
        props = view.props(resource)
        resource_label = label(resource.resource_type, resource.name)
        replica = _is_read_replica(props)
        engine = _instance_engine(view, resource)
        if engine is UNKNOWN:
            yield resource, unverified("engine", resource_label, "it is not known yet")
            continue
        if engine is None and replica:
            yield (
                resource,
                unverified(
                    "engine",
                    resource_label,
                    "a read replica takes its engine from its source, which is not a resource "
                    "of this stack, and it names no parameter group of this stack",
                ),
            )
            continue
        if engine != "postgres":
            continue
        group_name = props.get("parameterGroupName")
        groups = view.deps(resource, "parameterGroupName", RDS_PARAMETER_GROUP)
        if not group_name and not groups:
            # A read replica without a group gets its source's group in the same region and
            # the engine's default group in another; only its own group is certain.
            default = (
                "it sets no parameterGroupName, so it gets its source's group in the same "
                "region and the engine's default group in another"
                if replica
                else "it uses the engine's default group"
            )
            yield (
                resource,
                violation(
                    f"{resource_label} must use a parameter group that sets rds.force_ssl to 1: "
                    f"{default}; create an aws.rds.ParameterGroup with rds.force_ssl = 1 and set "
                    "parameterGroupName to it."
                ),
            )
            continue
        if not groups:
            if group_name is UNKNOWN:
                reason = "the group is not known yet and is not a parameter group of this stack"
            else:
                reason = f"parameter group '{group_name}' is not a resource of this stack"
            yield resource, unverified("parameterGroupName", resource_label, reason)
            continue
        for group in groups:
            yield from (
                (resource, finding)
                for finding in _parameter_group_findings(
                    view, group, resource_label, required_min_version
                )
            )


def _parameter_group_findings(
    view: StackView, group: PolicyResource, instance_label: str, required_min_version: str | None
) -> Iterator[Finding]:
    group_label = label(group.resource_type, group.name)
    parameters = view.props(group).get("parameters")
    if parameters is UNKNOWN:
        yield unverified("parameters", group_label, "they are not known yet")
        return
    values = {}
    for parameter in parameters or []:
        if parameter is UNKNOWN or parameter.get("name") is UNKNOWN:
            yield unverified("parameters", group_label, "some are not known yet")
            return
        values[parameter.get("name")] = parameter.get("value")
    force_ssl = values.get("rds.force_ssl")
    if force_ssl is UNKNOWN:
        yield unverified("parameters[rds.force_ssl]", group_label, "its value is not known yet")
    elif str(force_ssl) != "1":
        yield violation(
            f"{instance_label} must use a parameter group that sets rds.force_ssl to 1: "
            f"{group_label} sets it to {force_ssl!r}; add the parameter rds.force_ssl = 1."
        )
    if required_min_version:
        version = values.get("ssl_min_protocol_version")
        if version is UNKNOWN:
            yield unverified(
                "parameters[ssl_min_protocol_version]", group_label, "its value is not known yet"
            )
        elif not version or str(version) < required_min_version:
            yield violation(
                f"{instance_label} must accept only {required_min_version} or newer: "
                f"{group_label} sets ssl_min_protocol_version to {version!r}; set it to "
                f"{required_min_version}."
            )


def rds_not_publicly_accessible(props: dict[str, Any], resource_label: str, config: Config):
    public = props.get("publiclyAccessible")
    if public is UNKNOWN:
        yield unverified("publiclyAccessible", resource_label, "it is not known yet")
    elif truthy(public):
        yield violation(
            f"{resource_label} must not be publicly accessible: publiclyAccessible is true; set "
            "publiclyAccessible to false and reach it through the VPC (RDS Proxy or Lambda)."
        )


POLICIES = [
    stack_policy(
        rds_storage_encrypted_with_cmk,
        description="RDS instances and clusters encrypt storage with a customer-managed KMS key.",
        types=[RDS_INSTANCE, RDS_CLUSTER],
        config=AWS_MANAGED_KEY_CONFIG,
    ),
    stack_policy(
        rds_performance_insights_cmk,
        description="RDS Performance Insights data is encrypted with a customer-managed KMS key.",
        types=[RDS_INSTANCE, RDS_CLUSTER, RDS_CLUSTER_INSTANCE],
        config=AWS_MANAGED_KEY_CONFIG,
    ),
    stack_policy(
        secrets_use_cmk,
        description="Secrets Manager secrets and RDS-managed master secrets use a customer-managed"
        " KMS key.",
        types=[SECRET, RDS_INSTANCE, RDS_CLUSTER],
        config=AWS_MANAGED_KEY_CONFIG,
    ),
    resource_policy(
        kms_key_rotation_enabled,
        description="Symmetric KMS keys rotate their key material automatically.",
        types=[KMS_KEY],
        config={
            "maxRotationPeriodDays": {
                "type": "integer",
                "minimum": 90,
                "maximum": 2560,
                "default": 365,
                "description": "Longest rotation period accepted (AWS allows 90 to 2560 days).",
            }
        },
    ),
    stack_policy(
        sqs_encrypted_with_cmk,
        description="SQS queues are encrypted with a customer-managed KMS key.",
        types=[SQS_QUEUE],
        config=AWS_MANAGED_KEY_CONFIG,
    ),
    stack_policy(
        log_group_encrypted_with_cmk,
        description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
        types=[LOG_GROUP],
        config=AWS_MANAGED_KEY_CONFIG,
    ),
    resource_policy(
        log_group_retention_set,
        description="CloudWatch log groups expire their logs after a set retention.",
        types=[LOG_GROUP],
        config={
            "minRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "Shortest retention accepted; raise it where audits need history.",
            }
        },
    ),
    stack_policy(
        lambda_environment_encrypted_with_cmk,
        description="Lambda functions with environment variables encrypt them with a"
        " customer-managed KMS key.",
        types=[LAMBDA_FUNCTION],
        config=AWS_MANAGED_KEY_CONFIG,
    ),
    resource_policy(
        rds_proxy_require_tls,
        description="RDS proxies accept client connections over TLS only.",
        types=[RDS_PROXY],
        config={
            "engineFamilies": {
                "type": "array",
                "items": {"type": "string", "enum": ["POSTGRESQL", "MYSQL", "SQLSERVER"]},
                "default": ["POSTGRESQL", "MYSQL", "SQLSERVER"],
                "description": "Proxy engine families the rule applies to.",
            }
        },
    ),
    stack_policy(
        postgres_force_ssl,
        description="PostgreSQL RDS instances, read replicas included, use a parameter group"
        " that sets rds.force_ssl = 1.",
        types=[RDS_INSTANCE],
        config={
            "sslMinProtocolVersion": {
                "type": ["string", "null"],
                "enum": [None, "TLSv1.2", "TLSv1.3"],
                "default": None,
                "description": "Also require ssl_min_protocol_version at least this (null: off).",
            }
        },
    ),
    resource_policy(
        rds_not_publicly_accessible,
        description="RDS instances are not reachable from the internet.",
        types=[RDS_INSTANCE, RDS_CLUSTER, RDS_CLUSTER_INSTANCE],
        config=EXEMPT_CONFIG,
    ),
]
