"""Least-privilege IAM policies, driven through the real pack process."""

from __future__ import annotations

import json

from tests.policies.conftest import (
    expect_unverified,
    expect_violation,
    mandatory,
    name_of,
    of_policy,
)
from tests.policies.factory import (
    APP_LOGS_POLICY,
    LAMBDA_TRUST,
    ROLE_NAME,
    VPC_ACCESS_ARN,
    added,
    baseline,
    changed,
)
from tools.analyzer import UNKNOWN, Secret


def with_statement(statement: dict) -> str:
    document = json.loads(json.dumps(APP_LOGS_POLICY))
    document["Statement"].append({"Effect": "Allow", **statement})
    return json.dumps(document)


def test_iam_no_wildcard_actions_service_wildcard_fails(pack):
    stack = changed(
        baseline(),
        "app-policy",
        policy=with_statement({"Action": "s3:*", "Resource": "arn:aws:s3:::bucket"}),
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "iam-no-wildcard-actions",
        "app-policy",
        "must not allow every action of a service: Action 's3:*'",
    )


def test_iam_no_wildcard_actions_star_in_inline_role_policy_fails(pack):
    inline = [
        {
            "name": "everything",
            "policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}]}
            ),
        }
    ]
    stack = changed(baseline(), "role", inlinePolicies=inline)

    diagnostics = pack.run(stack)

    expect_violation(diagnostics, "iam-no-wildcard-actions", "role", "inline policy 'everything'")


def test_iam_no_wildcard_actions_config_allows_reviewed_wildcard(pack):
    stack = changed(
        baseline(),
        "app-policy",
        policy=with_statement(
            {"Action": "xray:*", "Resource": "arn:aws:xray:eu-west-1:123456789012:group/app"}
        ),
    )

    with pack.configured({"iam-no-wildcard-actions": {"allowedWildcardActions": ["xray:*"]}}):
        diagnostics = pack.run(stack)

    assert of_policy(diagnostics, "iam-no-wildcard-actions") == []


def test_iam_no_wildcard_actions_deny_statement_passes(pack):
    # The baseline's app policy ends with Deny * on *, which narrows rather than grants.
    diagnostics = pack.run(baseline())

    assert of_policy(diagnostics, "iam-no-wildcard-actions") == []


def test_iam_no_wildcard_actions_other_type_not_applicable(pack):
    result = pack.process.analyze_result(baseline()["queue"])

    assert "iam-no-wildcard-actions" in result.not_applicable


def test_iam_no_wildcard_resources_scoped_action_on_star_fails(pack):
    stack = changed(
        baseline(),
        "app-policy",
        policy=with_statement({"Action": ["s3:GetObject"], "Resource": "*"}),
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "iam-no-wildcard-resources",
        "app-policy",
        "must scope s3:GetObject to resource ARNs",
    )


def test_iam_no_wildcard_resources_star_only_actions_pass(pack):
    # The baseline grants ENI management on "*", which AWS allows on "*" only.
    diagnostics = pack.run(baseline())

    assert of_policy(diagnostics, "iam-no-wildcard-resources") == []


def test_iam_no_wildcard_resources_user_allow_list_overrides_default(pack):
    # GIVEN a config whose allow-list drops the ENI actions the baseline grants on "*"
    with pack.configured(
        {"iam-no-wildcard-resources": {"resourceWildcardActions": ["xray:PutTraceSegments"]}}
    ):
        diagnostics = pack.run(baseline())

    expect_violation(
        diagnostics, "iam-no-wildcard-resources", "app-policy", "ec2:CreateNetworkInterface"
    )


def test_iam_no_wildcard_resources_other_type_not_applicable(pack):
    result = pack.process.analyze_result(baseline()["fn"])

    assert "iam-no-wildcard-resources" in result.not_applicable


def test_iam_pass_role_scoped_star_fails(pack):
    stack = changed(
        baseline(), "app-policy", policy=with_statement({"Action": "iam:PassRole", "Resource": "*"})
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "iam-pass-role-scoped",
        "app-policy",
        "must pass only named roles: iam:PassRole on '*'",
        also=frozenset({"iam-no-wildcard-resources"}),
    )


def test_iam_pass_role_scoped_condition_required_by_config(pack):
    stack = changed(
        baseline(),
        "app-policy",
        policy=with_statement(
            {"Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/worker"}
        ),
    )

    assert of_policy(pack.run(stack), "iam-pass-role-scoped") == []
    with pack.configured({"iam-pass-role-scoped": {"requirePassedToServiceCondition": True}}):
        diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "iam-pass-role-scoped", "app-policy", "no iam:PassedToService condition"
    )


def test_iam_pass_role_scoped_other_type_not_applicable(pack):
    result = pack.process.analyze_result(baseline()["db"])

    assert "iam-pass-role-scoped" in result.not_applicable


def test_iam_rds_connect_scoped_any_user_fails(pack):
    resource = "arn:aws:rds-db:eu-west-1:123456789012:dbuser:*/*"
    stack = changed(
        baseline(),
        "app-policy",
        policy=with_statement({"Action": "rds-db:connect", "Resource": resource}),
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "iam-rds-connect-scoped", "app-policy", f"Resource '{resource}' has a wildcard"
    )


def test_iam_rds_connect_scoped_user_wildcard_allowed_by_config(pack):
    resource = "arn:aws:rds-db:eu-west-1:123456789012:dbuser:prx-0123456789abcdef0/*"
    stack = changed(
        baseline(),
        "app-policy",
        policy=with_statement({"Action": "rds-db:connect", "Resource": resource}),
    )

    expect_violation(pack.run(stack), "iam-rds-connect-scoped", "app-policy", "has a wildcard")
    with pack.configured({"iam-rds-connect-scoped": {"allowUserWildcard": True}}):
        assert of_policy(pack.run(stack), "iam-rds-connect-scoped") == []


def test_iam_rds_connect_scoped_known_document_passes(pack):
    # GIVEN the function's inline policy, known on every preview after the first
    diagnostics = pack.run(baseline(first_preview=False))

    assert of_policy(diagnostics, "iam-rds-connect-scoped") == []


def test_iam_rds_connect_scoped_other_type_not_applicable(pack):
    result = pack.process.analyze_result(baseline()["proxy"])

    assert "iam-rds-connect-scoped" in result.not_applicable


def test_iam_document_policies_unknown_document_noted_not_passed(pack):
    # GIVEN a first preview, where the inline policy is built from ARNs not yet created
    diagnostics = pack.run(baseline(first_preview=True))

    # THEN each document policy says it could not verify it, naming the property and resource
    for policy in (
        "iam-no-wildcard-actions",
        "iam-no-wildcard-resources",
        "iam-pass-role-scoped",
        "iam-rds-connect-scoped",
    ):
        note = [d for d in of_policy(diagnostics, policy)]
        assert len(note) == 1 and note[0].level == "advisory"
        assert (
            "could not verify policy of IAM role policy 'role-policy' at preview" in note[0].message
        )
        assert note[0].urn.endswith("::role-policy")


def test_iam_no_wildcard_actions_known_violation_reported_beside_unknown(pack):
    # GIVEN a role with one inline policy unknown and another that grants "*"
    inline = [
        {"name": "built-from-arns", "policy": UNKNOWN},
        {
            "name": "everything",
            "policy": json.dumps(
                {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}}
            ),
        },
    ]
    stack = changed(baseline(first_preview=True), "role", inlinePolicies=inline)

    diagnostics = of_policy(pack.run(stack), "iam-no-wildcard-actions")

    # THEN the proven violation is mandatory and the unknown document is noted, not dropped
    levels = sorted(
        (d.level, "everything" in d.message, "built-from-arns" in d.message)
        for d in diagnostics
        if d.urn.endswith("::role")
    )
    assert levels == [("advisory", False, True), ("mandatory", True, False)]


def test_iam_documents_secret_wrapped_are_checked(pack):
    # GIVEN a policy document the program marked secret: the engine sends it wrapped
    stack = changed(
        baseline(),
        "app-policy",
        policy=Secret(with_statement({"Action": "s3:*", "Resource": "arn:aws:s3:::b"})),
    )

    diagnostics = pack.run(stack)

    expect_violation(diagnostics, "iam-no-wildcard-actions", "app-policy", "Action 's3:*'")


# Documents given as objects (as TypeScript programs may write them) can hold unknowns inside.


def test_iam_document_object_unknown_action_noted_not_failed(pack):
    document = json.loads(json.dumps(APP_LOGS_POLICY))
    document["Statement"].append({"Effect": "Allow", "Action": UNKNOWN, "Resource": "*"})
    stack = changed(baseline(first_preview=True), "app-policy", policy=document)

    diagnostics = pack.run(stack)

    for policy in (
        "iam-no-wildcard-actions",
        "iam-no-wildcard-resources",
        "iam-pass-role-scoped",
        "iam-rds-connect-scoped",
    ):
        expect_unverified(
            diagnostics,
            policy,
            "could not verify Action of IAM policy 'app-policy' (policy, statement 4)",
        )


def test_iam_document_object_unknown_statement_noted(pack):
    document = json.loads(json.dumps(APP_LOGS_POLICY))
    document["Statement"].append(UNKNOWN)
    stack = changed(baseline(first_preview=True), "app-policy", policy=document)

    diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics,
        "iam-no-wildcard-actions",
        "could not verify statement 4 of IAM policy 'app-policy' (policy)",
    )


def test_iam_document_object_unknown_resource_noted_beside_proven_violation(pack):
    # GIVEN a known service wildcard and an unknown Resource in the same statement
    document = json.loads(json.dumps(APP_LOGS_POLICY))
    document["Statement"].append({"Effect": "Allow", "Action": "s3:*", "Resource": UNKNOWN})
    stack = changed(baseline(first_preview=True), "app-policy", policy=document)

    diagnostics = pack.run(stack)

    # THEN the wildcard action is a violation, and the unknown Resource only a note
    on_policy = [d for d in diagnostics if name_of(d) == "app-policy"]
    wildcard = of_policy(on_policy, "iam-no-wildcard-actions")
    assert [d.level for d in wildcard] == ["mandatory"], wildcard
    resources = of_policy(on_policy, "iam-no-wildcard-resources")
    assert [d.level for d in resources] == ["advisory"], resources
    assert "could not verify Resource of IAM policy 'app-policy'" in resources[0].message


def test_iam_trust_specific_principals_unknown_principal_noted(pack):
    trust = json.loads(json.dumps(LAMBDA_TRUST))
    trust["Statement"][0]["Principal"] = {"AWS": UNKNOWN}
    stack = changed(baseline(first_preview=True), "role", assumeRolePolicy=trust)

    with pack.configured(
        {"iam-trust-specific-principals": {"allowedPrincipalTypes": ["Service", "AWS"]}}
    ):
        diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics,
        "iam-trust-specific-principals",
        "could not verify AWS of IAM role 'role' (trust policy, statement 1)",
    )


def test_iam_trust_specific_principals_star_fails(pack):
    trust = json.loads(json.dumps(LAMBDA_TRUST))
    trust["Statement"][0]["Principal"] = "*"
    stack = changed(baseline(), "role", assumeRolePolicy=json.dumps(trust))

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "iam-trust-specific-principals",
        "role",
        "must trust specific service principals, not Principal '*'",
    )


def test_iam_trust_specific_principals_account_principal_needs_config(pack):
    trust = json.loads(json.dumps(LAMBDA_TRUST))
    trust["Statement"][0]["Principal"] = {"AWS": "arn:aws:iam::210987654321:root"}
    stack = changed(baseline(), "role", assumeRolePolicy=json.dumps(trust))

    expect_violation(
        pack.run(stack),
        "iam-trust-specific-principals",
        "role",
        "it trusts AWS arn:aws:iam::210987654321:root",
    )
    with pack.configured(
        {"iam-trust-specific-principals": {"allowedPrincipalTypes": ["Service", "AWS"]}}
    ):
        assert of_policy(pack.run(stack), "iam-trust-specific-principals") == []


def test_iam_trust_specific_principals_unknown_trust_noted(pack):
    stack = changed(baseline(first_preview=True), "role", assumeRolePolicy=UNKNOWN)

    diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics,
        "iam-trust-specific-principals",
        "assumeRolePolicy of IAM role 'role'",
        resource_name="role",
    )


def test_iam_trust_specific_principals_other_type_not_applicable(pack):
    result = pack.process.analyze_result(baseline()["app-policy"])

    assert "iam-trust-specific-principals" in result.not_applicable


def test_iam_no_admin_managed_policies_administrator_access_fails(pack):
    stack = changed(
        baseline(), "role-vpc-access", policyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "iam-no-admin-managed-policies",
        "role-vpc-access",
        "must not attach the administrative or full-access policy AdministratorAccess",
    )


def test_iam_no_admin_managed_policies_full_access_fails_even_if_allow_listed(pack):
    stack = changed(
        baseline(), "role-vpc-access", policyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess"
    )

    with pack.configured(
        {"iam-no-admin-managed-policies": {"allowedAwsManagedPolicies": ["AmazonS3FullAccess"]}}
    ):
        diagnostics = pack.run(stack)

    expect_violation(
        diagnostics, "iam-no-admin-managed-policies", "role-vpc-access", "AmazonS3FullAccess"
    )


def test_iam_no_admin_managed_policies_not_allow_listed_fails(pack):
    stack = changed(
        baseline(), "role-vpc-access", policyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "iam-no-admin-managed-policies",
        "role-vpc-access",
        "AmazonS3ReadOnlyAccess is not in allowedAwsManagedPolicies",
    )


def test_iam_no_admin_managed_policies_role_managed_arns_checked(pack):
    stack = changed(
        baseline(), "role", managedPolicyArns=["arn:aws:iam::aws:policy/PowerUserAccess"]
    )

    expect_violation(pack.run(stack), "iam-no-admin-managed-policies", "role", "PowerUserAccess")


def test_iam_no_admin_managed_policies_exclusive_attachments_checked(pack):
    # aws.iam.RolePolicyAttachmentsExclusive attaches a list of managed policies at once.
    stack = added(
        baseline(),
        "role-attachments",
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        {
            "roleName": ROLE_NAME,
            "policyArns": [VPC_ACCESS_ARN, "arn:aws:iam::aws:policy/IAMFullAccess"],
        },
        {"roleName": ["role"]},
    )

    expect_violation(
        pack.run(stack),
        "iam-no-admin-managed-policies",
        "role-attachments",
        "IAM role policy attachments 'role-attachments' must not attach the administrative or "
        "full-access policy IAMFullAccess",
    )


def test_iam_no_admin_managed_policies_unknown_arn_from_stack_policy_passes(pack):
    # GIVEN a first preview: the attachment's policyArn is unknown but comes from an
    # aws.iam.Policy of this stack (checked by the document policies)
    stack = baseline(first_preview=True)

    assert of_policy(pack.run(stack), "iam-no-admin-managed-policies") == []


def test_iam_no_admin_managed_policies_unknown_arn_elsewhere_noted(pack):
    stack = changed(
        baseline(first_preview=True),
        "role-app-policy",
        policyArn=UNKNOWN,
        deps={"policyArn": ["queue"]},
    )

    diagnostics = pack.run(stack)

    expect_unverified(
        diagnostics,
        "iam-no-admin-managed-policies",
        "policyArn of IAM role policy attachment 'role-app-policy'",
    )
    assert not any(
        d.policy == "iam-no-admin-managed-policies" and d.level == "mandatory" for d in diagnostics
    )


def test_iam_no_admin_managed_policies_stack_without_attachments_not_applicable(pack):
    stack = {name: r for name, r in baseline().items() if not r.type.startswith("aws:iam/")}

    result = pack.process.analyze_stack_result(stack.values())

    assert "iam-no-admin-managed-policies" in result.not_applicable
    assert mandatory(list(result.diagnostics)) == []


def test_iam_policies_user_policy_type_checked(pack):
    stack = added(
        baseline(),
        "ops-user-policy",
        "aws:iam/userPolicy:UserPolicy",
        {"user": "ops", "policy": with_statement({"Action": "*", "Resource": "*"})},
    )

    diagnostics = pack.run(stack)

    expect_violation(
        diagnostics,
        "iam-no-wildcard-actions",
        "ops-user-policy",
        "Action '*'",
        also=frozenset(
            {"iam-no-wildcard-resources", "iam-pass-role-scoped", "iam-rds-connect-scoped"}
        ),
    )
