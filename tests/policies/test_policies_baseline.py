"""The compliant stack passes every policy; the pack describes its policies as the CLI does."""

from __future__ import annotations

import re

from tests.policies.conftest import advisory, mandatory
from tests.policies.factory import baseline

DOCUMENT_POLICIES = {
    "iam-no-wildcard-actions",
    "iam-no-wildcard-resources",
    "iam-pass-role-scoped",
    "iam-rds-connect-scoped",
}


def test_baseline_existing_stack_passes_every_policy(pack):
    # GIVEN a stack where every value is known (a preview after the first deployment)
    diagnostics = pack.run(baseline(first_preview=False))

    # THEN nothing is reported, not even an advisory
    assert diagnostics == []


def test_baseline_first_preview_only_notes_documents_built_from_arns(pack):
    # GIVEN the same stack at its first preview: IDs, ARNs and generated names are unknown
    diagnostics = pack.run(baseline(first_preview=True))

    # THEN key references, subnet zones, group references and parameter groups are resolved
    # through property dependencies; only the inline policy built from ARNs is not verifiable
    assert mandatory(diagnostics) == []
    notes = advisory(diagnostics)
    assert {d.policy for d in notes} == DOCUMENT_POLICIES
    for note in notes:
        assert note.urn.endswith("::role-policy")
        assert "could not verify policy of IAM role policy 'role-policy' at preview" in note.message


def test_pack_info_policies_are_kebab_case_with_one_sentence_and_defaults(pack):
    info = pack.process.info

    assert info.name == "lambda-private-db-guardrails"
    assert info.version == "0.1.0"
    names = [policy.name for policy in info.policies]
    assert len(names) == len(set(names)) == 25
    for policy in info.policies:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name), policy.name
        assert policy.description.endswith("."), policy.name
        assert policy.description.count(". ") == 0, policy.name
        properties = policy.config_schema.get("properties", {})
        assert properties, f"{policy.name} has no config schema"
        for key, schema in properties.items():
            assert "default" in schema, f"{policy.name}.{key} has no default"


def test_pack_info_levels_mandatory_except_rds_multi_az(pack):
    levels = {policy.name: policy.enforcement_level for policy in pack.process.info.policies}

    assert levels.pop("rds-instance-multi-az") == "advisory"
    assert set(levels.values()) == {"mandatory"}


def test_pack_info_policy_types_match_their_use_of_the_stack(pack):
    types = {policy.name: policy.policy_type for policy in pack.process.info.policies}

    assert types["db-ingress-from-proxy-or-lambda"] == "stack"
    assert types["postgres-force-ssl"] == "stack"
    assert types["lambda-subnets-multi-az"] == "stack"
    assert types["rds-proxy-require-tls"] == "resource"
    assert types["iam-trust-specific-principals"] == "resource"
