"""One pack process per test session: starting it costs more than all the calls of a test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.policies.factory import PROJECT, STACK
from tools.analyzer import AnalyzedResource, Diagnostic, PolicyPackProcess

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"


class PackUnderTest:
    """The running pack plus helpers that analyze a whole stack as a preview would."""

    def __init__(self, process: PolicyPackProcess) -> None:
        self.process = process

    def run(self, resources: Mapping[str, AnalyzedResource]) -> list[Diagnostic]:
        """Analyze for each resource, then AnalyzeStack, as the engine does during a preview."""
        diagnostics: list[Diagnostic] = []
        for resource in resources.values():
            diagnostics.extend(self.process.analyze(resource))
        diagnostics.extend(self.process.analyze_stack(resources.values()))
        return diagnostics

    @contextlib.contextmanager
    def configured(self, user_config: Mapping[str, Any]) -> Iterator[dict]:
        """Applies a user config for the block, then restores the defaults."""
        effective = self.process.configure(user_config)
        try:
            yield effective
        finally:
            self.process.configure({})


@pytest.fixture(scope="session")
def pack() -> Iterator[PackUnderTest]:
    with PolicyPackProcess(PACK_DIR, project=PROJECT, stack=STACK, dry_run=True) as process:
        process.configure({})
        yield PackUnderTest(process)


def of_policy(diagnostics: list[Diagnostic], policy: str) -> list[Diagnostic]:
    return [diagnostic for diagnostic in diagnostics if diagnostic.policy == policy]


def mandatory(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [diagnostic for diagnostic in diagnostics if diagnostic.level == "mandatory"]


def advisory(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [diagnostic for diagnostic in diagnostics if diagnostic.level == "advisory"]
