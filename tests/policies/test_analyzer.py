"""The Analyzer protocol driver against a real pack that echoes what it receives."""

from __future__ import annotations

import gc
import json
import os
import textwrap
from pathlib import Path

import pytest
from pulumi.runtime import rpc

from tools.analyzer import (
    UNKNOWN,
    AnalyzedResource,
    PolicyConfigError,
    PolicyPackError,
    PolicyPackProcess,
    Secret,
    load_policy_config,
    to_wire,
)

ECHO_PACK = Path(__file__).resolve().parent / "echo_pack"
PARENT = "urn:pulumi:dev::echo::my:component:Tier::tier"
PROVIDER = "urn:pulumi:dev::echo::pulumi:providers:aws::default_7_0_0::04da6b54-provider-id"


def child(name: str, properties: dict, **kwargs) -> AnalyzedResource:
    return AnalyzedResource(
        urn=f"urn:pulumi:dev::echo::my:component:Tier$aws:sqs/queue:Queue::{name}",
        type="aws:sqs/queue:Queue",
        name=name,
        properties=properties,
        **kwargs,
    )


@pytest.fixture(scope="module")
def echo():
    with PolicyPackProcess(
        ECHO_PACK,
        project="echo",
        stack="dev",
        dry_run=True,
        config={"echo:greeting": "hello"},
        stack_tags={"team": "data"},
    ) as process:
        process.configure({"echo-required": {"token": "t"}})
        yield process


def echoed(diagnostics, policy="echo-resource"):
    return [json.loads(d.message.split("\n", 1)[1]) for d in diagnostics if d.policy == policy]


def test_analyzer_start_sets_cli_environment_and_cwd(echo):
    [seen] = echoed(echo.analyze(child("q", {})))

    assert seen["env"] == {
        "PULUMI_PROJECT": "echo",
        "PULUMI_STACK": "dev",
        "PULUMI_DRY_RUN": "true",
    }
    assert seen["runtime"] == ["echo", "dev", True]
    assert Path(seen["cwd"]) == ECHO_PACK
    assert seen["programConfig"] == "hello"
    assert seen["stackTags"] == {"team": "data"}


def test_analyzer_info_reads_pack_metadata_and_yaml_version(echo):
    info = echo.info

    assert info.name == "echo-pack"
    assert info.version == "9.9.9"
    assert [p.name for p in info.policies] == ["echo-resource", "echo-stack", "echo-required"]
    assert info.policy("echo-stack").policy_type == "stack"
    assert info.policy("echo-resource").enforcement_level == "advisory"
    assert info.initial_config["echo-resource"]["names"] == ["from-pack"]


def test_analyzer_analyze_sends_properties_as_the_engine_does(echo):
    properties = {
        "name": "jobs",
        "delaySeconds": 5,
        "fifoQueue": False,
        "kmsMasterKeyId": UNKNOWN,
        "tags": {"env": "dev", "owner": UNKNOWN},
        "redriveAllowPolicy": None,
        "policy": Secret("s3cr3t-document"),
        "list": [1, "two", UNKNOWN, Secret({"nested": True})],
    }

    [seen] = echoed(echo.analyze(child("q", properties, parent=PARENT, provider=PROVIDER)))

    assert seen["type"] == "aws:sqs/queue:Queue"
    assert seen["name"] == "q"
    assert seen["parent"] == PARENT
    assert seen["provider"] == [
        "pulumi:providers:aws",
        PROVIDER.rsplit("::", 1)[0],
        "default_7_0_0",
    ]
    props = seen["props"]
    assert props["kmsMasterKeyId"] == rpc.UNKNOWN
    assert props["tags"] == {"env": "dev", "owner": rpc.UNKNOWN}
    # The SDK unwraps secrets for policies, so the value arrived and was recognized as a secret.
    assert props["policy"] == "s3cr3t-document"
    assert props["list"] == [1, "two", rpc.UNKNOWN, {"nested": True}]
    assert props["delaySeconds"] == 5 and props["fifoQueue"] is False
    assert props["redriveAllowPolicy"] is None


def test_analyzer_analyze_fills_diagnostic_urn_with_the_resource(echo):
    [diagnostic] = echo.analyze(child("q", {}))

    assert diagnostic.urn.endswith("::q")
    assert diagnostic.level == "advisory"
    assert diagnostic.policy_pack == "echo-pack"
    assert diagnostic.description == "Reports what Analyze delivered."


def test_analyzer_analyze_stack_sends_parent_dependencies_and_property_dependencies(echo):
    key = child("key", {"description": "k"})
    queue = child(
        "q",
        {"kmsMasterKeyId": UNKNOWN},
        parent=PARENT,
        dependencies=(key.urn,),
        property_dependencies={"kmsMasterKeyId": (key.urn,), "tags": ()},
    )
    component = AnalyzedResource(
        urn=PARENT, type="my:component:Tier", name="tier", properties={}, custom=False
    )

    diagnostics = echo.analyze_stack([component, key, queue])

    by_urn = {d.urn: json.loads(d.message.split("\n", 1)[1]) for d in diagnostics}
    assert by_urn[queue.urn]["parent"] == PARENT
    assert by_urn[queue.urn]["dependencies"] == [key.urn]
    # Properties without dependencies are left out, as the engine does.
    assert by_urn[queue.urn]["propertyDependencies"] == {"kmsMasterKeyId": [key.urn]}
    assert by_urn[queue.urn]["props"] == {"kmsMasterKeyId": rpc.UNKNOWN}
    assert by_urn[PARENT]["parent"] is None
    assert all(d.level == "mandatory" and d.policy == "echo-stack" for d in diagnostics)


def test_analyzer_configure_merges_defaults_initial_and_user_config(echo):
    try:
        effective = echo.configure(
            {"echo-resource": {"port": 9000}, "echo-required": {"token": "t"}}
        )
        [seen] = echoed(echo.analyze(child("q", {})))
    finally:
        echo.configure({"echo-required": {"token": "t"}})

    # schema default (mode) < pack initial config (names) < user config (port)
    assert effective["echo-resource"] == {
        "enforcementLevel": "advisory",
        "port": 9000,
        "names": ["from-pack"],
        "mode": "strict",
    }
    assert seen["config"] == {"port": 9000.0, "names": ["from-pack"], "mode": "strict"}


def test_analyzer_configure_all_and_disabled_levels(echo):
    try:
        echo.configure(
            {"all": "mandatory", "echo-stack": "disabled", "echo-required": {"token": "t"}}
        )
        resource_diagnostics = echo.analyze(child("q", {}))
        stack_diagnostics = echo.analyze_stack([child("q", {})])
    finally:
        echo.configure({"echo-required": {"token": "t"}})

    assert [d.level for d in resource_diagnostics] == ["mandatory"]
    assert stack_diagnostics == []


def test_analyzer_configure_rejects_bad_values_naming_policy_and_key(echo):
    with pytest.raises(PolicyConfigError) as caught:
        echo.configure(
            {
                "echo-resource": {"port": "https", "names": ["ok", 7], "mode": "loose"},
                "echo-required": {"token": "t"},
                "echo-typo": "mandatory",
            }
        )

    problems = {(policy, key) for policy, key, _text in caught.value.problems}
    assert problems == {
        ("echo-resource", "port"),
        ("echo-resource", "names[1]"),
        ("echo-resource", "mode"),
        ("echo-typo", ""),
    }
    message = str(caught.value)
    assert "'echo-resource.port': 'https' is not of type 'integer'" in message
    assert "'echo-resource.mode': 'loose' is not one of ['strict', 'lenient']" in message
    assert "'echo-typo': is not a policy of pack 'echo-pack'" in message


def test_analyzer_configure_undeclared_key_rejected_only_where_the_schema_declares_keys(echo):
    with pytest.raises(PolicyConfigError) as caught:
        echo.configure({"echo-resource": {"prot": 9000}, "echo-required": {"token": "t"}})

    assert (caught.value.policy, caught.value.key) == ("echo-resource", "prot")
    assert "takes mode, names, port (and enforcementLevel)" in str(caught.value)
    try:
        # A policy without a schema reads what it likes, as under the CLI.
        effective = echo.configure({"echo-stack": {"free": 1}, "echo-required": {"token": "t"}})
    finally:
        echo.configure({"echo-required": {"token": "t"}})
    assert effective["echo-stack"]["free"] == 1


def test_analyzer_configure_required_key_without_default(echo):
    with pytest.raises(PolicyConfigError) as caught:
        echo.configure({})

    assert (caught.value.policy, caught.value.key) == ("echo-required", "token")
    assert "is required and has no default; set it" in str(caught.value)


def test_analyzer_configure_invalid_level_rejected(echo):
    with pytest.raises(PolicyConfigError) as caught:
        echo.configure({"echo-stack": "strict"})

    assert (caught.value.policy, caught.value.key) == ("echo-stack", "enforcementLevel")
    assert "must be one of advisory, mandatory, remediate, disabled, got 'strict'" in str(
        caught.value
    )


def test_analyzer_configure_failure_sends_nothing(echo):
    # GIVEN a valid config in force
    echo.configure({"echo-resource": {"port": 1234}, "echo-required": {"token": "t"}})
    try:
        # WHEN a bad config is rejected
        with pytest.raises(PolicyConfigError):
            echo.configure({"echo-resource": {"port": "bad"}, "echo-required": {"token": "t"}})
        [seen] = echoed(echo.analyze(child("q", {})))
    finally:
        echo.configure({"echo-required": {"token": "t"}})

    # THEN the pack still runs with the previous config
    assert seen["config"]["port"] == 1234


def test_analyzer_load_policy_config_reads_cli_format(tmp_path):
    path = tmp_path / "policy-config.json"
    path.write_text(
        json.dumps(
            {
                "all": "advisory",
                "sg-egress-restricted": {"enforcementLevel": "mandatory", "allowedPorts": [443]},
            }
        )
    )

    config = load_policy_config(path)

    assert config == {
        "all": {"enforcementLevel": "advisory"},
        "sg-egress-restricted": {"enforcementLevel": "mandatory", "allowedPorts": [443]},
    }


def test_analyzer_load_policy_config_bad_json_names_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"all": ')

    with pytest.raises(PolicyConfigError) as caught:
        load_policy_config(path)

    assert str(path) in str(caught.value) and "is not valid JSON" in str(caught.value)


def test_analyzer_load_policy_config_bad_shape_names_policy(tmp_path):
    path = tmp_path / "shape.json"
    path.write_text(json.dumps({"sg-egress-restricted": 443}))

    with pytest.raises(PolicyConfigError) as caught:
        load_policy_config(path)

    assert caught.value.policy == "sg-egress-restricted"


def test_analyzer_to_wire_encodes_unknowns_and_secrets():
    wire = to_wire({"a": UNKNOWN, "b": Secret([UNKNOWN]), "c": (1, 2)})

    assert wire == {
        "a": rpc.UNKNOWN,
        "b": {rpc._special_sig_key: rpc._special_secret_sig, "value": [rpc.UNKNOWN]},
        "c": [1, 2],
    }


def test_analyzer_to_wire_rejects_unsupported_values_naming_the_property():
    with pytest.raises(TypeError, match=r"property 'tags\.when' holds a datetime"):
        import datetime

        to_wire({"tags": {"when": datetime.datetime(2024, 1, 1)}})


def test_analyzer_secret_repr_hides_value():
    assert "hunter2" not in repr(Secret("hunter2"))
    assert "hunter2" not in repr(AnalyzedResource("u", "t", "n", {"password": Secret("hunter2")}))


def write_pack(directory: Path, main: str) -> Path:
    directory.mkdir()
    (directory / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (directory / "__main__.py").write_text(textwrap.dedent(main))
    return directory


def test_analyzer_start_without_pulumipolicy_yaml_fails(tmp_path):
    with pytest.raises(PolicyPackError, match="has no PulumiPolicy.yaml"):
        PolicyPackProcess(tmp_path, project="p", stack="s", dry_run=True)


def test_analyzer_start_crashing_pack_reports_its_stderr(tmp_path):
    pack_dir = write_pack(tmp_path / "crash", "raise RuntimeError('policy import exploded')\n")

    with pytest.raises(PolicyPackError) as caught:
        PolicyPackProcess(pack_dir, project="p", stack="s", dry_run=True)

    assert "exited with code 1 before printing its port" in str(caught.value)
    assert "policy import exploded" in str(caught.value)


def test_analyzer_start_silent_pack_times_out_and_is_stopped(tmp_path):
    # GIVEN an interpreter stand-in that starts but never prints a port
    pid_file = tmp_path / "pid"
    silent = tmp_path / "silent-python"
    silent.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 120\n")
    silent.chmod(0o755)

    with pytest.raises(PolicyPackError, match="did not print its port within 1 s"):
        PolicyPackProcess(
            ECHO_PACK,
            project="p",
            stack="s",
            dry_run=True,
            python=str(silent),
            start_timeout_seconds=1,
        )

    # THEN the driver stopped and reaped it
    assert not process_exists(int(pid_file.read_text()))


def test_analyzer_close_stops_the_process_and_is_idempotent():
    process = PolicyPackProcess(ECHO_PACK, project="p", stack="s", dry_run=False)
    pid = process.pid
    assert process.running

    process.close()
    process.close()

    assert not process.running
    assert not process_exists(pid)


def test_analyzer_abandoned_process_stopped_when_collected():
    process = PolicyPackProcess(ECHO_PACK, project="p", stack="s", dry_run=False)
    pid = process.pid

    del process
    gc.collect()

    assert not process_exists(pid)


def process_exists(pid: int) -> bool:
    # A reaped child is gone from /proc; a zombie would still be listed there.
    return os.path.exists(f"/proc/{pid}")
