"""Encryption policies (at rest and in transit), driven through the real pack process."""

from __future__ import annotations

import pytest

from tests.policies.conftest import expect_unverified, expect_violation, of_policy
from tests.policies.factory import SG_IDS, added, baseline, changed
from tools.analyzer import UNKNOWN


def test_rds_storage_encrypted_with_cmk_unencrypted_fails(pack):
    stack = changed(baseline(), "db", storageEncrypted=False)

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "rds-storage-encrypted-with-cmk",
        "db",
        "must encrypt its storage: storageEncrypted is false",
    )


def test_rds_storage_encrypted_with_cmk_aws_managed_key_fails(pack):
    stack = changed(baseline(), "db", kmsKeyId="alias/aws/rds", remove=["kmsKeyId"])

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "rds-storage-encrypted-with-cmk",
        "db",
        "kmsKeyId is 'alias/aws/rds', an AWS-managed key",
    )


def test_rds_storage_encrypted_with_cmk_missing_key_fails(pack):
    stack = changed(baseline(), "db", remove=["kmsKeyId"])

    expect_violation(pack.run(stack), "rds-storage-encrypted-with-cmk", "db", "kmsKeyId is not set")


def test_rds_storage_encrypted_with_cmk_unknown_key_from_stack_key_passes(pack):
    # The first-preview baseline has kmsKeyId unknown, depending on the stack's KMS key.
    assert of_policy(pack.run(baseline(first_preview=True)), "rds-storage-encrypted-with-cmk") == []


def test_rds_storage_encrypted_with_cmk_unknown_key_elsewhere_noted(pack):
    stack = changed(baseline(first_preview=True), "db", remove=["kmsKeyId"], kmsKeyId=UNKNOWN)

    diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics, "rds-storage-encrypted-with-cmk", "kmsKeyId of RDS instance 'db'"
    )


def test_rds_storage_encrypted_with_cmk_cluster_checked(pack):
    stack = added(
        baseline(),
        "aurora",
        "aws:rds/cluster:Cluster",
        {
            "engine": "aurora-postgresql",
            "storageEncrypted": True,
            "vpcSecurityGroupIds": [SG_IDS["db-sg"]],
        },
        {"vpcSecurityGroupIds": ["db-sg"]},
    )

    expect_violation(
        pack.run(stack),
        "rds-storage-encrypted-with-cmk",
        "aurora",
        "RDS cluster 'aurora' must encrypt with a customer-managed KMS key: kmsKeyId is not set",
    )


def test_rds_storage_encrypted_with_cmk_replica_inherits(pack):
    replica = {
        "replicateSourceDb": UNKNOWN,
        "instanceClass": "db.t4g.medium",
        "multiAz": True,
        "publiclyAccessible": False,
        "vpcSecurityGroupIds": [UNKNOWN],
    }
    stack = added(
        baseline(first_preview=True),
        "db-replica",
        "aws:rds/instance:Instance",
        replica,
        {"replicateSourceDb": ["db"], "vpcSecurityGroupIds": ["db-sg"]},
    )

    assert of_policy(pack.run(stack), "rds-storage-encrypted-with-cmk") == []


def test_rds_storage_encrypted_with_cmk_other_stack_not_applicable(pack):
    stack = {n: r for n, r in baseline().items() if not r.type.startswith("aws:rds/")}

    assert (
        "rds-storage-encrypted-with-cmk"
        in pack.process.analyze_stack_result(stack.values()).not_applicable
    )


def test_rds_performance_insights_cmk_default_key_fails(pack):
    stack = changed(baseline(), "db", remove=["performanceInsightsKmsKeyId"])

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "rds-performance-insights-cmk", "db", "performanceInsightsKmsKeyId is not set"
    )


def test_rds_performance_insights_cmk_aurora_cluster_instance_default_key_fails(pack):
    stack = added(
        baseline(),
        "aurora-1",
        "aws:rds/clusterInstance:ClusterInstance",
        {
            "clusterIdentifier": "app-aurora",
            "engine": "aurora-postgresql",
            "instanceClass": "db.r6g.large",
            "publiclyAccessible": False,
            "performanceInsightsEnabled": True,
        },
    )

    expect_violation(
        pack.run(stack),
        "rds-performance-insights-cmk",
        "aurora-1",
        "RDS cluster instance 'aurora-1' must encrypt with a customer-managed KMS key: "
        "performanceInsightsKmsKeyId is not set",
    )


def test_rds_performance_insights_cmk_disabled_passes(pack):
    stack = changed(
        baseline(), "db", performanceInsightsEnabled=False, remove=["performanceInsightsKmsKeyId"]
    )

    assert of_policy(pack.run(stack), "rds-performance-insights-cmk") == []


def test_secrets_use_cmk_secret_without_key_fails(pack):
    stack = changed(baseline(), "app-secret", remove=["kmsKeyId"])

    expect_violation(
        pack.run(stack),
        "secrets-use-cmk",
        "app-secret",
        "Secrets Manager secret 'app-secret' must encrypt with a customer-managed KMS key",
    )


def test_secrets_use_cmk_rds_master_secret_without_key_fails(pack):
    stack = changed(baseline(), "db", remove=["masterUserSecretKmsKeyId"])

    expect_violation(
        pack.run(stack), "secrets-use-cmk", "db", "masterUserSecretKmsKeyId is not set"
    )


def test_secrets_use_cmk_stack_without_secrets_not_applicable(pack):
    stack = {n: r for n, r in baseline().items() if n not in {"app-secret", "db"}}

    assert "secrets-use-cmk" in pack.process.analyze_stack_result(stack.values()).not_applicable


def test_kms_key_rotation_enabled_off_fails(pack):
    stack = changed(baseline(), "key", enableKeyRotation=False)

    expect_violation(
        pack.run(stack), "kms-key-rotation-enabled", "key", "enableKeyRotation is false"
    )


def test_kms_key_rotation_enabled_absent_fails_saying_not_set(pack):
    stack = changed(baseline(), "key", remove=["enableKeyRotation"])

    expect_violation(
        pack.run(stack), "kms-key-rotation-enabled", "key", "enableKeyRotation is not set;"
    )


def test_kms_key_rotation_enabled_period_over_config_fails(pack):
    stack = changed(baseline(), "key", rotationPeriodInDays=730)

    expect_violation(
        pack.run(stack),
        "kms-key-rotation-enabled",
        "key",
        "at least every 365 days: rotationPeriodInDays is 730",
    )
    with pack.configured({"kms-key-rotation-enabled": {"maxRotationPeriodDays": 730}}):
        assert of_policy(pack.run(stack), "kms-key-rotation-enabled") == []


def test_kms_key_rotation_enabled_asymmetric_key_exempt(pack):
    stack = changed(
        baseline(),
        "key",
        enableKeyRotation=False,
        customerMasterKeySpec="RSA_2048",
        keyUsage="SIGN_VERIFY",
    )

    assert of_policy(pack.run(stack), "kms-key-rotation-enabled") == []


def test_kms_key_rotation_enabled_other_type_not_applicable(pack):
    assert (
        "kms-key-rotation-enabled"
        in pack.process.analyze_result(baseline()["queue"]).not_applicable
    )


def test_sqs_encrypted_with_cmk_sqs_managed_sse_fails(pack):
    stack = changed(baseline(), "queue", remove=["kmsMasterKeyId"], sqsManagedSseEnabled=True)

    expect_violation(
        pack.run(stack), "sqs-encrypted-with-cmk", "queue", "SQS-managed SSE is not a CMK"
    )


def test_sqs_encrypted_with_cmk_aws_managed_alias_fails(pack):
    stack = changed(baseline(), "queue", remove=["kmsMasterKeyId"], kmsMasterKeyId="alias/aws/sqs")

    expect_violation(
        pack.run(stack), "sqs-encrypted-with-cmk", "queue", "'alias/aws/sqs', an AWS-managed key"
    )


def test_log_group_encrypted_with_cmk_missing_key_fails(pack):
    stack = changed(baseline(), "log-group", remove=["kmsKeyId"])

    expect_violation(
        pack.run(stack),
        "log-group-encrypted-with-cmk",
        "log-group",
        "CloudWatch log group 'log-group' must encrypt",
    )


def test_log_group_retention_set_never_expire_fails(pack):
    stack = changed(baseline(), "log-group", retentionInDays=0)

    expect_violation(
        pack.run(stack),
        "log-group-retention-set",
        "log-group",
        "retentionInDays is not set, so logs are kept forever",
    )


def test_log_group_retention_set_below_config_minimum_fails(pack):
    with pack.configured({"log-group-retention-set": {"minRetentionDays": 30}}):
        diagnostics = pack.run(baseline())

    expect_violation(
        diagnostics,
        "log-group-retention-set",
        "log-group",
        "at least 30 days: retentionInDays is 14",
    )


def test_log_group_retention_set_other_type_not_applicable(pack):
    assert "log-group-retention-set" in pack.process.analyze_result(baseline()["fn"]).not_applicable


def test_lambda_environment_encrypted_with_cmk_missing_key_fails(pack):
    stack = changed(baseline(), "fn", remove=["kmsKeyArn"])

    expect_violation(
        pack.run(stack), "lambda-environment-encrypted-with-cmk", "fn", "kmsKeyArn is not set"
    )


def test_lambda_environment_encrypted_with_cmk_no_variables_passes(pack):
    stack = changed(baseline(), "fn", remove=["kmsKeyArn", "environment"])

    assert of_policy(pack.run(stack), "lambda-environment-encrypted-with-cmk") == []


def test_rds_proxy_require_tls_off_fails(pack):
    stack = changed(baseline(), "proxy", requireTls=False)

    expect_violation(
        pack.run(stack),
        "rds-proxy-require-tls",
        "proxy",
        "must require TLS from clients: requireTls is false",
    )


def test_rds_proxy_require_tls_absent_fails_saying_not_set(pack):
    # requireTls defaults to false in AWS; a proxy that leaves it out accepts plain connections.
    stack = changed(baseline(), "proxy", remove=["requireTls"])

    expect_violation(
        pack.run(stack),
        "rds-proxy-require-tls",
        "proxy",
        "must require TLS from clients: requireTls is not set; set requireTls to true.",
    )


def test_rds_proxy_require_tls_unknown_noted(pack):
    stack = changed(baseline(first_preview=True), "proxy", requireTls=UNKNOWN)

    expect_unverified(
        pack.run(stack),
        "rds-proxy-require-tls",
        "requireTls of RDS proxy 'proxy'",
        resource_name="proxy",
    )


def test_rds_proxy_require_tls_other_type_not_applicable(pack):
    assert "rds-proxy-require-tls" in pack.process.analyze_result(baseline()["db"]).not_applicable


def test_postgres_force_ssl_parameter_off_fails(pack):
    stack = changed(baseline(), "db-params", parameters=[{"name": "rds.force_ssl", "value": "0"}])

    expect_violation(
        pack.run(stack), "postgres-force-ssl", "db", "DB parameter group 'db-params' sets it to '0'"
    )


def test_postgres_force_ssl_default_group_fails(pack):
    stack = changed(baseline(), "db", remove=["parameterGroupName"])

    expect_violation(pack.run(stack), "postgres-force-ssl", "db", "uses the engine's default group")


def test_postgres_force_ssl_unknown_group_name_resolved_in_stack(pack):
    # The first-preview baseline's parameterGroupName is unknown (a generated name).
    assert of_policy(pack.run(baseline(first_preview=True)), "postgres-force-ssl") == []
    bad = changed(baseline(first_preview=True), "db-params", parameters=[])
    expect_violation(pack.run(bad), "postgres-force-ssl", "db", "sets it to None")


def test_postgres_force_ssl_group_outside_stack_noted(pack):
    stack = changed(
        baseline(), "db", remove=["parameterGroupName"], parameterGroupName="shared-pg16"
    )

    expect_unverified(
        pack.run(stack),
        "postgres-force-ssl",
        "parameter group 'shared-pg16' is not a resource of this stack",
    )


def test_postgres_force_ssl_min_protocol_version_by_config(pack):
    with pack.configured({"postgres-force-ssl": {"sslMinProtocolVersion": "TLSv1.2"}}):
        expect_violation(
            pack.run(baseline()), "postgres-force-ssl", "db", "ssl_min_protocol_version to None"
        )
        params = [
            {"name": "rds.force_ssl", "value": "1"},
            {"name": "ssl_min_protocol_version", "value": "TLSv1.2"},
        ]
        assert (
            of_policy(
                pack.run(changed(baseline(), "db-params", parameters=params)), "postgres-force-ssl"
            )
            == []
        )


def with_replica(first_preview: bool = False, **overrides) -> dict:
    """The baseline plus a read replica of 'db' (no engine: RDS takes it from the source)."""
    stack = baseline(first_preview=first_preview)
    source_arn = UNKNOWN if first_preview else "arn:aws:rds:eu-west-1:123456789012:db:db"
    properties = {
        "replicateSourceDb": source_arn,
        "instanceClass": "db.t4g.medium",
        "storageEncrypted": True,
        "kmsKeyId": stack["db"].properties["kmsKeyId"],
        "multiAz": True,
        "publiclyAccessible": False,
        "parameterGroupName": UNKNOWN if first_preview else "db-params-0f1e2d3",
        "vpcSecurityGroupIds": [stack["db"].properties["vpcSecurityGroupIds"][0]],
    }
    deps = {
        "replicateSourceDb": ["db"],
        "kmsKeyId": ["key"],
        "parameterGroupName": ["db-params"],
        "vpcSecurityGroupIds": ["db-sg"],
    }
    remove = overrides.pop("remove", ())
    for key in remove:
        properties.pop(key, None)
        deps.pop(key, None)
    deps.update(overrides.pop("deps", {}))
    properties.update(overrides)
    return added(stack, "db-replica", "aws:rds/instance:Instance", properties, deps)


@pytest.mark.parametrize("first_preview", [False, True])
def test_postgres_force_ssl_replica_with_tls_group_passes(pack, first_preview):
    assert of_policy(pack.run(with_replica(first_preview)), "postgres-force-ssl") == []


def test_postgres_force_ssl_replica_group_without_tls_fails(pack):
    stack = added(
        with_replica(),
        "replica-params",
        "aws:rds/parameterGroup:ParameterGroup",
        {"family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "0"}]},
    )
    stack = changed(
        stack,
        "db-replica",
        parameterGroupName="replica-params-1a2b3c4",
        deps={"parameterGroupName": ["replica-params"]},
    )

    expect_violation(
        pack.run(stack),
        "postgres-force-ssl",
        "db-replica",
        "DB parameter group 'replica-params' sets it to '0'",
    )


def test_postgres_force_ssl_replica_without_group_fails(pack):
    stack = with_replica(remove=["parameterGroupName"])

    expect_violation(
        pack.run(stack),
        "postgres-force-ssl",
        "db-replica",
        "it sets no parameterGroupName, so it gets its source's group in the same region",
    )


def test_postgres_force_ssl_replica_of_outside_source_engine_from_group_family(pack):
    # GIVEN a replica of an instance of another stack, named by ARN with no dependency
    stack = added(
        with_replica(remove=["replicateSourceDb"]),
        "replica-params",
        "aws:rds/parameterGroup:ParameterGroup",
        {"family": "postgres16", "parameters": []},
    )
    stack = changed(
        stack,
        "db-replica",
        replicateSourceDb="arn:aws:rds:us-east-1:123456789012:db:elsewhere",
        parameterGroupName="replica-params-1a2b3c4",
        deps={"parameterGroupName": ["replica-params"]},
    )

    # THEN the group's family tells it is PostgreSQL, and the group does not force TLS
    expect_violation(pack.run(stack), "postgres-force-ssl", "db-replica", "sets it to None")


def test_postgres_force_ssl_replica_of_outside_source_without_group_noted(pack):
    stack = with_replica(remove=["replicateSourceDb", "parameterGroupName"])
    stack = changed(
        stack, "db-replica", replicateSourceDb="arn:aws:rds:us-east-1:123456789012:db:elsewhere"
    )

    expect_unverified(
        pack.run(stack),
        "postgres-force-ssl",
        "engine of RDS instance 'db-replica'",
        resource_name="",
    )


def test_rds_storage_encrypted_with_cmk_replica_aws_managed_key_fails(pack):
    stack = with_replica(remove=["kmsKeyId"], kmsKeyId="alias/aws/rds")

    expect_violation(
        pack.run(stack),
        "rds-storage-encrypted-with-cmk",
        "db-replica",
        "kmsKeyId is 'alias/aws/rds', an AWS-managed key",
    )


def test_rds_storage_encrypted_with_cmk_replica_unencrypted_fails(pack):
    stack = with_replica(storageEncrypted=False, remove=["kmsKeyId"])

    expect_violation(
        pack.run(stack),
        "rds-storage-encrypted-with-cmk",
        "db-replica",
        "must encrypt its storage: storageEncrypted is false",
    )


def test_rds_storage_encrypted_with_cmk_replica_of_outside_source_noted(pack):
    # GIVEN a replica that inherits encryption and key from a source outside the stack
    stack = with_replica(remove=["replicateSourceDb", "storageEncrypted", "kmsKeyId"])
    stack = changed(stack, "db-replica", replicateSourceDb="elsewhere-db")

    # THEN the policy says it could not verify, rather than passing in silence
    expect_unverified(
        pack.run(stack),
        "rds-storage-encrypted-with-cmk",
        "storageEncrypted of RDS instance 'db-replica'",
    )


def test_rds_storage_encrypted_with_cmk_replica_key_from_outside_source_noted(pack):
    stack = with_replica(remove=["replicateSourceDb", "kmsKeyId"])
    stack = changed(stack, "db-replica", replicateSourceDb="elsewhere-db")

    expect_unverified(
        pack.run(stack), "rds-storage-encrypted-with-cmk", "kmsKeyId of RDS instance 'db-replica'"
    )


def test_postgres_force_ssl_mysql_instance_ignored(pack):
    stack = changed(baseline(), "db", engine="mysql", remove=["parameterGroupName"])

    assert of_policy(pack.run(stack), "postgres-force-ssl") == []


def test_rds_not_publicly_accessible_public_fails(pack):
    stack = changed(baseline(), "db", publiclyAccessible=True)

    expect_violation(
        pack.run(stack), "rds-not-publicly-accessible", "db", "must not be publicly accessible"
    )


def test_rds_not_publicly_accessible_aurora_cluster_instance_fails(pack):
    # Aurora clusters have no publiclyAccessible of their own; their instances carry it.
    stack = added(
        baseline(),
        "aurora-1",
        "aws:rds/clusterInstance:ClusterInstance",
        {
            "clusterIdentifier": "app-aurora",
            "engine": "aurora-postgresql",
            "instanceClass": "db.r6g.large",
            "publiclyAccessible": True,
        },
    )

    expect_violation(
        pack.run(stack),
        "rds-not-publicly-accessible",
        "aurora-1",
        "RDS cluster instance 'aurora-1' must not be publicly accessible",
    )


def test_rds_not_publicly_accessible_exempt_by_config(pack):
    stack = changed(baseline(), "db", publiclyAccessible=True)

    with pack.configured({"rds-not-publicly-accessible": {"exemptResourceNames": ["db"]}}):
        assert of_policy(pack.run(stack), "rds-not-publicly-accessible") == []


def test_rds_not_publicly_accessible_other_type_not_applicable(pack):
    assert (
        "rds-not-publicly-accessible"
        in pack.process.analyze_result(baseline()["proxy"]).not_applicable
    )


# A first-preview value that no resource of the stack explains is noted, never passed.
UNKNOWN_WITHOUT_SOURCE = [
    ("rds-performance-insights-cmk", "db", "performanceInsightsKmsKeyId", "RDS instance 'db'"),
    ("secrets-use-cmk", "app-secret", "kmsKeyId", "Secrets Manager secret 'app-secret'"),
    ("secrets-use-cmk", "db", "masterUserSecretKmsKeyId", "RDS instance 'db'"),
    ("sqs-encrypted-with-cmk", "queue", "kmsMasterKeyId", "SQS queue 'queue'"),
    ("log-group-encrypted-with-cmk", "log-group", "kmsKeyId", "CloudWatch log group 'log-group'"),
    ("lambda-environment-encrypted-with-cmk", "fn", "kmsKeyArn", "Lambda function 'fn'"),
    ("kms-key-rotation-enabled", "key", "enableKeyRotation", "KMS key 'key'"),
    ("log-group-retention-set", "log-group", "retentionInDays", "CloudWatch log group 'log-group'"),
    ("rds-not-publicly-accessible", "db", "publiclyAccessible", "RDS instance 'db'"),
]


@pytest.mark.parametrize(
    ("policy", "name", "prop", "subject"),
    UNKNOWN_WITHOUT_SOURCE,
    ids=[f"{case[0]}-{case[2]}" for case in UNKNOWN_WITHOUT_SOURCE],
)
def test_encryption_policies_unknown_value_without_source_noted(pack, policy, name, prop, subject):
    stack = changed(baseline(first_preview=True), name, remove=[prop], **{prop: UNKNOWN})

    diagnostics = pack.run(stack)

    expect_unverified(diagnostics, policy, f"could not verify {prop} of {subject} at preview")
