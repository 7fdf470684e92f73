"""A compliant stack of every resource type the pack checks, and one-change variants of it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from tools.analyzer import UNKNOWN, AnalyzedResource

PROJECT = "lambda-private-db"
STACK = "test"
REGION = "eu-west-1"
ACCOUNT = "123456789012"

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUBNET_IDS = {"subnet-a": "subnet-0aaaaaaaaaaaaaaa1", "subnet-b": "subnet-0bbbbbbbbbbbbbbb2"}
SG_IDS = {
    "lambda-sg": "sg-0111111111111111a",
    "proxy-sg": "sg-0222222222222222b",
    "db-sg": "sg-0333333333333333c",
    "https-egress-sg": "sg-0444444444444444d",
    "other-sg": "sg-0555555555555555e",
}
PROXY_RESOURCE_ID = "prx-0123456789abcdef0"
ROLE_NAME = "app-fn-role-1a2b3c4"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:app-queue-5d6e7f8"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app-rw-AbCdEf"
APP_POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/app-logs-9a8b7c6"
VPC_ACCESS_ARN = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
APP_LOGS_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/app-fn:*",
        },
        {
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"],
            "Resource": "*",
        },
        {"Sid": "DenyEverythingElse", "Effect": "Deny", "Action": "*", "Resource": "*"},
    ],
}


def app_function_policy() -> dict[str, Any]:
    """The function's inline permissions: built from ARNs, so unknown at a first preview."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:{PROXY_RESOURCE_ID}/app_rw",
            },
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
                "Resource": QUEUE_ARN,
            },
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY_ARN},
        ],
    }


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{resource_type}::{name}"


class StackBuilder:
    """Builds resources by name; `ref` gives a computed value and records the dependency."""

    def __init__(self, first_preview: bool) -> None:
        self.first_preview = first_preview
        self.resources: dict[str, AnalyzedResource] = {}

    def computed(self, value: Any) -> Any:
        return UNKNOWN if self.first_preview else value

    def add(
        self,
        name: str,
        resource_type: str,
        properties: Mapping[str, Any],
        deps: Mapping[str, Iterable[str]] | None = None,
    ) -> AnalyzedResource:
        property_dependencies = {
            key: tuple(self.resources[dep].urn for dep in names)
            for key, names in (deps or {}).items()
        }
        resource = AnalyzedResource(
            urn=urn(resource_type, name),
            type=resource_type,
            name=name,
            properties=dict(properties),
            dependencies=tuple(
                dict.fromkeys(dep for urns in property_dependencies.values() for dep in urns)
            ),
            property_dependencies=property_dependencies,
        )
        self.resources[name] = resource
        return resource


def baseline(first_preview: bool = False) -> dict[str, AnalyzedResource]:
    """A stack every policy accepts. With first_preview, computed IDs and ARNs are unknown."""
    b = StackBuilder(first_preview)
    c = b.computed
    key_arn = c(KEY_ARN)

    b.add(
        "key",
        "aws:kms/key:Key",
        {"description": "app data", "enableKeyRotation": True, "deletionWindowInDays": 30},
    )
    b.add(
        "key-alias",
        "aws:kms/alias:Alias",
        {"name": "alias/app", "targetKeyId": c("1234abcd-12ab-34cd-56ef-1234567890ab")},
        {"targetKeyId": ["key"]},
    )
    for name, zone in (("subnet-a", f"{REGION}a"), ("subnet-b", f"{REGION}b")):
        b.add(
            name,
            "aws:ec2/subnet:Subnet",
            {"vpcId": c(VPC_ID), "cidrBlock": "10.0.0.0/24", "availabilityZone": zone},
        )
    subnet_ids = [c(SUBNET_IDS["subnet-a"]), c(SUBNET_IDS["subnet-b"])]
    for name in ("lambda-sg", "proxy-sg", "db-sg", "other-sg"):
        b.add(
            name,
            "aws:ec2/securityGroup:SecurityGroup",
            {"vpcId": c(VPC_ID), "description": name, "ingress": [], "egress": [], "tags": {}},
        )
    b.add(
        "https-egress-sg",
        "aws:ec2/securityGroup:SecurityGroup",
        {
            "vpcId": c(VPC_ID),
            "description": "HTTPS to AWS APIs",
            "ingress": [],
            "egress": [
                {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}
            ],
            "tags": {"internet-egress": "true"},
        },
    )
    b.add("default-sg", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", {"vpcId": c(VPC_ID)})
    for name, target, source in (
        ("lambda-to-proxy", "proxy-sg", "lambda-sg"),
        ("proxy-to-db", "db-sg", "proxy-sg"),
    ):
        b.add(
            name,
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            {
                "securityGroupId": c(SG_IDS[target]),
                "referencedSecurityGroupId": c(SG_IDS[source]),
                "ipProtocol": "tcp",
                "fromPort": 5432,
                "toPort": 5432,
            },
            {"securityGroupId": [target], "referencedSecurityGroupId": [source]},
        )
    b.add(
        "lambda-egress",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        {
            "securityGroupId": c(SG_IDS["lambda-sg"]),
            "referencedSecurityGroupId": c(SG_IDS["proxy-sg"]),
            "ipProtocol": "tcp",
            "fromPort": 5432,
            "toPort": 5432,
        },
        {"securityGroupId": ["lambda-sg"], "referencedSecurityGroupId": ["proxy-sg"]},
    )
    b.add(
        "db-subnets",
        "aws:rds/subnetGroup:SubnetGroup",
        {"subnetIds": subnet_ids},
        {"subnetIds": ["subnet-a", "subnet-b"]},
    )
    b.add(
        "db-params",
        "aws:rds/parameterGroup:ParameterGroup",
        {"family": "postgres16", "parameters": [{"name": "rds.force_ssl", "value": "1"}]},
    )
    b.add(
        "db",
        "aws:rds/instance:Instance",
        {
            "engine": "postgres",
            "engineVersion": "16.4",
            "instanceClass": "db.t4g.medium",
            "port": 5432,
            "storageEncrypted": True,
            "kmsKeyId": key_arn,
            "multiAz": True,
            "publiclyAccessible": False,
            "parameterGroupName": c("db-params-0f1e2d3"),
            "dbSubnetGroupName": c("db-subnets-4c5b6a7"),
            "vpcSecurityGroupIds": [c(SG_IDS["db-sg"])],
            "manageMasterUserPassword": True,
            "masterUserSecretKmsKeyId": key_arn,
            "performanceInsightsEnabled": True,
            "performanceInsightsKmsKeyId": key_arn,
            "iamDatabaseAuthenticationEnabled": True,
            "username": "app_admin",
        },
        {
            "kmsKeyId": ["key"],
            "masterUserSecretKmsKeyId": ["key"],
            "performanceInsightsKmsKeyId": ["key"],
            "parameterGroupName": ["db-params"],
            "dbSubnetGroupName": ["db-subnets"],
            "vpcSecurityGroupIds": ["db-sg"],
        },
    )
    b.add(
        "app-secret",
        "aws:secretsmanager/secret:Secret",
        {"description": "app_rw password", "kmsKeyId": key_arn},
        {"kmsKeyId": ["key"]},
    )
    b.add(
        "proxy",
        "aws:rds/proxy:Proxy",
        {
            "engineFamily": "POSTGRESQL",
            "requireTls": True,
            "vpcSubnetIds": subnet_ids,
            "vpcSecurityGroupIds": [c(SG_IDS["proxy-sg"])],
            "roleArn": c(f"arn:aws:iam::{ACCOUNT}:role/proxy-role"),
            "auths": [{"authScheme": "SECRETS", "iamAuth": "REQUIRED", "secretArn": c(SECRET_ARN)}],
        },
        {
            "vpcSubnetIds": ["subnet-a", "subnet-b"],
            "vpcSecurityGroupIds": ["proxy-sg"],
            "auths": ["app-secret"],
        },
    )
    b.add(
        "queue",
        "aws:sqs/queue:Queue",
        {"kmsMasterKeyId": key_arn, "visibilityTimeoutSeconds": 180},
        {"kmsMasterKeyId": ["key"]},
    )
    b.add(
        "log-group",
        "aws:cloudwatch/logGroup:LogGroup",
        {"name": "/aws/lambda/app-fn", "retentionInDays": 14, "kmsKeyId": key_arn},
        {"kmsKeyId": ["key"]},
    )
    b.add("role", "aws:iam/role:Role", {"assumeRolePolicy": json.dumps(LAMBDA_TRUST)})
    b.add(
        "role-vpc-access",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"role": c(ROLE_NAME), "policyArn": VPC_ACCESS_ARN},
        {"role": ["role"]},
    )
    b.add(
        "role-policy",
        "aws:iam/rolePolicy:RolePolicy",
        {"role": c(ROLE_NAME), "policy": c(json.dumps(app_function_policy()))},
        {"role": ["role"], "policy": ["proxy", "queue", "key"]},
    )
    b.add("app-policy", "aws:iam/policy:Policy", {"policy": json.dumps(APP_LOGS_POLICY)})
    b.add(
        "role-app-policy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"role": c(ROLE_NAME), "policyArn": c(APP_POLICY_ARN)},
        {"role": ["role"], "policyArn": ["app-policy"]},
    )
    b.add(
        "fn",
        "aws:lambda/function:Function",
        {
            "role": c(ROLE_ARN),
            "runtime": "python3.12",
            "handler": "lambda_src.handlers.writer.handler",
            "vpcConfig": {
                "subnetIds": subnet_ids,
                "securityGroupIds": [c(SG_IDS["lambda-sg"]), c(SG_IDS["https-egress-sg"])],
            },
            "environment": {"variables": {"DB_HOST": c("proxy.example"), "DB_PORT": "5432"}},
            "kmsKeyArn": key_arn,
        },
        {
            "role": ["role"],
            "vpcConfig": ["subnet-a", "subnet-b", "lambda-sg", "https-egress-sg"],
            "environment": ["proxy"],
            "kmsKeyArn": ["key"],
        },
    )
    return b.resources


def changed(
    resources: Mapping[str, AnalyzedResource],
    name: str,
    *,
    deps: Mapping[str, Iterable[str]] | None = None,
    remove: Iterable[str] = (),
    **properties: Any,
) -> dict[str, AnalyzedResource]:
    """The stack with one resource's properties (and optionally its dependencies) changed."""
    resource = resources[name]
    new_properties = {k: v for k, v in resource.properties.items() if k not in set(remove)}
    new_properties.update(properties)
    property_dependencies = dict(resource.property_dependencies)
    for key in remove:
        property_dependencies.pop(key, None)
    for key, names in (deps or {}).items():
        property_dependencies[key] = tuple(resources[dep].urn for dep in names)
    result = dict(resources)
    result[name] = dataclasses.replace(
        resource, properties=new_properties, property_dependencies=property_dependencies
    )
    return result


def added(
    resources: Mapping[str, AnalyzedResource],
    name: str,
    resource_type: str,
    properties: Mapping[str, Any],
    deps: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, AnalyzedResource]:
    """The stack with one more resource."""
    result = dict(resources)
    result[name] = AnalyzedResource(
        urn=urn(resource_type, name),
        type=resource_type,
        name=name,
        properties=dict(properties),
        property_dependencies={
            key: tuple(resources[dep].urn for dep in names) for key, names in (deps or {}).items()
        },
    )
    return result
