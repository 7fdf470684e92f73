"""Computed output values and invoke answers of the offline preview (pure helpers)."""

from __future__ import annotations

import json
import re

import pytest

from tools.preview.answers import AnswerError, Answers, answer_invoke, load_answers
from tools.preview.computed import ResourceFacts, computed_values, plan_time_values

ROLE_URN = "urn:pulumi:dev::app::aws:iam/role:Role::writer"


def facts(type_: str, name: str, inputs: dict, region: str = "us-east-1") -> ResourceFacts:
    urn = f"urn:pulumi:dev::app::{type_}::{name}"
    return ResourceFacts(urn, type_, name, inputs, region)


def test_plan_time_values_auto_name_is_deterministic():
    role = facts("aws:iam/role:Role", "writer", {})

    first = plan_time_values(role, {"name", "namePrefix"}, {"name", "arn"})
    again = plan_time_values(role, {"name", "namePrefix"}, {"name", "arn"})

    assert re.fullmatch(r"writer-[0-9a-f]{7}", first["name"])
    assert first == again
    assert plan_time_values(facts("aws:iam/role:Role", "reader", {}), {"name"}, set()) != first


def test_plan_time_values_keep_a_name_the_program_set():
    role = facts("aws:iam/role:Role", "writer", {"name": "app-writer"})

    assert plan_time_values(role, {"name"}, {"name"}) == {}


def test_plan_time_values_fifo_queue_name_ends_in_fifo():
    queue = facts("aws:sqs/queue:Queue", "jobs", {"fifoQueue": True})

    assert plan_time_values(queue, {"name", "fifoQueue"}, set())["name"].endswith(".fifo")


def test_computed_values_role_arn_uses_its_name():
    role = facts("aws:iam/role:Role", "writer", {"name": "app-writer", "path": "/svc/"})

    resource_id, values = computed_values(role, {"arn": str, "uniqueId": str}, {"name", "path"})

    assert resource_id == "app-writer"
    assert values["arn"] == "arn:aws:iam::123456789012:role/svc/app-writer"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", values["uniqueId"])


def test_computed_values_rds_proxy_and_instance_formats():
    proxy = facts("aws:rds/proxy:Proxy", "db", {"name": "db-proxy"})
    instance = facts(
        "aws:rds/instance:Instance",
        "db",
        {
            "identifier": "app-db",
            "engine": "postgres",
            "manageMasterUserPassword": True,
        },
    )

    _, proxy_values = computed_values(proxy, {"arn": str, "endpoint": str}, {"name"})
    instance_id, instance_values = computed_values(
        instance,
        {"arn": str, "address": str, "endpoint": str, "port": int, "masterUserSecrets": list},
        {"identifier", "engine", "port", "manageMasterUserPassword"},
    )

    assert re.fullmatch(
        r"arn:aws:rds:us-east-1:123456789012:db-proxy:prx-[0-9a-f]{17}", proxy_values["arn"]
    )
    assert re.fullmatch(
        r"db-proxy\.proxy-[a-z0-9]{12}\.us-east-1\.rds\.amazonaws\.com", proxy_values["endpoint"]
    )
    assert re.fullmatch(r"db-[A-Z0-9]{26}", instance_id)
    assert instance_values["arn"] == "arn:aws:rds:us-east-1:123456789012:db:app-db"
    assert instance_values["port"] == 5432
    assert instance_values["endpoint"] == f"{instance_values['address']}:5432"
    secret_arn = instance_values["masterUserSecrets"][0]["secretArn"]
    assert re.fullmatch(
        r"arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-[0-9a-f-]{36}-[A-Za-z]{6}",
        secret_arn,
    )


def test_computed_values_ec2_ids_and_arns():
    vpc_id, vpc = computed_values(
        facts("aws:ec2/vpc:Vpc", "main", {}), {"arn": str, "defaultSecurityGroupId": str}, set()
    )
    group_id, group = computed_values(
        facts("aws:ec2/securityGroup:SecurityGroup", "app", {"name": "app-1"}),
        {"arn": str, "ownerId": str},
        {"name"},
    )

    assert re.fullmatch(r"vpc-[0-9a-f]{17}", vpc_id)
    assert vpc["arn"] == f"arn:aws:ec2:us-east-1:123456789012:vpc/{vpc_id}"
    assert vpc["defaultSecurityGroupId"].startswith("sg-")
    assert re.fullmatch(r"sg-[0-9a-f]{17}", group_id)
    assert group == {
        "arn": f"arn:aws:ec2:us-east-1:123456789012:security-group/{group_id}",
        "ownerId": "123456789012",
    }


def test_computed_values_generic_fallback_by_type():
    thing = facts("aws:glue/job:Job", "etl", {"name": "etl-job"})

    _, values = computed_values(
        thing,
        {"arn": str, "createdOn": str, "retries": int, "tagsAll": dict, "name": str},
        {"name"},
    )

    assert values["arn"] == "arn:aws:glue:us-east-1:123456789012:job/etl-job"
    assert values["retries"] == 1
    assert "name" not in values


def test_computed_values_leave_unset_optional_inputs_out():
    # An optional input the program left unset is null in a real stack; the Python SDK reads
    # a null output as unknown during a preview, so no value is made up for it.
    key = facts("aws:kms/key:Key", "data", {})

    _, values = computed_values(
        key, {"arn": str, "keyId": str, "description": str}, {"description"}
    )

    assert set(values) == {"arn", "keyId"}


def test_answer_invoke_availability_zones_respects_exclusions():
    result = answer_invoke(
        "aws:index/getAvailabilityZones:getAvailabilityZones",
        {"excludeNames": ["us-east-1a"]},
        "us-east-1",
        Answers(),
    )

    assert result["names"] == ["us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"]
    assert result["zoneIds"][0] == "use1-az2"


def test_answer_invoke_policy_document_builds_json():
    args = {
        "statements": [
            {
                "effect": "Allow",
                "actions": ["sqs:SendMessage"],
                "resources": ["arn:aws:sqs:x"],
                "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}],
                "conditions": [
                    {
                        "test": "StringEquals",
                        "variable": "aws:SourceAccount",
                        "values": ["123456789012"],
                    }
                ],
            }
        ]
    }

    result = answer_invoke(
        "aws:iam/getPolicyDocument:getPolicyDocument", args, "us-east-1", Answers()
    )

    assert json.loads(result["json"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "arn:aws:sqs:x",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
            }
        ],
    }


def test_answer_invoke_user_answer_wins_and_unknown_token_fails():
    answers = Answers(invokes={"aws:index/getRegion:getRegion": {"region": "ap-south-1"}})

    assert answer_invoke("aws:index/getRegion:getRegion", {}, "us-east-1", answers) == {
        "region": "ap-south-1"
    }
    with pytest.raises(AnswerError, match="'aws:ec2/getVpc:getVpc'.*--invokes"):
        answer_invoke("aws:ec2/getVpc:getVpc", {}, "us-east-1", answers)


def test_load_answers_names_every_bad_key(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text(
        "invoke: {}\ninvokes:\n  getVpc: {id: vpc-1}\n"
        "stackReferences:\n  org/net/dev: {vpcId: vpc-1}\n"
    )

    with pytest.raises(AnswerError) as raised:
        load_answers(path)

    message = str(raised.value)
    assert "unknown key 'invoke'" in message
    assert "'invokes.getVpc' is not a function token" in message
    assert "'stackReferences.org/net/dev.outputs' must be a mapping" in message
