"""Runs policy packs over a program's resources as `pulumi preview --policy-pack` does."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.analyzer import Diagnostic, PolicyConfigError, PolicyPackProcess
from tools.preview.engine import ProgramRun
from tools.preview.project import StackConfig


@dataclass(frozen=True)
class PackResult:
    """One pack's name and version, and the diagnostics it reported."""

    name: str
    version: str
    diagnostics: tuple[Diagnostic, ...]


def enforce_packs(
    stack: StackConfig,
    run: ProgramRun,
    pack_dirs: Sequence[Path],
    user_config: Mapping[str, Any],
) -> list[PackResult]:
    """Start each pack, configure it, Analyze each custom resource, AnalyzeStack, stop them.

    Raises tools.analyzer.PolicyConfigError (naming the policy and key) before any resource is
    analyzed when the config names no policy of any pack or does not fit a pack's schemas.
    """
    with started_packs(stack, pack_dirs, user_config) as packs:
        return analyze_with(packs, run)


@contextlib.contextmanager
def started_packs(
    stack: StackConfig, pack_dirs: Sequence[Path], user_config: Mapping[str, Any]
) -> Iterator[list[PolicyPackProcess]]:
    """The packs started and configured as the CLI does it, stopped when the block ends.

    Nothing here needs the program's resources, so a caller may start the packs while the
    program runs. Raises tools.analyzer.PolicyConfigError (naming the policy and key) when the
    config names no policy of any pack or does not fit a pack's schemas.
    """
    with contextlib.ExitStack() as running:
        packs = [
            running.enter_context(
                PolicyPackProcess(
                    pack_dir,
                    project=stack.project,
                    stack=stack.stack,
                    dry_run=True,
                    config=_pack_config_env(stack),
                    python=pack_python(pack_dir),
                )
            )
            for pack_dir in pack_dirs
        ]
        known = {policy.name for pack in packs for policy in pack.info.policies} | {"all"}
        unknown = sorted(set(user_config) - known)
        if unknown:
            raise PolicyConfigError(
                [
                    (
                        name,
                        "",
                        "is not a policy of any pack given with --policy-pack; check the "
                        "spelling against the pack's policy names",
                    )
                    for name in unknown
                ]
            )
        for pack in packs:
            pack.configure(_config_for(pack.info.policies, user_config))
        yield packs


def analyze_with(packs: Sequence[PolicyPackProcess], run: ProgramRun) -> list[PackResult]:
    """Analyze each created custom resource, then AnalyzeStack, on every started pack."""
    analyzed = [resource.analyzed() for resource in run.resources]
    results = []
    for pack in packs:
        diagnostics: list[Diagnostic] = []
        # The engine analyzes each custom resource it registers; a read (a `.get()` or a
        # stack reference) names a resource that exists already, and is seen only by
        # stack policies.
        for recorded, resource in zip(run.resources, analyzed, strict=True):
            if recorded.custom and recorded.operation == "create":
                diagnostics.extend(pack.analyze(resource))
        diagnostics.extend(pack.analyze_stack(analyzed))
        results.append(PackResult(pack.info.name, pack.info.version, tuple(diagnostics)))
    return results


def pack_python(pack_dir: Path) -> str:
    """The pack's virtualenv interpreter when PulumiPolicy.yaml names one that exists, else ours."""
    try:
        document = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return sys.executable
    runtime = document.get("runtime") if isinstance(document, dict) else None
    options = runtime.get("options") if isinstance(runtime, dict) else None
    virtualenv = options.get("virtualenv") if isinstance(options, dict) else None
    if isinstance(virtualenv, str):
        candidate = pack_dir / virtualenv / "bin" / "python"
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def _config_for(policies: Sequence[Any], user_config: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a config file that concern this pack.

    The CLI reads one --policy-pack-config file per pack; with several packs here the same file
    serves them all, so each gets the entries naming its own policies (and "all").
    """
    names = {policy.name for policy in policies} | {"all"}
    return {name: entry for name, entry in user_config.items() if name in names}


def _pack_config_env(stack: StackConfig) -> dict[str, str]:
    """The stack's config as the CLI puts it in PULUMI_CONFIG for a pack, secrets left out."""
    return {key: value for key, value in stack.config.items() if key not in stack.secret_keys}


def diagnostics_json(packs: Sequence[PackResult]) -> list[dict[str, str]]:
    """Diagnostics in the --json schema, in a stable order."""
    rows = [
        {
            "policyPack": d.policy_pack,
            "policy": d.policy,
            "level": d.level,
            "urn": d.urn,
            "message": d.message,
        }
        for pack in packs
        for d in pack.diagnostics
    ]
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
