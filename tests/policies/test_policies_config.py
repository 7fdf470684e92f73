"""Policy config: every policy takes exemptResourceNames and refuses keys it does not declare."""

from __future__ import annotations

import pytest
from pulumi.runtime.proto import analyzer_pb2

from tests.policies.conftest import expect_violation, of_policy
from tests.policies.factory import baseline, changed
from tools.analyzer import PolicyConfigError, PolicyPackError


def test_policy_config_every_schema_declares_exempt_resource_names(pack):
    missing = [
        policy.name
        for policy in pack.process.info.policies
        if policy.config_schema.get("properties", {}).get("exemptResourceNames", {}).get("default")
        != []
    ]

    assert missing == []


def test_policy_config_misspelt_key_rejected_naming_it(pack):
    # GIVEN a typo of minAzCount, which used to pass and leave the default of 2 in force
    with pytest.raises(PolicyConfigError) as caught:
        pack.process.configure({"lambda-subnets-multi-az": {"minAZCount": 3}})

    # THEN the error names the policy, the key and the keys it takes
    assert (caught.value.policy, caught.value.key) == ("lambda-subnets-multi-az", "minAZCount")
    assert "'lambda-subnets-multi-az.minAZCount': is not a config key of this policy" in str(
        caught.value
    )
    assert "exemptResourceNames, minAzCount" in str(caught.value)


def test_policy_config_keys_under_all_rejected_naming_them(pack):
    with pytest.raises(PolicyConfigError) as caught:
        pack.process.configure({"all": {"enforcementLevel": "advisory", "minAzCount": 3}})

    assert (caught.value.policy, caught.value.key) == ("all", "minAzCount")
    assert "'all' sets only enforcementLevel" in str(caught.value)


def test_policy_config_level_under_all_still_applies(pack):
    stack = changed(baseline(), "db-params", parameters=[{"name": "rds.force_ssl", "value": "0"}])

    with pack.configured({"all": {"enforcementLevel": "advisory"}}):
        [found] = of_policy(pack.run(stack), "postgres-force-ssl")

    assert found.level == "advisory"


def test_policy_config_exempt_resource_names_works_on_a_policy_that_never_declared_it(pack):
    stack = changed(baseline(), "db-params", parameters=[{"name": "rds.force_ssl", "value": "0"}])
    expect_violation(pack.run(stack), "postgres-force-ssl", "db", "sets it to '0'")

    with pack.configured({"postgres-force-ssl": {"exemptResourceNames": ["db"]}}):
        assert of_policy(pack.run(stack), "postgres-force-ssl") == []


def test_policy_config_pack_refuses_unknown_key_the_cli_lets_through(pack):
    # GIVEN config as the Pulumi CLI sends it: its schema check cannot see undeclared keys,
    # since the protocol has no additionalProperties, so the typo reaches the pack
    effective = pack.process.reconcile({})
    effective["lambda-subnets-multi-az"]["minAZCount"] = 3
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in effective.items():
        request.policyConfig[name].properties.update(
            {key: value for key, value in entry.items() if key != "enforcementLevel"}
        )
        request.policyConfig[name].enforcementLevel = analyzer_pb2.MANDATORY
    try:
        pack.process._call("Configure", request)

        # WHEN the stack is analyzed THEN the pack fails the call, naming policy and key
        with pytest.raises(PolicyPackError) as caught:
            pack.process.analyze_stack(baseline().values())
    finally:
        pack.process.configure({})

    assert "policy 'lambda-subnets-multi-az' has no config key 'minAZCount'" in str(caught.value)
    assert pack.run(baseline()) == []
