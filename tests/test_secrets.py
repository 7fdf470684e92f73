"""Secrets: the customer-managed KMS key, its policy and alias, under mocks."""

from __future__ import annotations

import fnmatch
import json

import pytest

from components.secrets import (
    DEFAULT_SERVICES,
    KEY_USE_ACTIONS,
    Secrets,
    SecretsArgs,
    SecretsArgsError,
    key_policy,
)
from tests.support.pulumi_mocks import ACCOUNT_ID, PARTITION, REGION, ProgramRun, run_program

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
ROOT = f"arn:{PARTITION}:iam::{ACCOUNT_ID}:root"


@pytest.fixture(scope="module")
def secrets_run() -> ProgramRun:
    def program():
        secrets = Secrets(
            "kms", SecretsArgs(alias_name="alias/lambda-private-db-dev", region=REGION)
        )
        return {
            "arn": secrets.kms_key_arn,
            "id": secrets.kms_key_id,
            "alias": secrets.kms_alias_name,
        }

    run = run_program(program)
    assert run.error is None, run.user_message
    return run


def statements_of(run: ProgramRun) -> dict[str, dict]:
    policy = json.loads(run.one(KEY).inputs["policy"])
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_secrets_key_is_symmetric_with_rotation_and_a_deletion_window(secrets_run):
    key = secrets_run.one(KEY)

    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["rotationPeriodInDays"] == 365
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.inputs["keyUsage"] == "ENCRYPT_DECRYPT"
    assert key.inputs["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert secrets_run.result["arn"] == key.state["arn"]
    assert secrets_run.result["id"] == key.state["keyId"]


def test_secrets_alias_points_at_the_key(secrets_run):
    alias = secrets_run.one(ALIAS)

    assert alias.inputs["name"] == "alias/lambda-private-db-dev"
    assert alias.inputs["targetKeyId"] == secrets_run.one(KEY).state["keyId"]
    assert secrets_run.result["alias"] == "alias/lambda-private-db-dev"


def test_secrets_children_are_parented_to_the_component(secrets_run):
    component = secrets_run.one("lambda-private-db:secrets:Secrets", "kms")

    assert {r.name for r in secrets_run.children_of(component.urn)} == {"kms-key", "kms-alias"}


def test_secrets_account_and_partition_come_from_invokes(secrets_run):
    tokens = [token for token, _ in secrets_run.invokes]

    assert "aws:index/getCallerIdentity:getCallerIdentity" in tokens
    assert "aws:index/getPartition:getPartition" in tokens
    assert statements_of(secrets_run)["AccountAdministersKey"]["Principal"] == {"AWS": ROOT}


def test_secrets_key_policy_lets_the_account_administer_but_not_use_the_key(secrets_run):
    admin = statements_of(secrets_run)["AccountAdministersKey"]

    assert "kms:*" not in admin["Action"]
    assert not set(admin["Action"]) & {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"}
    assert "kms:Put*" in admin["Action"]  # the account can always repair the policy
    assert "Condition" not in admin


def test_secrets_key_policy_admin_actions_match_no_use_or_grant_action(secrets_run):
    # A wildcard such as kms:Create* would reach kms:CreateGrant, which only the conditioned
    # grant statement may allow.
    admin = statements_of(secrets_run)["AccountAdministersKey"]
    use_actions = (
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:CreateGrant",
    )

    matched = [
        (pattern, action)
        for pattern in admin["Action"]
        for action in use_actions
        if fnmatch.fnmatchcase(action, pattern)
    ]

    assert matched == []
    assert "kms:CreateAlias" in admin["Action"]


def test_secrets_key_policy_allows_use_only_through_the_stacks_services(secrets_run):
    use = statements_of(secrets_run)["AccountUsesKeyThroughServices"]
    grants = statements_of(secrets_run)["AccountGrantsToServices"]
    expected_services = [f"{s}.{REGION}.amazonaws.com" for s in DEFAULT_SERVICES]

    assert use["Principal"] == {"AWS": ROOT}
    assert use["Action"] == list(KEY_USE_ACTIONS)
    assert use["Condition"]["StringEquals"] == {
        "kms:CallerAccount": ACCOUNT_ID,
        "kms:ViaService": expected_services,
    }
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert grants["Condition"]["StringEquals"]["kms:ViaService"] == expected_services


def test_secrets_key_policy_lets_cloudwatch_logs_encrypt_only_this_accounts_groups(secrets_run):
    logs = statements_of(secrets_run)["CloudWatchLogsEncryptsThisAccountsLogGroups"]

    assert logs["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": (
                f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT_ID}:log-group:*"
            )
        }
    }


def test_secrets_key_policy_names_no_wildcard_principal(secrets_run):
    for statement in statements_of(secrets_run).values():
        assert statement["Principal"] != "*"
        assert "*" not in statement["Principal"].values()


def test_key_policy_follows_region_partition_and_services():
    policy = json.loads(
        key_policy("210987654321", "aws-cn", "cn-north-1", ["rds"], dns_suffix="amazonaws.com.cn")
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}

    assert by_sid["AccountAdministersKey"]["Principal"] == {
        "AWS": "arn:aws-cn:iam::210987654321:root"
    }
    assert by_sid["AccountUsesKeyThroughServices"]["Condition"]["StringEquals"][
        "kms:ViaService"
    ] == ["rds.cn-north-1.amazonaws.com.cn"]
    assert by_sid["CloudWatchLogsEncryptsThisAccountsLogGroups"]["Principal"] == {
        "Service": "logs.cn-north-1.amazonaws.com.cn"
    }


def test_secrets_args_name_every_bad_field():
    with pytest.raises(SecretsArgsError) as caught:
        SecretsArgs(
            alias_name="alias/aws/rds",
            region="",
            deletion_window_days=3,
            rotation_period_days=30,
            services=("RDS",),
        )

    message = str(caught.value)
    for field_name in (
        "alias_name",
        "region",
        "deletion_window_days",
        "rotation_period_days",
        "services",
    ):
        assert f"SecretsArgs.{field_name}" in message
    assert len(caught.value.problems) == 5
