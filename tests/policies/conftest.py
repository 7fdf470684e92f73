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


def name_of(diagnostic: Diagnostic) -> str:
    """The resource name at the end of a diagnostic's URN ('' for stack-level diagnostics)."""
    return diagnostic.urn.rsplit("::", 1)[-1] if diagnostic.urn else ""


def expect_violation(
    diagnostics: list[Diagnostic],
    policy: str,
    resource_name: str,
    fragment: str,
    *,
    level: str = "mandatory",
    also: frozenset[str] = frozenset(),
) -> Diagnostic:
    """Exactly one `policy` diagnostic names `resource_name` and says `fragment`, at `level`;
    no policy outside {policy} | also reports a mandatory violation."""
    found = [
        d
        for d in diagnostics
        if d.policy == policy and name_of(d) == resource_name and fragment in d.message
    ]
    assert len(found) == 1, f"expected one {policy} diagnostic on {resource_name!r} saying " + (
        f"{fragment!r}; got: {[(d.policy, d.level, name_of(d), d.message) for d in diagnostics]}"
    )
    assert found[0].level == level, found[0]
    stray = {d.policy for d in mandatory(diagnostics)} - {policy} - set(also)
    assert not stray, f"unexpected mandatory violations from {stray}: {diagnostics}"
    return found[0]


def expect_unverified(
    diagnostics: list[Diagnostic], policy: str, fragment: str, *, resource_name: str | None = None
) -> Diagnostic:
    """An advisory 'could not verify' note from `policy`, and no mandatory violation at all."""
    found = [
        d
        for d in advisory(diagnostics)
        if d.policy == policy and "could not verify" in d.message and fragment in d.message
    ]
    if resource_name is not None:
        found = [d for d in found if name_of(d) == resource_name]
    assert len(found) == 1, (
        f"expected one 'could not verify' note from {policy} saying {fragment!r}; got: "
        f"{[(d.policy, d.level, name_of(d), d.message) for d in diagnostics]}"
    )
    assert not mandatory(diagnostics), mandatory(diagnostics)
    return found[0]
