"""The offline preview end to end: `python -m tools.preview` on the fixture programs.

Each run is a real subprocess (the program runs in its own process under the SDK's mocks, the
policy pack in its own over gRPC); results are shared between the tests of this module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.preview import engine
from tools.preview.answers import Answers
from tools.preview.project import load_stack

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
BUCKET_PROGRAM = FIXTURES / "bucket_program"
COMPONENT_PROGRAM = FIXTURES / "component_program"
MISSING_CONFIG_PROGRAM = FIXTURES / "missing_config_program"
REGION_PROGRAM = FIXTURES / "region_program"
TEST_PACK = FIXTURES / "bucket_policy_pack"
COMPONENT_ANSWERS = COMPONENT_PROGRAM / "answers.yaml"

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PLACEHOLDER = "preview-placeholder-secret"


class Preview:
    """One finished run: exit status, printed text, and the --json and --graph files."""

    def __init__(self, completed: subprocess.CompletedProcess, json_path: Path, graph_path: Path):
        self.status = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.json_text = json_path.read_text() if json_path.exists() else ""
        self.document: dict[str, Any] = json.loads(self.json_text) if self.json_text else {}
        self.graph = graph_path.read_text() if graph_path.exists() else ""

    def resource(self, name: str, type_: str | None = None) -> dict[str, Any]:
        found = [
            r
            for r in self.document["resources"]
            if r["name"] == name and type_ in (None, r["type"])
        ]
        assert len(found) == 1, f"expected one resource named {name!r}, got {len(found)}"
        return found[0]

    def unknown_inputs(self) -> set[str]:
        """Every "<resource name>.<input path>" whose value is unknown."""
        paths: set[str] = set()
        for resource in self.document["resources"]:
            for path in _unknown_paths(resource["inputs"], resource["name"]):
                paths.add(path)
        return paths


def _unknown_paths(value: Any, path: str) -> list[str]:
    if value == UNKNOWN:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _unknown_paths(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _unknown_paths(item, f"{path}[{i}]")]
    return []


def run_preview(tmp_path: Path, *args: str) -> Preview:
    json_path = tmp_path / "preview.json"
    graph_path = tmp_path / "preview.dot"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            *args,
            "--json",
            str(json_path),
            "--graph",
            str(graph_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Preview(completed, json_path, graph_path)


@pytest.fixture(scope="module")
def bucket_existing(tmp_path_factory) -> Preview:
    return run_preview(
        tmp_path_factory.mktemp("bucket-existing"),
        "--project",
        str(BUCKET_PROGRAM),
        "--policy-pack",
        str(TEST_PACK),
    )


@pytest.fixture(scope="module")
def bucket_new(tmp_path_factory) -> Preview:
    return run_preview(
        tmp_path_factory.mktemp("bucket-new"),
        "--project",
        str(BUCKET_PROGRAM),
        "--policy-pack",
        str(TEST_PACK),
        "--new-stack",
    )


@pytest.fixture(scope="module")
def component_existing_runs(tmp_path_factory) -> tuple[Preview, Preview]:
    args = (
        "--project",
        str(COMPONENT_PROGRAM),
        "--policy-pack",
        str(TEST_PACK),
        "--invokes",
        str(COMPONENT_ANSWERS),
    )
    return (
        run_preview(tmp_path_factory.mktemp("component-1"), *args),
        run_preview(tmp_path_factory.mktemp("component-2"), *args),
    )


@pytest.fixture(scope="module")
def component_new(tmp_path_factory) -> Preview:
    return run_preview(
        tmp_path_factory.mktemp("component-new"),
        "--project",
        str(COMPONENT_PROGRAM),
        "--no-policy",
        "--new-stack",
        "--invokes",
        str(COMPONENT_ANSWERS),
    )


# Recorded structure


def test_preview_component_parents_match_program(component_existing_runs):
    preview, _ = component_existing_runs
    stack_urn = "urn:pulumi:dev::component-app::pulumi:pulumi:Stack::component-app-dev"
    tier = preview.resource("storage")

    assert tier["type"] == "fixtures:storage:StorageTier"
    assert tier["custom"] is False
    assert tier["parent"] == stack_urn
    for child in ("storage-key", "storage-bucket", "storage-queue"):
        assert preview.resource(child)["parent"] == tier["urn"]
    for top in ("app", "consumer", "consumer-queue", "acme/network/dev"):
        assert preview.resource(top)["parent"] == stack_urn
    assert preview.resource("storage-queue")["urn"] == (
        "urn:pulumi:dev::component-app::fixtures:storage:StorageTier$aws:sqs/queue:Queue"
        "::storage-queue"
    )
    assert preview.resource("consumer")["urn"] == (
        "urn:pulumi:dev::component-app::aws:iam/role:Role::consumer"
    )


def test_preview_component_dependencies_match_program(component_existing_runs):
    preview, _ = component_existing_runs
    urn = {
        name: preview.resource(name)["urn"]
        for name in (
            "storage-key",
            "storage-bucket",
            "storage-queue",
            "consumer",
            "acme/network/dev",
        )
    }

    # depends_on=[storage] stands for every child of the component, as the engine sees it.
    policy = preview.resource("consumer-queue")
    assert policy["dependencies"] == sorted(
        [urn["storage-key"], urn["storage-bucket"], urn["storage-queue"], urn["consumer"]]
    )
    assert policy["propertyDependencies"]["policy"] == [urn["storage-queue"]]
    assert policy["propertyDependencies"]["role"] == [urn["consumer"]]
    queue = preview.resource("storage-queue")
    assert queue["dependencies"] == [urn["storage-key"]]
    assert queue["propertyDependencies"]["kmsMasterKeyId"] == [urn["storage-key"]]
    group = preview.resource("app")
    assert group["propertyDependencies"]["vpcId"] == [urn["acme/network/dev"]]
    assert preview.resource("storage-key")["dependencies"] == []


def test_preview_graph_has_dependency_and_parent_edges(component_existing_runs):
    preview, _ = component_existing_runs
    ids = dict(re.findall(r'(r\d+) \[label="[^"]*\\n([^"]+)"', preview.graph))
    node = {name: node_id for node_id, name in ids.items()}

    assert f"{node['storage-queue']} -> {node['storage-key']};" in preview.graph
    assert f"{node['storage-key']} -> {node['storage']} [style=dashed" in preview.graph


def test_preview_custom_resources_name_the_default_provider(bucket_existing):
    bucket = bucket_existing.resource("data")
    provider = bucket_existing.resource("default_7_51_1")

    assert provider["type"] == "pulumi:providers:aws"
    assert provider["inputs"]["region"] == "eu-west-1"
    assert bucket["provider"].startswith(provider["urn"] + "::")


# Unknowns: a first preview against every later one


def test_preview_new_stack_unknowns_only_where_computed(bucket_new):
    # The bucket's ARN is computed, so the policy document built from it is unknown; the
    # auto-generated names and every literal the program wrote are known.
    assert bucket_new.unknown_inputs() == {"reader-read.policy"}
    assert re.fullmatch(r"reader-[0-9a-f]{7}", bucket_new.resource("reader-read")["inputs"]["role"])
    assert bucket_new.resource("data")["inputs"]["tags"] == {
        "team": "storage",
        "versioned": "false",
    }
    assert bucket_new.document["outputs"]["bucket_arn"] == UNKNOWN
    assert re.fullmatch(r"data-[0-9a-f]{7}", bucket_new.document["outputs"]["bucket_name"])


def test_preview_new_stack_ids_unknown_and_references_known(component_new):
    # An id is computed (role.id feeds `role`); a stack reference's outputs and an invoke's
    # answer exist before the first preview, so what reads them stays known.
    assert component_new.status == 0, component_new.stderr
    assert component_new.unknown_inputs() == {
        "storage-queue.kmsMasterKeyId",
        "consumer-queue.policy",
        "consumer-queue.role",
    }
    assert component_new.resource("app")["inputs"]["vpcId"] == "vpc-0a1b2c3d4e5f60718"
    assert component_new.document["outputs"]["zones"] == ["us-east-1a", "us-east-1b"]
    assert component_new.document["summary"]["newStack"] is True


def test_preview_existing_stack_has_no_unknowns_and_is_deterministic(component_existing_runs):
    first, second = component_existing_runs

    assert first.status == 0, first.stderr
    assert first.unknown_inputs() == set()
    assert UNKNOWN not in first.json_text
    assert first.json_text == second.json_text


def test_preview_existing_stack_values_are_realistic(bucket_existing, component_existing_runs):
    component, _ = component_existing_runs
    outputs = bucket_existing.document["outputs"]
    bucket_name = outputs["bucket_name"]

    assert outputs["bucket_arn"] == f"arn:aws:s3:::{bucket_name}"
    assert re.fullmatch(r"arn:aws:iam::123456789012:role/reader-[0-9a-f]{7}", outputs["role_arn"])
    document = json.loads(bucket_existing.resource("reader-read")["inputs"]["policy"])
    assert document["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket_name}/access-logs/*"
    queue_key = component.resource("storage-queue")["inputs"]["kmsMasterKeyId"]
    assert re.fullmatch(r"arn:aws:kms:us-east-1:123456789012:key/[0-9a-f-]{36}", queue_key)
    assert re.fullmatch(
        r"https://sqs\.us-east-1\.amazonaws\.com/123456789012/storage-queue-[0-9a-f]{7}",
        component.document["outputs"]["queue_url"],
    )


# Secrets


def test_preview_secure_config_is_a_masked_placeholder(bucket_existing):
    assert bucket_existing.document["outputs"]["api_token"] == "[secret]"
    assert bucket_existing.resource("api-token")["inputs"]["value"] == "[secret]"
    assert "api_token  : [secret]" in bucket_existing.stdout
    assert "placeholder secrets" in bucket_existing.stdout
    assert "bucket-app:apiToken" in bucket_existing.document["summary"]["placeholderSecrets"]
    for text in (bucket_existing.stdout, bucket_existing.stderr, bucket_existing.json_text):
        assert PLACEHOLDER not in text


# Policies and exit status


def test_preview_mandatory_violation_exits_1_naming_the_policy(bucket_existing):
    bucket_urn = bucket_existing.resource("data")["urn"]

    assert bucket_existing.status == 1, bucket_existing.stderr
    assert "[mandatory] s3-bucket-owner-tag" in bucket_existing.stdout
    assert bucket_existing.document["diagnostics"] == [
        {
            "level": "mandatory",
            "message": bucket_existing.document["diagnostics"][0]["message"],
            "policy": "s3-bucket-owner-tag",
            "policyPack": "preview-test-pack",
            "urn": bucket_urn,
        }
    ]
    assert "must carry the 'owner' tag" in bucket_existing.document["diagnostics"][0]["message"]
    assert bucket_existing.document["summary"]["mandatory"] == 1
    assert "Policy violations: 1 mandatory, 0 advisory" in bucket_existing.stdout


def test_preview_compliant_stack_exits_0(component_existing_runs):
    preview, _ = component_existing_runs

    assert preview.status == 0
    assert preview.document["diagnostics"] == []
    assert preview.document["summary"]["create"] == 8
    assert preview.document["summary"]["read"] == 1


def test_preview_policy_config_changes_enforcement(tmp_path):
    # GIVEN a config that lowers the bucket policy to advisory and sets a tiny stack budget
    config = tmp_path / "policy-config.json"
    config.write_text(
        json.dumps(
            {
                "s3-bucket-owner-tag": "advisory",
                "stack-resource-budget": {"maxResources": 1},
            }
        )
    )

    preview = run_preview(
        tmp_path,
        "--project",
        str(BUCKET_PROGRAM),
        "--policy-pack",
        str(TEST_PACK),
        "--policy-pack-config",
        str(config),
    )

    assert preview.status == 0, preview.stderr
    levels = {(d["policy"], d["level"]) for d in preview.document["diagnostics"]}
    assert levels == {("s3-bucket-owner-tag", "advisory"), ("stack-resource-budget", "advisory")}


def test_preview_bad_policy_config_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"s3-bucket-owner-tag": {"tagKey": 5}}))

    preview = run_preview(
        tmp_path,
        "--project",
        str(BUCKET_PROGRAM),
        "--policy-pack",
        str(TEST_PACK),
        "--policy-pack-config",
        str(config),
    )

    assert preview.status == 2
    assert "s3-bucket-owner-tag.tagKey" in preview.stderr
    assert "Traceback" not in preview.stderr
    assert preview.document == {}


def test_preview_policy_config_for_unknown_policy_exits_2(tmp_path):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"s3-bucket-owner-tags": "advisory"}))

    preview = run_preview(
        tmp_path,
        "--project",
        str(BUCKET_PROGRAM),
        "--policy-pack",
        str(TEST_PACK),
        "--policy-pack-config",
        str(config),
    )

    assert preview.status == 2
    assert "'s3-bucket-owner-tags'" in preview.stderr
    assert "not a policy of any pack" in preview.stderr


def test_preview_json_has_the_programs_own_diagnostics_with_their_resource(tmp_path):
    # GIVEN a program that warns about the stack and logs an error about a component of its own
    project = _write_program(
        tmp_path / "project",
        "import pulumi\n"
        "\n"
        "class Box(pulumi.ComponentResource):\n"
        "    def __init__(self, name):\n"
        '        super().__init__("fixtures:box:Box", name)\n'
        '        pulumi.log.error("the box is empty", resource=self)\n'
        "\n"
        'pulumi.log.warn("no owner tag anywhere")\n'
        'Box("box")\n'
        'pulumi.log.debug("not shown")\n',
    )

    runs = []
    for label in ("first", "second"):
        (tmp_path / label).mkdir()
        runs.append(run_preview(tmp_path / label, "--project", str(project), "--no-policy"))
    first, second = runs

    # THEN --json lists both, as diagnostics of no pack and no policy, the error on the box
    assert first.status == 0, first.stderr
    box = first.resource("box")
    assert first.document["diagnostics"] == [
        {
            "level": "warning",
            "message": "no owner tag anywhere",
            "policy": None,
            "policyPack": None,
            "urn": None,
        },
        {
            "level": "error",
            "message": "the box is empty",
            "policy": None,
            "policyPack": None,
            "urn": box["urn"],
        },
    ]
    assert first.json_text == second.json_text
    # and the text groups each under what it is about, as pulumi preview does
    assert "  pulumi:pulumi:Stack (throwaway-dev):\n    warning: no owner tag anywhere" in (
        first.stdout
    )
    assert "  fixtures:box:Box (box):\n    error: the box is empty" in first.stdout
    assert "not shown" not in first.stdout


# Program and configuration errors


def test_preview_program_error_exits_2_with_its_message(tmp_path):
    preview = run_preview(tmp_path, "--project", str(MISSING_CONFIG_PROGRAM), "--no-policy")

    assert preview.status == 2
    assert (
        "Missing required configuration variable 'missing-config:retentionDays'" in preview.stderr
    )
    assert "Traceback" not in preview.stderr
    assert preview.document == {}


def _write_program(project: Path, main: str) -> Path:
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: throwaway\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    (project / "__main__.py").write_text(main)
    return project


def test_preview_unknown_stack_exits_2_naming_the_file_and_the_stacks(tmp_path):
    # GIVEN a typo in the stack name of this repository, whose stacks set aws:region
    preview = run_preview(tmp_path, "--stack", "prd")

    assert preview.status == 2
    assert "no stack named 'prd' found: 'Pulumi.prd.yaml' does not exist" in preview.stderr
    assert "(Pulumi.dev.yaml, Pulumi.prod.yaml)" in preview.stderr
    assert "did you mean --stack prod?" in preview.stderr
    # THEN it is the stack that is blamed, not a key the missing file would have set
    assert "aws:region" not in preview.stderr
    assert "Traceback" not in preview.stderr
    assert preview.stdout == "" and preview.document == {}


def test_preview_sdk_type_error_exits_2_with_its_message(tmp_path):
    # GIVEN a program that passes a dict where pulumi-aws declares a string, as programs ported
    # from TypeScript do with IAM documents; the SDK raises an error whose cause is itself
    project = _write_program(
        tmp_path / "project",
        "import pulumi_aws as aws\n"
        'aws.iam.Policy("p", policy={"Version": "2012-10-17", "Statement": []})\n',
    )

    preview = run_preview(tmp_path, "--project", str(project), "--no-policy")

    assert preview.status == 2
    assert "expected a value of type `<class 'str'>`" in preview.stderr
    assert "property `policy`" in preview.stderr
    assert "Traceback" not in preview.stderr


def test_preview_program_error_location_is_a_program_file(tmp_path):
    project = _write_program(tmp_path / "project", "def broken(:\n")

    preview = run_preview(tmp_path, "--project", str(project), "--no-policy")

    assert preview.status == 2
    assert "SyntaxError" in preview.stderr
    assert "<frozen" not in preview.stderr


@pytest.mark.parametrize("option", ["--json", "--graph"])
def test_preview_output_file_in_missing_directory_exits_2_naming_it(tmp_path, option):
    target = tmp_path / "missing" / "out.txt"

    completed = subprocess.run(
        [sys.executable, "-m", "tools.preview", "--project", str(BUCKET_PROGRAM), "--no-policy"]
        + [option, str(target)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 2
    assert f"{option} '{target}' cannot be written" in completed.stderr
    assert "Traceback" not in completed.stderr
    # Checked before the program runs: nothing was previewed.
    assert completed.stdout == ""


def test_preview_output_file_that_is_a_directory_exits_2(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "tools.preview", "--project", str(BUCKET_PROGRAM), "--no-policy"]
        + ["--graph", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 2
    assert f"--graph '{tmp_path}' cannot be written" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_run_program_stuck_program_is_a_program_error(tmp_path, monkeypatch):
    project = _write_program(tmp_path / "project", "import threading\n\nthreading.Event().wait()\n")
    monkeypatch.setattr(engine, "PROGRAM_TIMEOUT_SECONDS", 3.0)

    with pytest.raises(engine.ProgramError, match="did not finish within 3 seconds"):
        engine.run_program(load_stack(project, "dev"), new_stack=False, answers=Answers())


def test_preview_stack_reference_without_answer_exits_2_naming_it(tmp_path):
    preview = run_preview(tmp_path, "--project", str(COMPONENT_PROGRAM), "--no-policy")

    assert preview.status == 2
    assert "stack reference 'acme/network/dev'" in preview.stderr
    assert "--invokes" in preview.stderr
    assert "Traceback" not in preview.stderr


def test_preview_unknown_stack_file_value_type_exits_2(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        (BUCKET_PROGRAM / "Pulumi.yaml").read_text(encoding="utf-8")
    )
    (project / "__main__.py").write_text("")
    (project / "Pulumi.dev.yaml").write_text("config:\n  versioned: maybe\n")

    preview = run_preview(tmp_path, "--project", str(project), "--no-policy")

    assert preview.status == 2
    assert "'bucket-app:versioned' is declared as boolean in 'Pulumi.yaml'" in preview.stderr
    assert "got 'maybe' (a string); write true or false." in preview.stderr
    assert str(project) not in preview.stderr
    # The program itself has nothing more to say with the declared default in its place.
    assert "also stopped" not in preview.stderr


def test_preview_type_problems_and_the_programs_config_problems_come_together(tmp_path):
    # GIVEN this repository's program with a mistyped boolean key and a mistyped tier field
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py", "stack_config.py"):
        (project / name).write_text((REPO_ROOT / name).read_text(encoding="utf-8"))
    shutil.copytree(REPO_ROOT / "components", project / "components")
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    stack["config"]["lambda-private-db:dbMultiAz"] = "nope"
    stack["config"]["lambda-private-db:azCount"] = "three"
    stack["config"]["lambda-private-db:tiers"][0]["reservedConcurrency"] = "ten"
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack), encoding="utf-8")

    preview = run_preview(tmp_path, "--project", str(project), "--no-policy")

    # THEN one run reports all three, each with its fix
    assert preview.status == 2
    assert preview.stderr.splitlines()[1:] == [
        "config 'lambda-private-db:dbMultiAz' is declared as boolean in 'Pulumi.yaml', got "
        "'nope' (a string); write true or false.",
        "The program, run with the declared defaults in place of those values, also stopped:",
        "'lambda-private-db:tiers[0].reservedConcurrency' must be a whole number, got 'ten'; "
        "write it like 5.",
    ]
    assert preview.stderr.startswith(
        "error: config 'lambda-private-db:azCount' is declared as integer in 'Pulumi.yaml', "
        "got 'three' (a string); write a whole number like 2.\n"
    )
    assert "Traceback" not in preview.stderr
    assert preview.document == {}


# This repository's dev stack, with its own policy pack


@pytest.fixture(scope="module")
def dev_existing(tmp_path_factory) -> Preview:
    return run_preview(tmp_path_factory.mktemp("dev-existing"), "--stack", "dev")


@pytest.fixture(scope="module")
def dev_new(tmp_path_factory) -> Preview:
    return run_preview(tmp_path_factory.mktemp("dev-new"), "--stack", "dev", "--new-stack")


def _unknowns_without_dependency(preview: Preview) -> list[str]:
    """Unknown inputs that no other resource feeds: a first preview has none of those."""
    orphans = []
    for resource in preview.document["resources"]:
        for key, value in resource["inputs"].items():
            fed = resource["propertyDependencies"].get(key)
            if _unknown_paths(value, key) and not fed:
                orphans.append(f"{resource['name']}.{key}")
    return orphans


def test_preview_dev_stack_passes_its_policy_pack(dev_existing):
    summary = dev_existing.document["summary"]

    assert dev_existing.status == 0, dev_existing.stderr
    assert summary["mandatory"] == 0
    assert summary["policyPacks"] == ["lambda-private-db-guardrails@0.1.0"]
    assert summary["create"] == len(
        [r for r in dev_existing.document["resources"] if not r["type"].startswith("pulumi:prov")]
    )
    assert dev_existing.unknown_inputs() == set()


def test_preview_dev_stack_json_has_the_single_nat_warning_on_the_network(dev_existing):
    network = dev_existing.resource("network")
    from_program = [d for d in dev_existing.document["diagnostics"] if d["policyPack"] is None]

    assert [(d["level"], d["policy"], d["urn"]) for d in from_program] == [
        ("warning", None, network["urn"])
    ]
    assert "one NAT gateway in us-east-1a" in from_program[0]["message"]
    assert dev_existing.document["summary"]["mandatory"] == 0


def test_preview_dev_stack_new_stack_unknowns_flow_from_resources(dev_new, dev_existing):
    proxy = dev_new.resource("database-proxy", "aws:rds/proxy:Proxy")
    existing_proxy = dev_existing.resource("database-proxy", "aws:rds/proxy:Proxy")

    assert dev_new.status == 0, dev_new.stderr
    assert _unknowns_without_dependency(dev_new) == []
    assert proxy["inputs"]["roleArn"] == UNKNOWN
    assert re.fullmatch(r"arn:aws:iam::123456789012:role/.+", existing_proxy["inputs"]["roleArn"])
    # What the program wrote itself is known in both modes.
    assert proxy["inputs"]["requireTls"] is True
    assert proxy["inputs"]["engineFamily"] == existing_proxy["inputs"]["engineFamily"]
    assert dev_new.resource("network-vpc")["inputs"]["cidrBlock"] == "10.20.0.0/16"


def test_preview_fixture_new_stack_unknowns_flow_from_resources(bucket_new, component_new):
    assert _unknowns_without_dependency(bucket_new) == []
    assert _unknowns_without_dependency(component_new) == []


def test_preview_computed_values_take_the_region_of_the_resources_provider(tmp_path):
    # GIVEN a stack in eu-west-1 with an explicit provider for us-west-2 and a resource that
    # names its own region
    preview = run_preview(tmp_path, "--project", str(REGION_PROGRAM), "--stack", "dev")

    assert preview.status == 0, preview.stdout + preview.stderr
    outputs = preview.document["outputs"]
    # THEN computed ARNs, URLs and invoke answers follow the provider, the resource's own
    # region wins over the provider's, and the default provider keeps the stack's region
    assert outputs["homeKeyArn"].startswith("arn:aws:kms:eu-west-1:")
    assert outputs["westKeyArn"].startswith("arn:aws:kms:us-west-2:")
    assert outputs["westQueueArn"].startswith("arn:aws:sqs:us-west-2:")
    assert outputs["westQueueUrl"].startswith("https://sqs.us-west-2.amazonaws.com/")
    assert outputs["westRegion"] == "us-west-2"
    assert outputs["tokyoKeyArn"].startswith("arn:aws:kms:ap-northeast-1:")
    assert preview.resource("west-queue")["inputs"]["kmsMasterKeyId"] == outputs["westKeyArn"]
