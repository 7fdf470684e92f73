"""Secrets: the stack's customer-managed KMS key, usable only by this account through the AWS
services that encrypt its data, with rotation on and an alias."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

# KMS accepts a waiting period of 7 to 30 days before it deletes a key.
MIN_DELETION_WINDOW_DAYS = 7
MAX_DELETION_WINDOW_DAYS = 30

# Automatic rotation may run every 90 to 2560 days; 365 is the KMS default.
MIN_ROTATION_PERIOD_DAYS = 90
MAX_ROTATION_PERIOD_DAYS = 2560

# The services that encrypt this stack's data with the key on a caller's behalf: the database
# and its master secret, the per-user secrets, Lambda environments, the SQS queues.
DEFAULT_SERVICES = ("rds", "secretsmanager", "lambda", "sqs")

# Actions the account's administrators need to manage the key's life, but not to use it.
# Usage goes only through the services above, so no principal can decrypt data directly.
# kms:CreateAlias rather than kms:Create*, which would also grant kms:CreateGrant without the
# conditions the grant statement below puts on it.
KEY_ADMIN_ACTIONS = (
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)
KEY_USE_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)

_ALIAS_NAME = re.compile(r"^alias/[a-zA-Z0-9/_-]{1,250}$")
_SERVICE = re.compile(r"^[a-z0-9-]+$")


class SecretsArgsError(ValueError):
    """SecretsArgs that cannot build a key; each problem names the field."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class SecretsArgs:
    """Inputs of Secrets.

    alias_name: "alias/<name>", unique in the account and region (the stack uses
        alias/<project>-<stack>).
    region: the key's region; CloudWatch Logs' regional principal and kms:ViaService use it.
    description: shown in the KMS console.
    deletion_window_days: 7-30; how long a scheduled deletion can still be cancelled.
    rotation_period_days: 90-2560; automatic rotation is always on.
    services: AWS services allowed to use the key on a caller's behalf (kms:ViaService).
    tags: added to the key.
    """

    alias_name: str
    region: str
    description: str = "Encrypts the database, its secrets, logs, queues and Lambda settings"
    deletion_window_days: int = MAX_DELETION_WINDOW_DAYS
    rotation_period_days: int = 365
    services: tuple[str, ...] = DEFAULT_SERVICES
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = validate_secrets_args(self)
        if problems:
            raise SecretsArgsError(problems)


class Secrets(pulumi.ComponentResource):
    """A customer-managed key with rotation, a scoped key policy and an alias.

    Database master credentials are not created here: RDS generates them and keeps them in
    Secrets Manager (manage_master_user_password) under this key, so no password ever passes
    through config, code, exports or state.
    """

    kms_key_arn: pulumi.Output[str]
    kms_key_id: pulumi.Output[str]
    kms_alias_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lambda-private-db:secrets:Secrets", name, None, opts)
        invoke = pulumi.InvokeOptions(parent=self)
        self.account_id = aws.get_caller_identity(opts=invoke).account_id
        partition = aws.get_partition(opts=invoke)
        self.partition = partition.partition
        self.region = args.region

        key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,
            rotation_period_in_days=args.rotation_period_days,
            deletion_window_in_days=args.deletion_window_days,
            policy=key_policy(
                self.account_id,
                self.partition,
                args.region,
                args.services,
                dns_suffix=partition.dns_suffix,
            ),
            tags={**args.tags, "Name": f"{name}-key"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=args.alias_name,
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.kms_key_arn = key.arn
        self.kms_key_id = key.key_id
        self.kms_alias_name = alias.name
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "kms_key_id": self.kms_key_id,
                "kms_alias_name": self.kms_alias_name,
            }
        )


def validate_secrets_args(args: SecretsArgs) -> list[str]:
    """Every problem with a SecretsArgs, each naming the field, the rule and the value."""
    problems: list[str] = []
    if not _ALIAS_NAME.match(args.alias_name) or args.alias_name.startswith("alias/aws/"):
        problems.append(
            f"SecretsArgs.alias_name must look like alias/<name> (letters, digits, / _ -) and "
            f"not start with alias/aws/, got {args.alias_name!r}."
        )
    if not args.region:
        problems.append("SecretsArgs.region is empty; pass the region the key lives in.")
    if not MIN_DELETION_WINDOW_DAYS <= args.deletion_window_days <= MAX_DELETION_WINDOW_DAYS:
        problems.append(
            f"SecretsArgs.deletion_window_days must be {MIN_DELETION_WINDOW_DAYS}-"
            f"{MAX_DELETION_WINDOW_DAYS} as KMS requires, got {args.deletion_window_days}."
        )
    if not MIN_ROTATION_PERIOD_DAYS <= args.rotation_period_days <= MAX_ROTATION_PERIOD_DAYS:
        problems.append(
            f"SecretsArgs.rotation_period_days must be {MIN_ROTATION_PERIOD_DAYS}-"
            f"{MAX_ROTATION_PERIOD_DAYS} as KMS requires, got {args.rotation_period_days}."
        )
    if not args.services:
        problems.append(
            "SecretsArgs.services is empty; list the services that encrypt data with the key, "
            f"e.g. {', '.join(DEFAULT_SERVICES)}."
        )
    bad_services = [service for service in args.services if not _SERVICE.match(service)]
    if bad_services:
        problems.append(
            f"SecretsArgs.services has {', '.join(map(repr, bad_services))}; use service "
            "prefixes such as rds or secretsmanager."
        )
    return problems


def key_policy(
    account_id: str,
    partition: str,
    region: str,
    services: Sequence[str],
    *,
    dns_suffix: str = "amazonaws.com",
) -> str:
    """The key policy: administration by the account, use only through the listed services
    for principals of this account, and CloudWatch Logs for this account's log groups.
    `dns_suffix` is the partition's (amazonaws.com.cn in China)."""
    account_root = f"arn:{partition}:iam::{account_id}:root"
    log_groups = f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
    via_services = [f"{service}.{region}.{dns_suffix}" for service in services]
    statements = [
        {
            # Without this the account could lose control of the key: IAM policies decide
            # which administrators in the account may manage it.
            "Sid": "AccountAdministersKey",
            "Effect": "Allow",
            "Principal": {"AWS": account_root},
            "Action": list(KEY_ADMIN_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "AccountUsesKeyThroughServices",
            "Effect": "Allow",
            "Principal": {"AWS": account_root},
            "Action": list(KEY_USE_ACTIONS),
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": account_id,
                    "kms:ViaService": via_services,
                }
            },
        },
        {
            # RDS and Lambda hold grants on the key for as long as a resource uses it.
            "Sid": "AccountGrantsToServices",
            "Effect": "Allow",
            "Principal": {"AWS": account_root},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": account_id,
                    "kms:ViaService": via_services,
                },
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        },
        {
            # CloudWatch Logs calls KMS as itself; the encryption context pins the calls to
            # log groups of this account and region.
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
            "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.{dns_suffix}"},
            "Action": [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
