"""The whole dev stack (Pulumi.yaml defaults under Pulumi.dev.yaml) run through __main__.py
under mocks: what it creates, how the components are wired, and what it exports."""

from __future__ import annotations

import json

import pytest

from tests.support.pulumi_mocks import ProgramRun, run_program, stack_config_values

PROJECT = "lambda-private-db"
COMPONENT_TYPES = {
    "lambda-private-db:secrets:Secrets",
    "lambda-private-db:network:Network",
    "lambda-private-db:components:DatabaseWithProxy",
    "lambda-private-db:components:LambdaTier",
}

# Dev: 2 zones, a single NAT, tiers ingest (SQS) and api (HTTP), IAM auth.
DEV_COUNTS = {
    # Secrets
    "lambda-private-db:secrets:Secrets": 1,
    "aws:kms/key:Key": 1,
    "aws:kms/alias:Alias": 1,
    # Network: 2 app + 2 data subnets, 1 public subnet for the single NAT
    "lambda-private-db:network:Network": 1,
    "aws:ec2/vpc:Vpc": 1,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
    "aws:ec2/subnet:Subnet": 5,
    "aws:ec2/internetGateway:InternetGateway": 1,
    "aws:ec2/eip:Eip": 1,
    "aws:ec2/natGateway:NatGateway": 1,
    "aws:ec2/routeTable:RouteTable": 4,  # public, app per zone, data
    "aws:ec2/route:Route": 3,  # public to the IGW, each app zone to the NAT
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 5,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 1,  # secretsmanager
    "aws:ec2/networkAcl:NetworkAcl": 1,
    "aws:ec2/flowLog:FlowLog": 1,
    "aws:iam/rolePolicy:RolePolicy": 2,  # flow logs, and the database's proxy role
    # Database with proxy and the bootstrap function
    "lambda-private-db:components:DatabaseWithProxy": 1,
    "aws:rds/subnetGroup:SubnetGroup": 1,
    "aws:rds/parameterGroup:ParameterGroup": 1,
    "aws:rds/instance:Instance": 1,
    "aws:rds/proxy:Proxy": 1,
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": 1,
    "aws:rds/proxyTarget:ProxyTarget": 1,
    "aws:lambda/invocation:Invocation": 1,
    # Two tiers, plus what the stack shares between components
    "lambda-private-db:components:LambdaTier": 2,
    "aws:lambda/function:Function": 3,  # ingest, api, bootstrap
    "aws:iam/role:Role": 5,  # the functions, the proxy, the flow logs
    "aws:iam/policy:Policy": 3,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 6,
    "aws:ec2/securityGroup:SecurityGroup": 6,  # endpoints, db, proxy, bootstrap, 2 tiers
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 7,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 7,
    "aws:cloudwatch/logGroup:LogGroup": 6,  # flow logs, 3 functions, API access, PostgreSQL
    "aws:sqs/queue:Queue": 4,  # ingest's queue and its dead letters, a DLQ per tier
    "aws:lambda/eventSourceMapping:EventSourceMapping": 1,
    "aws:apigatewayv2/api:Api": 1,
    "aws:apigatewayv2/integration:Integration": 1,
    "aws:apigatewayv2/route:Route": 2,
    "aws:apigatewayv2/stage:Stage": 1,
    "aws:lambda/permission:Permission": 1,
}


@pytest.fixture(scope="module")
def dev_run(project_dir) -> ProgramRun:
    run = run_program(project_dir / "__main__.py", config=stack_config_values(project_dir, "dev"))
    assert run.error is None, run.user_message
    return run


def test_dev_stack_creates_the_expected_resources_by_type(dev_run):
    assert dict(dev_run.count_by_type()) == DEV_COUNTS


def test_dev_stack_every_resource_lives_inside_a_component(dev_run):
    components = {r.urn for r in dev_run.resources if r.type in COMPONENT_TYPES}
    stack_root = f"urn:pulumi:dev::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-dev"

    for resource in dev_run.resources:
        if resource.type in COMPONENT_TYPES:
            assert resource.parent == stack_root, resource.urn
        else:
            assert resource.parent in components, resource.urn


def test_dev_stack_security_group_rules_reference_groups_never_cidrs(dev_run):
    rules = dev_run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    rules += dev_run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    group_ids = {g.id for g in dev_run.of_type("aws:ec2/securityGroup:SecurityGroup")}

    assert rules
    for rule in rules:
        assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs, rule.name
        assert rule.inputs["referencedSecurityGroupId"] in group_ids, rule.name
        assert rule.inputs["securityGroupId"] in group_ids, rule.name


def test_dev_stack_endpoints_admit_https_from_every_function_group(dev_run):
    network = dev_run.one("lambda-private-db:network:Network")
    endpoints_group = next(
        g for g in dev_run.children_of(network.urn) if g.type.endswith(":SecurityGroup")
    )
    function_groups = {
        tuple(f.inputs["vpcConfig"]["securityGroupIds"])[0]
        for f in dev_run.of_type("aws:lambda/function:Function")
    }
    ingress = [
        r
        for r in dev_run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == endpoints_group.id
    ]

    assert {r.inputs["referencedSecurityGroupId"] for r in ingress} == function_groups
    assert {(r.inputs["fromPort"], r.inputs["toPort"]) for r in ingress} == {(443, 443)}


def test_dev_stack_database_and_functions_sit_in_the_networks_subnets(dev_run):
    subnets = dev_run.of_type("aws:ec2/subnet:Subnet")
    app = sorted(s.id for s in subnets if s.inputs["tags"]["tier"] == "app")
    data = sorted(s.id for s in subnets if s.inputs["tags"]["tier"] == "data")

    assert sorted(dev_run.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]) == data
    assert sorted(dev_run.one("aws:rds/proxy:Proxy").inputs["vpcSubnetIds"]) == app
    for function in dev_run.of_type("aws:lambda/function:Function"):
        assert sorted(function.inputs["vpcConfig"]["subnetIds"]) == app, function.name


def test_dev_stack_everything_is_encrypted_with_the_stacks_key(dev_run):
    key_arn = dev_run.one("aws:kms/key:Key").state["arn"]

    for log_group in dev_run.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert log_group.inputs["kmsKeyId"] == key_arn, log_group.name
    for queue in dev_run.of_type("aws:sqs/queue:Queue"):
        assert queue.inputs["kmsMasterKeyId"] == key_arn, queue.name
    instance = dev_run.one("aws:rds/instance:Instance")
    assert instance.inputs["kmsKeyId"] == key_arn
    assert instance.inputs["masterUserSecretKmsKeyId"] == key_arn


def test_dev_stack_uses_the_dev_config(dev_run):
    instance = dev_run.one("aws:rds/instance:Instance")
    zones = {s.inputs["availabilityZone"] for s in dev_run.of_type("aws:ec2/subnet:Subnet")}

    assert instance.inputs["instanceClass"] == "db.t4g.micro"
    assert instance.inputs["multiAz"] is False
    assert instance.inputs["deletionProtection"] is False
    assert instance.inputs["skipFinalSnapshot"] is True
    assert zones == {"us-east-1a", "us-east-1b"}
    assert dev_run.one("aws:kms/alias:Alias").inputs["name"] == "alias/lambda-private-db-dev"


def test_dev_stack_exports_endpoints_ids_and_a_secret_master_secret_arn(dev_run):
    outputs = dev_run.outputs
    functions = {f.inputs["name"]: f for f in dev_run.of_type("aws:lambda/function:Function")}
    subnets = dev_run.of_type("aws:ec2/subnet:Subnet")

    assert outputs["proxyEndpoint"] == dev_run.one("aws:rds/proxy:Proxy").state["endpoint"]
    assert outputs["vpcId"] == dev_run.one("aws:ec2/vpc:Vpc").id
    assert sorted(
        outputs["appSubnetIds"] + outputs["dataSubnetIds"] + outputs["publicSubnetIds"]
    ) == (sorted(s.id for s in subnets))
    assert outputs["tierFunctionNames"] == {
        "ingest": "lambda-private-db-dev-ingest",
        "api": "lambda-private-db-dev-api",
    }
    assert outputs["tierFunctionArns"] == {
        name: functions[function_name].state["arn"]
        for name, function_name in outputs["tierFunctionNames"].items()
    }
    master_secret = dev_run.one("aws:rds/instance:Instance").state["masterUserSecrets"][0]
    assert outputs["masterSecretArn"] == master_secret["secretArn"]
    assert dev_run.secret_outputs == {"masterSecretArn"}
    assert set(outputs["tierQueueUrls"]) == {"ingest"}
    assert set(outputs["tierApiEndpoints"]) == {"api"}


def test_dev_stack_exports_hold_no_password(dev_run):
    exported = json.dumps(dev_run.outputs).lower()

    assert "password" not in exported


def test_stack_per_az_nat_three_zones_and_secret_auth(dev_config, project_dir):
    config = dict(dev_config)
    config[f"{PROJECT}:natStrategy"] = "per-az"
    config[f"{PROJECT}:azCount"] = "3"
    config[f"{PROJECT}:dbAuthMode"] = "secret"

    run = run_program(project_dir / "__main__.py", config=config)

    assert run.error is None, run.user_message
    counts = run.count_by_type()
    assert counts["aws:ec2/natGateway:NatGateway"] == 3
    assert counts["aws:ec2/subnet:Subnet"] == 9
    assert counts["aws:secretsmanager/secret:Secret"] == 2  # one per tier's database user
    assert len(run.outputs["availabilityZones"]) == 3


def test_dev_stack_warnings_name_the_config_keys(dev_config, project_dir):
    # GIVEN the dev stack (one NAT for two zones) with a minor version pinned
    config = {**dev_config, f"{PROJECT}:dbEngineVersion": "16.4"}

    run = run_program(project_dir / "__main__.py", config=config)

    # THEN each warning names the key the user sets, as the config errors do
    assert run.error is None, run.user_message
    warnings = sorted(message for level, message in run.logs if level == "warning")
    assert len(warnings) == 2, warnings
    engine, nat = warnings
    assert engine.startswith(f"'{PROJECT}:dbEngineVersion' is '16.4', which pins a minor")
    assert nat.startswith("All 2 zones of the VPC (us-east-1) leave through the one NAT gateway")
    assert f"Set '{PROJECT}:natStrategy' to per-az" in nat


def test_dev_stack_runs_as_a_preview(dev_config, project_dir):
    run = run_program(project_dir / "__main__.py", config=dev_config, preview=True)

    assert run.error is None, run.user_message
    assert dict(run.count_by_type()) == DEV_COUNTS
