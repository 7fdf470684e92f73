"""Runs a stack's program in its own process and returns the resources it registered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.analyzer import UNKNOWN, AnalyzedResource, Secret
from tools.preview.answers import Answers
from tools.preview.computed import DEFAULT_REGION, SECRET_SIG, SECRET_SIG_KEY, UNKNOWN_WIRE
from tools.preview.project import StackConfig

# The directory that holds the `tools` package, so the program's process can import the host.
_TOOLS_ROOT = Path(__file__).resolve().parents[2]

# A program that runs longer than this is stuck (an await that never resolves, say).
PROGRAM_TIMEOUT_SECONDS = 600.0


class ProgramError(Exception):
    """The program failed; the message is the program's own (a RunError's text, say)."""


@dataclass(frozen=True)
class RecordedResource:
    """One registration as the engine saw it; inputs in wire form (see decode_wire)."""

    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    custom: bool
    operation: str
    id: str | None
    inputs: Mapping[str, Any]
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    default_provider: bool = False

    def analyzed(self) -> AnalyzedResource:
        """The resource as the driver sends it to a pack: unknowns and secrets decoded."""
        return AnalyzedResource(
            urn=self.urn,
            type=self.type,
            name=self.name,
            properties=decode_wire(dict(self.inputs)),
            parent=self.parent,
            dependencies=self.dependencies,
            property_dependencies=self.property_dependencies,
            provider=self.provider,
            custom=self.custom,
        )


@dataclass(frozen=True)
class ProgramRun:
    """What one run of a program registered, in program order (parents before children)."""

    resources: tuple[RecordedResource, ...]
    outputs: Mapping[str, Any]
    logs: tuple[Mapping[str, str], ...] = ()
    program_output: str = ""
    stack_urn: str = ""
    order: Mapping[str, int] = field(default_factory=dict)


def run_program(stack: StackConfig, *, new_stack: bool, answers: Answers) -> ProgramRun:
    """Run the stack's program under the recording monitor in a fresh Python process."""
    request = {
        "project": stack.project,
        "stack": stack.stack,
        "mainPath": str(stack.main_path.resolve()),
        "config": dict(stack.config),
        "secretKeys": sorted(stack.secret_keys),
        "newStack": new_stack,
        "region": stack.config.get("aws:region", DEFAULT_REGION),
        "invokes": {token: dict(result) for token, result in answers.invokes.items()},
        "stackReferences": {name: dict(ref) for name, ref in answers.stack_references.items()},
    }
    env = dict(os.environ)
    env.update(
        {
            "PULUMI_PROJECT": stack.project,
            "PULUMI_STACK": stack.stack,
            "PULUMI_DRY_RUN": "true",
            "PULUMI_CONFIG": json.dumps(dict(stack.config)),
            "PULUMI_CONFIG_SECRET_KEYS": json.dumps(sorted(stack.secret_keys)),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_TOOLS_ROOT), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
        }
    )
    with tempfile.TemporaryDirectory(prefix="preview-") as work_dir:
        request_path = Path(work_dir) / "request.json"
        result_path = Path(work_dir) / "result.json"
        # The request holds config values (placeholders stand in for secure ones); only this
        # process's private temporary directory sees it.
        request_path.write_text(json.dumps(request), encoding="utf-8")
        try:
            completed = subprocess.run(
                [
                    program_python(stack),
                    "-m",
                    "tools.preview.host",
                    str(request_path),
                    str(result_path),
                ],
                cwd=stack.main_path.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=PROGRAM_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ProgramError(
                f"the program of stack '{stack.stack}' did not finish within "
                f"{PROGRAM_TIMEOUT_SECONDS:g} seconds and was stopped; look for an output or "
                "an await that never resolves"
            ) from exc
        output = completed.stdout + completed.stderr
        if not result_path.is_file():
            raise ProgramError(
                f"the program's process for stack '{stack.stack}' ended (status "
                f"{completed.returncode}) before reporting; its output was:\n{output.strip()}"
            )
        result = json.loads(result_path.read_text(encoding="utf-8"))

    if result["error"] is not None:
        message = result["error"]["message"]
        if output.strip():
            message = f"{message}\n\nprogram output:\n{output.strip()}"
        raise ProgramError(message)
    return _program_run(result, output, stack)


def program_python(stack: StackConfig) -> str:
    """The project's virtualenv interpreter when Pulumi.yaml names one that exists, else ours."""
    if stack.virtualenv:
        venv = Path(stack.virtualenv)
        venv = venv if venv.is_absolute() else stack.project_dir / venv
        candidate = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def decode_wire(value: Any) -> Any:
    """Wire form -> driver values: the unknown sentinel to UNKNOWN, secret markers to Secret."""
    if value == UNKNOWN_WIRE:
        return UNKNOWN
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return Secret(decode_wire(value.get("value")))
        return {key: decode_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_wire(item) for item in value]
    return value


def _program_run(result: Mapping[str, Any], output: str, stack: StackConfig) -> ProgramRun:
    stack_urn = (
        f"urn:pulumi:{stack.stack}::{stack.project}::pulumi:pulumi:Stack::"
        f"{stack.project}-{stack.stack}"
    )
    by_urn = {record["urn"]: record for record in result["resources"]}
    # Program order: the order in which the program constructed each resource, keyed by type,
    # name and parent; the engine's registration order depends on thread timing.
    constructed: dict[tuple[str, str, str, str], int] = {
        (type_, name, parent_type, parent_name): index
        for type_, name, parent_type, parent_name, index in result["order"]
    }
    order: dict[str, int] = {}
    for urn, record in by_urn.items():
        parent = by_urn.get(record["parent"] or "")
        parent_key = (
            ("", "")
            if parent is None or parent["urn"] == stack_urn
            else (parent["type"], parent["name"])
        )
        order[urn] = constructed.get((record["type"], record["name"], *parent_key), -1)

    resources = tuple(
        RecordedResource(
            urn=record["urn"],
            type=record["type"],
            name=record["name"],
            parent=record["parent"],
            provider=record["provider"],
            custom=record["custom"],
            operation=record["operation"],
            id=record["id"],
            inputs=record["inputs"],
            dependencies=tuple(record["dependencies"]),
            property_dependencies={k: tuple(v) for k, v in record["propertyDependencies"].items()},
            default_provider=bool(record.get("default")),
        )
        for record in sorted(by_urn.values(), key=lambda r: (order[r["urn"]], r["urn"]))
    )
    return ProgramRun(
        resources=resources,
        outputs=result["outputs"],
        logs=tuple(result["logs"]),
        program_output=output,
        stack_urn=stack_urn,
        order=order,
    )
