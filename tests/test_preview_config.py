"""Project and stack config as the offline preview passes it to a program (pure helpers)."""

from __future__ import annotations

import pytest

from tools.preview.project import (
    SECRET_PLACEHOLDER,
    DeclaredTypeError,
    ProjectError,
    full_config_key,
    load_stack,
    merge_config,
)


def test_full_config_key_adds_project_namespace():
    assert full_config_key("app", "retentionDays") == "app:retentionDays"
    assert full_config_key("app", "aws:region") == "aws:region"


def test_merge_config_stack_values_override_declared_defaults():
    declared = {"logLevel": {"type": "string", "default": "info"}, "replicas": 2}
    stack_values = {"app:logLevel": "debug", "aws:region": "eu-west-1"}

    config, secret_keys, placeholders = merge_config("app", declared, stack_values)

    assert config == {"app:logLevel": "debug", "app:replicas": "2", "aws:region": "eu-west-1"}
    assert secret_keys == set()
    assert placeholders == set()


def test_merge_config_structured_values_are_json_strings():
    config, _, _ = merge_config("app", {}, {"network": {"zones": 3, "cidr": "10.0.0.0/16"}})

    assert config == {"app:network": '{"zones":3,"cidr":"10.0.0.0/16"}'}


def test_merge_config_secure_values_become_secret_placeholders():
    stack_values = {"dbPassword": {"secure": "v1:abc"}, "nested": {"token": {"secure": "v1:x"}}}

    config, secret_keys, placeholders = merge_config("app", {}, stack_values)

    assert config["app:dbPassword"] == SECRET_PLACEHOLDER
    assert config["app:nested"] == f'{{"token":"{SECRET_PLACEHOLDER}"}}'
    assert secret_keys == placeholders == {"app:dbPassword", "app:nested"}


def test_merge_config_declared_secret_is_a_secret_key():
    _, secret_keys, placeholders = merge_config(
        "app", {"apiKey": {"type": "string", "secret": True, "default": "x"}}, {}
    )

    assert secret_keys == {"app:apiKey"}
    assert placeholders == set()


def test_merge_config_collects_every_problem_naming_keys():
    declared = {
        "replicas": {"type": "integer"},
        "enabled": {"type": "boolean", "default": True},
        "size": {"type": "bytes", "default": 1},
    }

    with pytest.raises(ProjectError) as raised:
        merge_config("app", declared, {"enabled": "yes"})

    message = str(raised.value)
    assert "config 'app:replicas' is declared" in message
    assert "pulumi config set app:replicas" in message
    assert "'app:enabled' is declared as boolean" in message
    assert "'yes'" in message
    assert "config 'size' has type 'bytes'" in message


def test_merge_config_reports_every_wrong_type_with_its_fix():
    declared = {
        "replicas": {"type": "integer", "default": 2},
        "enabled": {"type": "boolean", "default": True},
        "zones": {"type": "array", "default": []},
    }
    stack_values = {"replicas": "ten", "enabled": "nope", "zones": "us-east-1a"}

    with pytest.raises(DeclaredTypeError) as raised:
        merge_config("app", declared, stack_values)

    problems = raised.value.problems
    assert problems == (
        "config 'app:enabled' is declared as boolean in 'Pulumi.yaml', got 'nope' (a string); "
        "write true or false.",
        "config 'app:replicas' is declared as integer in 'Pulumi.yaml', got 'ten' (a string); "
        "write a whole number like 2.",
        "config 'app:zones' is declared as array in 'Pulumi.yaml', got 'us-east-1a' (a string); "
        "write a YAML list, e.g. [a, b].",
    )
    # The rest of the config is still there, the mistyped keys back at their defaults.
    assert raised.value.config == {
        "app:enabled": "true",
        "app:replicas": "2",
        "app:zones": "[]",
    }


def test_merge_config_integer_rejects_boolean():
    with pytest.raises(ProjectError, match="'app:replicas' is declared as integer"):
        merge_config("app", {"replicas": {"type": "integer"}}, {"replicas": True})


def test_load_stack_reads_main_and_virtualenv(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "__main__.py").write_text("")
    (tmp_path / "Pulumi.yaml").write_text(
        "name: app\nmain: src\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
    )
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  aws:region: eu-central-1\n")

    stack = load_stack(tmp_path, "prod")

    assert stack.main_path == tmp_path / "src" / "__main__.py"
    assert stack.virtualenv == "venv"
    assert stack.config == {"aws:region": "eu-central-1"}


def test_load_stack_type_problem_names_the_project_file_as_the_user_knows_it(tmp_path):
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.yaml").write_text(
        "name: app\nruntime: python\nconfig:\n  size:\n    type: integer\n    default: 1\n"
    )
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  app:size: true\n")

    with pytest.raises(DeclaredTypeError) as raised:
        load_stack(tmp_path, "dev")

    assert str(raised.value) == (
        "config 'app:size' is declared as integer in 'Pulumi.yaml', got true (a boolean); "
        "write a whole number like 1."
    )
    assert raised.value.stack is not None
    assert raised.value.stack.config == {"app:size": "1"}


def test_load_stack_empty_stack_file_uses_defaults(tmp_path):
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.yaml").write_text("name: app\nruntime: python\nconfig:\n  tier: small\n")
    (tmp_path / "Pulumi.fresh.yaml").write_text("")

    assert load_stack(tmp_path, "fresh").config == {"app:tier": "small"}


def test_load_stack_missing_stack_file_names_it_and_lists_the_stacks(tmp_path):
    # GIVEN a project with dev and prod stacks and a typo'd stack name
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.yaml").write_text("name: app\nruntime: python\n")
    for stack in ("dev", "prod"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config:\n  aws:region: us-east-1\n")

    with pytest.raises(ProjectError) as raised:
        load_stack(tmp_path, "prd")

    message = str(raised.value)
    assert message.startswith("no stack named 'prd' found: 'Pulumi.prd.yaml' does not exist")
    assert "the stacks here are dev, prod (Pulumi.dev.yaml, Pulumi.prod.yaml)" in message
    assert "did you mean --stack prod?" in message


def test_load_stack_missing_stack_file_in_a_project_without_stacks(tmp_path):
    (tmp_path / "__main__.py").write_text("")
    (tmp_path / "Pulumi.yaml").write_text("name: app\nruntime: python\n")

    with pytest.raises(ProjectError, match="the project has no stack file yet") as raised:
        load_stack(tmp_path, "dev")

    assert "pulumi stack init dev" in str(raised.value)


@pytest.mark.parametrize(
    ("project_yaml", "stack", "expected"),
    [
        (None, "dev", "Pulumi.yaml' not found"),
        ("name: app\nruntime: nodejs\n", "dev", "runtime is 'nodejs'"),
        ("name: app\nruntime: python\nmain: missing.py\n", "dev", "missing.py' does not exist"),
        ("runtime: python\n", "dev", "'name' must be a non-empty string"),
        ("name: app\nruntime: python\n", "../dev", "is not a stack name"),
    ],
)
def test_load_stack_rejects_bad_projects(tmp_path, project_yaml, stack, expected):
    (tmp_path / "__main__.py").write_text("")
    if project_yaml is not None:
        (tmp_path / "Pulumi.yaml").write_text(project_yaml)

    with pytest.raises(ProjectError, match=expected.replace(".", r"\.").replace("'", "'")):
        load_stack(tmp_path, stack)
