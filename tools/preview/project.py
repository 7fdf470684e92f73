"""Reads a Pulumi project and one of its stacks the way the CLI does, into the program's config."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# What a `secure:` value becomes: the preview has no secrets provider to decrypt it with, so the
# program gets this text instead, marked secret, and the output lists the keys it replaced.
SECRET_PLACEHOLDER = "preview-placeholder-secret"

_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")

# Pulumi.yaml config types and the Python types a value of each may have.
_DECLARED_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


class ProjectError(Exception):
    """The project or stack files are missing or invalid; the message names the file and key."""


class DeclaredTypeError(ProjectError):
    """Stack values whose type is not the one Pulumi.yaml declares, and no other problem.

    Carries the config with each such key back at its declared default (kept as written when
    it has none), so that the program's own checks can still run and report their problems
    with these, all at once. load_stack sets `stack` to that config's StackConfig.
    """

    def __init__(
        self,
        problems: list[str],
        config: Mapping[str, str],
        secret_keys: set[str],
        placeholders: set[str],
    ) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)
        self.config = dict(config)
        self.secret_keys = frozenset(secret_keys)
        self.placeholders = frozenset(placeholders)
        self.stack: StackConfig | None = None


@dataclass(frozen=True)
class StackConfig:
    """A project's program and the config one of its stacks passes to it."""

    project_dir: Path
    project: str
    stack: str
    runtime: str
    main_path: Path
    # Full keys ("namespace:key") to values as the CLI passes them: strings, with structured
    # values JSON-encoded.
    config: Mapping[str, str]
    secret_keys: frozenset[str] = field(default_factory=frozenset)
    # Keys whose `secure:` value was replaced by SECRET_PLACEHOLDER.
    placeholder_keys: frozenset[str] = field(default_factory=frozenset)
    virtualenv: str | None = None


def load_stack(project_dir: Path, stack: str) -> StackConfig:
    """Read Pulumi.yaml and Pulumi.<stack>.yaml from project_dir, stack values over defaults."""
    project_file = project_dir / "Pulumi.yaml"
    if not project_file.is_file():
        raise ProjectError(
            f"'{project_file}' not found; pass --project with a directory holding a Pulumi.yaml."
        )
    project_doc = _read_yaml(project_file)

    name = project_doc.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"'{project_file}': 'name' must be a non-empty string, got {name!r}.")

    runtime, virtualenv = _runtime(project_doc.get("runtime"), project_file)
    main_path = _main_path(project_dir, project_doc.get("main"), project_file)

    declared = project_doc.get("config") or {}
    if not isinstance(declared, dict):
        raise ProjectError(f"'{project_file}': 'config' must be a mapping, got {declared!r}.")

    if not _STACK_NAME.fullmatch(stack):
        raise ProjectError(
            f"--stack {stack!r} is not a stack name: use letters, digits, '-', '_' or '.', "
            "e.g. --stack dev."
        )
    # Offline, the stack files are the only record of which stacks exist, so a stack without
    # one is taken for a typo (as the CLI's "no stack named ... found"), not for a fresh stack
    # with only the project's defaults. A fresh stack gets a file with `pulumi stack init`.
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise ProjectError(missing_stack_message(project_dir, stack))
    stack_values = _read_yaml(stack_file, empty_ok=True).get("config") or {}
    if not isinstance(stack_values, dict):
        raise ProjectError(f"'{stack_file}': 'config' must be a mapping, got {stack_values!r}.")

    def stack_config(config: Mapping[str, str], secrets: set[str], placeholders: set[str]):
        return StackConfig(
            project_dir=project_dir,
            project=name,
            stack=stack,
            runtime=runtime,
            main_path=main_path,
            config=config,
            secret_keys=frozenset(secrets),
            placeholder_keys=frozenset(placeholders),
            virtualenv=virtualenv,
        )

    # Messages name the project file as the user knows it, beside the stack file.
    shown_file = project_file.relative_to(project_dir)
    try:
        config, secret_keys, placeholders = merge_config(name, declared, stack_values, shown_file)
    except DeclaredTypeError as exc:
        exc.stack = stack_config(exc.config, set(exc.secret_keys), set(exc.placeholders))
        raise
    return stack_config(config, secret_keys, placeholders)


def merge_config(
    project: str,
    declared: Mapping[str, Any],
    stack_values: Mapping[str, Any],
    project_file: Path | str = "Pulumi.yaml",
) -> tuple[dict[str, str], set[str], set[str]]:
    """Merge a stack's values over the project's declared defaults.

    Returns (config as the CLI passes it, secret keys, keys given a placeholder). Every problem
    is collected first and raised once, naming each key: a DeclaredTypeError when values of the
    wrong type are the only problems, a ProjectError otherwise.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    declared_types: dict[str, str] = {}
    required: set[str] = set()
    secret_keys: set[str] = set()
    placeholders: set[str] = set()

    for key, spec in declared.items():
        full_key = full_config_key(project, key)
        if isinstance(spec, dict) and (
            {"type", "default", "value", "description", "secret"} & spec.keys()
        ):
            declared_type = spec.get("type")
            if declared_type is not None and declared_type not in _DECLARED_TYPES:
                problems.append(
                    f"'{project_file}': config '{key}' has type {declared_type!r}; use one of "
                    f"{', '.join(_DECLARED_TYPES)}."
                )
            elif declared_type is not None:
                declared_types[full_key] = declared_type
            if spec.get("secret") is True:
                secret_keys.add(full_key)
            if "default" in spec:
                values[full_key] = defaults[full_key] = spec["default"]
            elif "value" in spec:
                values[full_key] = defaults[full_key] = spec["value"]
            else:
                required.add(full_key)
        else:
            values[full_key] = spec

    for key, value in stack_values.items():
        full_key = full_config_key(project, key)
        plain, had_secure = _replace_secure(value)
        if had_secure:
            secret_keys.add(full_key)
            placeholders.add(full_key)
        values[full_key] = plain

    for full_key in sorted(required - values.keys()):
        problems.append(
            f"config '{full_key}' is declared in '{project_file}' without a default and the "
            f"stack does not set it; run `pulumi config set {full_key} <value>` or add it to "
            "the stack file."
        )
    type_problems: list[str] = []
    for full_key, declared_type in sorted(declared_types.items()):
        if full_key in values and full_key not in placeholders:
            value = values[full_key]
            allowed = _DECLARED_TYPES[declared_type]
            # bool is an int in Python; an 'integer' key must still reject true/false.
            if not isinstance(value, allowed) or (
                declared_type == "integer" and isinstance(value, bool)
            ):
                type_problems.append(
                    f"config '{full_key}' is declared as {declared_type} in '{project_file}', "
                    f"got {_shown(full_key, value, secret_keys)} ({_kind(value)}); "
                    f"{_type_fix(declared_type, defaults.get(full_key))}."
                )
                if full_key in defaults:
                    values[full_key] = defaults[full_key]
    if problems:
        raise ProjectError("\n".join(problems + type_problems))

    as_passed = {key: _as_cli_string(value) for key, value in sorted(values.items())}
    if type_problems:
        raise DeclaredTypeError(type_problems, as_passed, secret_keys, placeholders)
    return as_passed, secret_keys, placeholders


def existing_stacks(project_dir: Path) -> list[str]:
    """The stacks that have a Pulumi.<stack>.yaml in project_dir, sorted."""
    return sorted(
        path.name[len("Pulumi.") : -len(".yaml")]
        for path in project_dir.glob("Pulumi.*.yaml")
        if path.is_file() and _STACK_NAME.fullmatch(path.name[len("Pulumi.") : -len(".yaml")])
    )


def missing_stack_message(project_dir: Path, stack: str) -> str:
    """Why --stack names no stack: the file it needs, and the stacks there are instead."""
    stacks = existing_stacks(project_dir)
    message = (
        f"no stack named '{stack}' found: 'Pulumi.{stack}.yaml' does not exist in '{project_dir}'"
    )
    if not stacks:
        return (
            f"{message}, and the project has no stack file yet; create one with `pulumi stack "
            f"init {stack}` or write Pulumi.{stack}.yaml (`config: {{}}` is enough)."
        )
    files = ", ".join(f"Pulumi.{name}.yaml" for name in stacks)
    close = difflib.get_close_matches(stack, stacks, n=1)
    fix = (
        f"did you mean --stack {close[0]}? For a new stack, create Pulumi.{stack}.yaml."
        if close
        else f"pass one of them, or create Pulumi.{stack}.yaml for a new stack."
    )
    return f"{message}; the stacks here are {', '.join(stacks)} ({files}): {fix}"


def full_config_key(project: str, key: str) -> str:
    """Give a key without a namespace the project's name as namespace, as the CLI does."""
    return key if ":" in key else f"{project}:{key}"


def _replace_secure(value: Any) -> tuple[Any, bool]:
    """Replace every {secure: ...} in value by the placeholder; say whether there was one."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        found = False
        replaced = {}
        for key, item in value.items():
            replaced[key], item_found = _replace_secure(item)
            found = found or item_found
        return replaced, found
    if isinstance(value, list):
        pairs = [_replace_secure(item) for item in value]
        return [item for item, _ in pairs], any(found for _, found in pairs)
    return value, False


def _as_cli_string(value: Any) -> str:
    """Render a config value as the CLI hands it to a program: strings as is, the rest JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def _shown(full_key: str, value: Any, secret_keys: set[str]) -> str:
    if full_key in secret_keys:
        return "[secret]"
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _kind(value: Any) -> str:
    """What YAML made of a value, in YAML's words."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else type(value).__name__


def _type_fix(declared_type: str, default: Any) -> str:
    """How to write a value of a declared type in the stack file."""
    if declared_type == "boolean":
        return "write true or false"
    if declared_type == "integer":
        example = default if isinstance(default, int) and not isinstance(default, bool) else 10
        return f"write a whole number like {example}"
    if declared_type == "string":
        return "write text, in quotes where YAML would read a number or boolean (e.g. '16')"
    if declared_type == "array":
        return "write a YAML list, e.g. [a, b]"
    return "write a YAML mapping, e.g. {key: value}"


def _runtime(runtime: Any, project_file: Path) -> tuple[str, str | None]:
    if isinstance(runtime, dict):
        name = runtime.get("name")
        options = runtime.get("options") or {}
        virtualenv = options.get("virtualenv") if isinstance(options, dict) else None
    else:
        name, virtualenv = runtime, None
    if name != "python":
        raise ProjectError(
            f"'{project_file}': runtime is {name!r}; the offline preview runs Python programs "
            "only (runtime: python)."
        )
    return name, virtualenv


def _main_path(project_dir: Path, main: Any, project_file: Path) -> Path:
    base = project_dir / main if isinstance(main, str) and main else project_dir
    path = base / "__main__.py" if base.is_dir() else base
    if not path.is_file():
        raise ProjectError(
            f"'{project_file}': the program's entry point '{path}' does not exist; set 'main' "
            "to the program's file or directory."
        )
    return path


def _read_yaml(path: Path, *, empty_ok: bool = False) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProjectError(f"'{path}' is not valid YAML: {exc}") from exc
    # An empty stack file is a stack with no config of its own, as the CLI reads it.
    if document is None and empty_ok:
        return {}
    if not isinstance(document, dict):
        raise ProjectError(f"'{path}' must hold a mapping at the top level.")
    return document
