"""Security-group policies, driven through the real pack process."""

from __future__ import annotations

from tests.policies.conftest import expect_unverified, expect_violation, mandatory, of_policy
from tests.policies.factory import SG_IDS, added, baseline, changed
from tools.analyzer import UNKNOWN

INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"


def db_rule_from(stack, source: str, *, first_preview: bool = False, port: int = 5432):
    """The stack plus an ingress rule on the database's group from `source`'s group."""
    return added(
        stack,
        f"{source}-to-db",
        INGRESS_RULE,
        {
            "securityGroupId": UNKNOWN if first_preview else SG_IDS["db-sg"],
            "referencedSecurityGroupId": UNKNOWN if first_preview else SG_IDS[source],
            "ipProtocol": "tcp",
            "fromPort": port,
            "toPort": port,
        },
        {"securityGroupId": ["db-sg"], "referencedSecurityGroupId": [source]},
    )


def test_sg_ingress_from_groups_only_cidr_rule_fails(pack):
    stack = changed(
        baseline(), "proxy-to-db", cidrIpv4="10.0.0.0/16", remove=["referencedSecurityGroupId"]
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "sg-ingress-from-groups-only",
        "proxy-to-db",
        "cidrIpv4 admits 10.0.0.0/16",
        also=frozenset({"db-ingress-from-proxy-or-lambda"}),
    )


def test_sg_ingress_from_groups_only_inline_cidr_fails(pack):
    ingress = [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]
    stack = changed(baseline(), "other-sg", ingress=ingress)

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "sg-ingress-from-groups-only",
        "other-sg",
        "ingress[0].cidrBlocks admits 0.0.0.0/0",
    )


def test_sg_ingress_from_groups_only_ec2_rule_ipv6_fails(pack):
    stack = added(
        baseline(),
        "ssh-v6",
        SG_RULE,
        {
            "type": "ingress",
            "securityGroupId": SG_IDS["other-sg"],
            "protocol": "tcp",
            "fromPort": 22,
            "toPort": 22,
            "ipv6CidrBlocks": ["::/0"],
        },
        {"securityGroupId": ["other-sg"]},
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "sg-ingress-from-groups-only", "ssh-v6", "ipv6CidrBlocks admits ::/0"
    )


def test_sg_ingress_from_groups_only_ec2_egress_rule_ignored(pack):
    stack = added(
        baseline(),
        "to-endpoints",
        SG_RULE,
        {
            "type": "egress",
            "securityGroupId": SG_IDS["other-sg"],
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": ["10.0.0.0/16"],
        },
        {"securityGroupId": ["other-sg"]},
    )

    assert of_policy(pack.run(stack), "sg-ingress-from-groups-only") == []


def test_sg_ingress_from_groups_only_allowed_cidr_by_config(pack):
    ingress = [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.20.0.0/24"]}]
    stack = changed(baseline(), "other-sg", ingress=ingress)

    with pack.configured({"sg-ingress-from-groups-only": {"allowedCidrs": ["10.20.0.0/24"]}}):
        assert of_policy(pack.run(stack), "sg-ingress-from-groups-only") == []


def test_sg_ingress_from_groups_only_unknown_rules_noted(pack):
    stack = changed(baseline(first_preview=True), "other-sg", ingress=UNKNOWN)

    diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics,
        "sg-ingress-from-groups-only",
        "ingress of Security group 'other-sg'",
        resource_name="other-sg",
    )


def test_sg_ingress_from_groups_only_other_type_not_applicable(pack):
    result = pack.process.analyze_result(baseline()["lambda-egress"])

    assert "sg-ingress-from-groups-only" in result.not_applicable


def test_sg_egress_restricted_disallowed_port_fails(pack):
    egress = [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]
    stack = changed(baseline(), "https-egress-sg", egress=egress)

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "sg-egress-restricted", "https-egress-sg", "only on ports 443: it opens 22"
    )


def test_sg_egress_restricted_all_protocols_fails(pack):
    egress = [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]
    stack = changed(baseline(), "https-egress-sg", egress=egress)

    expect_violation(
        pack.run(stack), "sg-egress-restricted", "https-egress-sg", "it opens all ports"
    )


def test_sg_egress_restricted_untagged_group_fails(pack):
    stack = changed(baseline(), "https-egress-sg", tags={"team": "app"})

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "sg-egress-restricted",
        "https-egress-sg",
        "only from groups tagged internet-egress=true",
    )


def test_sg_egress_restricted_standalone_rule_resolves_group_tags(pack):
    # GIVEN a first preview and an internet egress rule on the (untagged) Lambda group
    rule = {
        "securityGroupId": UNKNOWN,
        "cidrIpv4": "0.0.0.0/0",
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
    }
    stack = added(
        baseline(first_preview=True),
        "lambda-internet",
        EGRESS_RULE,
        rule,
        {"securityGroupId": ["lambda-sg"]},
    )

    diagnostics = pack.run(stack)

    # THEN the group is found through the rule's property dependencies, and its tags decide
    expect_violation(
        diagnostics, "sg-egress-restricted", "lambda-internet", "Security group 'lambda-sg' is not"
    )


def test_sg_egress_restricted_standalone_rule_on_tagged_group_passes(pack):
    rule = {
        "securityGroupId": UNKNOWN,
        "cidrIpv4": "0.0.0.0/0",
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
    }
    stack = added(
        baseline(first_preview=True),
        "https-out",
        EGRESS_RULE,
        rule,
        {"securityGroupId": ["https-egress-sg"]},
    )

    assert of_policy(pack.run(stack), "sg-egress-restricted") == []


def test_sg_egress_restricted_group_outside_stack_noted(pack):
    rule = {
        "securityGroupId": "sg-0999999999999999f",
        "cidrIpv4": "0.0.0.0/0",
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
    }
    stack = added(baseline(), "foreign-out", EGRESS_RULE, rule)

    diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics, "sg-egress-restricted", "its security group is not a resource of this stack"
    )


def test_sg_egress_restricted_config_ports(pack):
    egress = [{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["0.0.0.0/0"]}]
    stack = changed(baseline(), "https-egress-sg", egress=egress)

    with pack.configured({"sg-egress-restricted": {"allowedPorts": [80, 443]}}):
        assert of_policy(pack.run(stack), "sg-egress-restricted") == []


def test_sg_egress_restricted_stack_without_groups_not_applicable(pack):
    stack = {
        n: r
        for n, r in baseline().items()
        if "security" not in r.type.lower() and "Security" not in r.type
    }

    result = pack.process.analyze_stack_result(stack.values())

    assert "sg-egress-restricted" in result.not_applicable


def test_default_sg_no_rules_inline_rule_fails(pack):
    stack = changed(
        baseline(),
        "default-sg",
        ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}],
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "default-sg-no-rules",
        "default-sg",
        "must have no rules: it has 1 ingress rule(s)",
    )


def test_default_sg_no_rules_standalone_rule_fails(pack):
    rule = {
        "securityGroupId": UNKNOWN,
        "referencedSecurityGroupId": UNKNOWN,
        "ipProtocol": "tcp",
        "fromPort": 5432,
        "toPort": 5432,
    }
    stack = added(
        baseline(first_preview=True),
        "into-default",
        INGRESS_RULE,
        rule,
        {"securityGroupId": ["default-sg"], "referencedSecurityGroupId": ["lambda-sg"]},
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "default-sg-no-rules",
        "into-default",
        "Default security group 'default-sg' must have no rules",
    )


def test_default_sg_no_rules_exempt_by_config(pack):
    stack = changed(
        baseline(),
        "default-sg",
        egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}],
    )

    with pack.configured({"default-sg-no-rules": {"exemptResourceNames": ["default-sg"]}}):
        assert of_policy(pack.run(stack), "default-sg-no-rules") == []


def test_default_sg_no_rules_stack_without_default_group_not_applicable(pack):
    stack = {n: r for n, r in baseline().items() if n != "default-sg"}

    result = pack.process.analyze_stack_result(stack.values())

    assert "default-sg-no-rules" in result.not_applicable


def test_db_ingress_from_proxy_or_lambda_lambda_group_passes(pack):
    stack = db_rule_from(baseline(), "lambda-sg")

    assert of_policy(pack.run(stack), "db-ingress-from-proxy-or-lambda") == []


def test_db_ingress_from_proxy_or_lambda_unattached_group_fails(pack):
    stack = db_rule_from(baseline(), "other-sg")

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "db-ingress-from-proxy-or-lambda",
        "db",
        "admits Security group 'other-sg', which is attached to neither",
    )


def test_db_ingress_from_proxy_or_lambda_first_preview_resolves_ids(pack):
    # GIVEN unknown group IDs on both sides of each rule (first preview)
    ok = db_rule_from(baseline(first_preview=True), "lambda-sg", first_preview=True)
    bad = db_rule_from(baseline(first_preview=True), "other-sg", first_preview=True)

    # THEN the rules are related to the groups and their attachments through dependencies
    assert of_policy(pack.run(ok), "db-ingress-from-proxy-or-lambda") == []
    expect_violation(
        pack.run(bad), "db-ingress-from-proxy-or-lambda", "db", "Security group 'other-sg'"
    )


def test_db_ingress_from_proxy_or_lambda_other_port_ignored(pack):
    stack = db_rule_from(baseline(), "other-sg", port=9100)

    assert of_policy(pack.run(stack), "db-ingress-from-proxy-or-lambda") == []


def test_db_ingress_from_proxy_or_lambda_config_proxy_only(pack):
    stack = db_rule_from(baseline(), "lambda-sg")

    with pack.configured(
        {"db-ingress-from-proxy-or-lambda": {"allowedSourceAttachments": ["rds-proxy"]}}
    ):
        diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "db-ingress-from-proxy-or-lambda", "db", "only from rds-proxy security groups"
    )


def test_db_ingress_from_proxy_or_lambda_inline_cidr_fails(pack):
    ingress = [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"]}]
    stack = changed(baseline(), "db-sg", ingress=ingress)

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "db-ingress-from-proxy-or-lambda",
        "db",
        "Security group 'db-sg' (ingress[0]) admits 10.0.0.0/16",
        also=frozenset({"sg-ingress-from-groups-only"}),
    )


def test_db_ingress_from_proxy_or_lambda_inline_group_rule_fails(pack):
    ingress = [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": [UNKNOWN]}]
    stack = changed(
        baseline(first_preview=True), "db-sg", ingress=ingress, deps={"ingress": ["other-sg"]}
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "db-ingress-from-proxy-or-lambda", "db", "Security group 'other-sg'"
    )


def test_db_ingress_from_proxy_or_lambda_unresolvable_source_noted(pack):
    rule = {
        "securityGroupId": SG_IDS["db-sg"],
        "referencedSecurityGroupId": "sg-0999999999999999f",
        "ipProtocol": "tcp",
        "fromPort": 5432,
        "toPort": 5432,
    }
    stack = added(baseline(), "foreign-to-db", INGRESS_RULE, rule, {"securityGroupId": ["db-sg"]})

    diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics,
        "db-ingress-from-proxy-or-lambda",
        "referencedSecurityGroupId of Security group ingress rule 'foreign-to-db'",
    )


def test_db_ingress_from_proxy_or_lambda_default_group_fails(pack):
    stack = changed(baseline(), "db", remove=["vpcSecurityGroupIds"])

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "db-ingress-from-proxy-or-lambda", "db", "vpcSecurityGroupIds is empty"
    )


def test_db_ingress_from_proxy_or_lambda_stack_without_database_not_applicable(pack):
    stack = {n: r for n, r in baseline().items() if n != "db"}

    result = pack.process.analyze_stack_result(stack.values())

    assert "db-ingress-from-proxy-or-lambda" in result.not_applicable
    assert mandatory(list(result.diagnostics)) == []


def test_default_sg_no_rules_unknown_rules_noted(pack):
    stack = changed(baseline(first_preview=True), "default-sg", ingress=UNKNOWN)

    expect_unverified(
        pack.run(stack), "default-sg-no-rules", "ingress of Default security group 'default-sg'"
    )
