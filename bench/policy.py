"""Policy pack: Analyze calls per second and AnalyzeStack over 5,000 resources, through the
real pack process, side by side with a pack whose policies check nothing."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.preview import POLICY_CONFIG_BY_STACK, REPO_ROOT
from bench.report import Result
from bench.stats import interleaved, median
from tools.analyzer import (
    AnalyzedResource,
    PolicyPackProcess,
    Secret,
    load_policy_config,
)
from tools.preview.engine import decode_wire
from tools.preview.policy import pack_python
from tools.preview.project import load_stack
from tools.preview.report import SECRET_SHOWN

POLICY_PACK_DIR = REPO_ROOT / "policies"
NOOP_PACK_DIR = Path(__file__).resolve().parent / "noop_pack"
# The no-op pack registers this many policies of each kind (see noop_pack/__main__.py).
NOOP_RESOURCE_POLICIES_VARIABLE = "BENCH_NOOP_RESOURCE_POLICIES"
NOOP_STACK_POLICIES_VARIABLE = "BENCH_NOOP_STACK_POLICIES"

SYNTHETIC_STACK_RESOURCES = 5000
# Target from the issue (absolute).
ANALYZE_STACK_TARGET_SECONDS = "< 2"

_PROVIDER_TYPE_PREFIX = "pulumi:providers:"
_STACK_TYPE = "pulumi:pulumi:Stack"
# EC2 and RDS Proxy ids as the preview makes them (prefix, dash, 17 hex digits); each copy of
# the stack gets its own, so copies do not point at each other's subnets and groups.
_RESOURCE_ID = re.compile(
    r"\b(vpc|subnet|sg|igw|nat|eipalloc|rtb|rtbassoc|vpce|acl|fl|sgr|prx|eni)-([0-9a-f]{17})\b"
)


def resources_from_preview_json(path: Path) -> list[tuple[AnalyzedResource, bool]]:
    """The resources a `--json` preview recorded, each with whether Analyze sees it.

    The engine analyzes the custom resources it creates; components, the stack and reads
    reach stack policies only. A secret shows as "[secret]" in the file (its value never
    leaves the preview), so it comes back as a Secret holding that text.
    """
    document = json.loads(path.read_text(encoding="utf-8"))
    loaded = []
    for record in document["resources"]:
        resource = AnalyzedResource(
            urn=record["urn"],
            type=record["type"],
            name=record["name"],
            properties=_secrets_back(decode_wire(record["inputs"])),
            parent=record["parent"],
            dependencies=tuple(record["dependencies"]),
            property_dependencies={k: tuple(v) for k, v in record["propertyDependencies"].items()},
            provider=record["provider"],
            custom=record["custom"],
        )
        loaded.append((resource, bool(record["custom"]) and record["operation"] == "create"))
    return loaded


def synthetic_stack(
    resources: Sequence[AnalyzedResource], total: int = SYNTHETIC_STACK_RESOURCES
) -> list[AnalyzedResource]:
    """`total` resources made of copies of a recorded stack, each copy with its own names.

    The mix is the recorded stack's (for prod: subnets, groups and their rules, functions,
    roles and policies, an instance, a proxy, queues, log groups), repeated; a stack of 5,000
    resources written by hand would have other proportions, such as more functions per VPC.
    The stack resource and the providers appear once, as in any stack. Every other resource is
    copied with a suffix on its name (so on its URN), URNs in parents and dependencies follow,
    and ids in properties get a per-copy value. The last copy is cut to reach `total`; the SDK
    leaves a dependency on a resource outside the request unresolved, as for any resource
    outside the stack.
    """
    shared = [
        r for r in resources if r.type == _STACK_TYPE or r.type.startswith(_PROVIDER_TYPE_PREFIX)
    ]
    shared_urns = {r.urn for r in shared}
    template = [r for r in resources if r.urn not in shared_urns]
    if not template:
        raise ValueError("the recorded stack has no resources besides the stack and providers")
    result = list(shared)
    copies = math.ceil((total - len(shared)) / len(template))
    for copy in range(copies):
        renamed = {r.urn: f"{r.urn}-c{copy:03d}" for r in template}
        for resource in template:
            if len(result) == total:
                return result
            result.append(_copied(resource, copy, renamed))
    return result


def _copied(resource: AnalyzedResource, copy: int, renamed: Mapping[str, str]) -> AnalyzedResource:
    def urn(value: str | None) -> str | None:
        return renamed.get(value, value) if value else value

    return replace(
        resource,
        urn=renamed[resource.urn],
        name=f"{resource.name}-c{copy:03d}",
        properties=_new_ids(resource.properties, copy),
        parent=urn(resource.parent),
        dependencies=tuple(urn(d) for d in resource.dependencies),
        property_dependencies={
            key: tuple(urn(d) for d in urns) for key, urns in resource.property_dependencies.items()
        },
    )


def _new_ids(value: Any, copy: int) -> Any:
    if isinstance(value, str):
        return _RESOURCE_ID.sub(lambda m: f"{m.group(1)}-{_digest(copy, m.group(2))}", value)
    if isinstance(value, Secret):
        return Secret(_new_ids(value.value, copy))
    if isinstance(value, Mapping):
        return {key: _new_ids(item, copy) for key, item in value.items()}
    if isinstance(value, list):
        return [_new_ids(item, copy) for item in value]
    return value


def _digest(copy: int, original: str) -> str:
    return hashlib.sha256(f"{copy}/{original}".encode()).hexdigest()[:17]


def _secrets_back(value: Any) -> Any:
    if value == SECRET_SHOWN:
        return Secret(SECRET_SHOWN)
    if isinstance(value, dict):
        return {key: _secrets_back(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_secrets_back(item) for item in value]
    return value


@contextmanager
def started_packs(stack: str) -> Iterator[dict[str, PolicyPackProcess]]:
    """Our pack (configured as the stack's preview configures it) and two no-op packs.

    "noop" has one policy of each kind: the floor of a call (protocol, encoding, the SDK). The
    SDK deserializes a resource's properties once per policy, so "noop-shaped" has as many
    no-op policies of each kind as our pack: what remains between it and ours is what our
    checks themselves cost.
    """
    stack_config = load_stack(REPO_ROOT, stack)
    config = {k: v for k, v in stack_config.config.items() if k not in stack_config.secret_keys}
    common = {"project": stack_config.project, "stack": stack, "dry_run": True, "config": config}
    user_config_path = POLICY_CONFIG_BY_STACK.get(stack)
    user_config = load_policy_config(user_config_path) if user_config_path else {}

    ours = PolicyPackProcess(POLICY_PACK_DIR, python=pack_python(POLICY_PACK_DIR), **common)
    packs = {"ours": ours}
    try:
        ours.configure(user_config)
        kinds = [policy.policy_type for policy in ours.info.policies]
        shapes = {
            "noop": (1, 1),
            "noop-shaped": (kinds.count("resource"), kinds.count("stack")),
        }
        for name, (resource_count, stack_count) in shapes.items():
            packs[name] = _noop_pack(resource_count, stack_count, common)
            packs[name].configure({})
        yield packs
    finally:
        for pack in packs.values():
            pack.close()


def _noop_pack(resource_count: int, stack_count: int, common: dict[str, Any]) -> PolicyPackProcess:
    saved = {name: os.environ.get(name) for name in _NOOP_VARIABLES}
    os.environ[NOOP_RESOURCE_POLICIES_VARIABLE] = str(resource_count)
    os.environ[NOOP_STACK_POLICIES_VARIABLE] = str(stack_count)
    try:
        return PolicyPackProcess(NOOP_PACK_DIR, **common)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_NOOP_VARIABLES = (NOOP_RESOURCE_POLICIES_VARIABLE, NOOP_STACK_POLICIES_VARIABLE)


def analyze_rate(
    packs: Mapping[str, PolicyPackProcess],
    resources: Sequence[AnalyzedResource],
    rounds: int,
    label: str,
) -> list[Result]:
    """Analyze every resource `rounds` times on each pack, interleaved resource by resource."""
    call_seconds: dict[str, list[float]] = {name: [] for name in packs}

    def timed(pack: PolicyPackProcess, resource: AnalyzedResource) -> Callable[[], float]:
        def call() -> float:
            started = time.perf_counter()
            pack.analyze(resource)
            return time.perf_counter() - started

        return call

    for _ in range(rounds):
        for resource in resources:
            samples = interleaved(
                1, [(name, timed(pack, resource)) for name, pack in packs.items()]
            )
            for name, values in samples.items():
                call_seconds[name].extend(values)
        # Rotate which pack goes first from one round to the next.
        packs = dict(list(packs.items())[1:] + list(packs.items())[:1])

    total = {name: sum(values) for name, values in call_seconds.items()}
    calls = len(call_seconds["ours"])
    return [
        Result(f"policy.analyze.{label}.calls", calls, "calls"),
        Result(f"policy.analyze.{label}.rate", calls / total["ours"], "calls/s"),
        Result(f"policy.analyze.{label}.rate_noop_pack", calls / total["noop"], "calls/s"),
        Result(
            f"policy.analyze.{label}.time_vs_noop_shaped",
            total["ours"] / total["noop-shaped"],
            "x",
        ),
        Result(f"policy.analyze.{label}.time_vs_noop", total["ours"] / total["noop"], "x"),
    ]


def analyze_stack_time(
    packs: Mapping[str, PolicyPackProcess], resources: Sequence[AnalyzedResource], rounds: int
) -> list[Result]:
    """AnalyzeStack over `resources` on each pack, interleaved `rounds` times."""
    diagnostics: dict[str, int] = {}

    def timed(name: str) -> Callable[[], float]:
        def call() -> float:
            started = time.perf_counter()
            found = packs[name].analyze_stack(resources)
            seconds = time.perf_counter() - started
            diagnostics[name] = len(found)
            return seconds

        return call

    samples = interleaved(rounds, [(name, timed(name)) for name in packs])
    seconds = {name: median(values) for name, values in samples.items()}
    count = len(resources)
    return [
        Result(f"policy.analyze_stack_{count}.resources", count, "resources"),
        Result(
            f"policy.analyze_stack_{count}.time",
            seconds["ours"],
            "s",
            ANALYZE_STACK_TARGET_SECONDS,
        ),
        Result(f"policy.analyze_stack_{count}.time_noop_shaped", seconds["noop-shaped"], "s"),
        Result(f"policy.analyze_stack_{count}.time_noop", seconds["noop"], "s"),
        Result(
            f"policy.analyze_stack_{count}.time_vs_noop_shaped",
            seconds["ours"] / seconds["noop-shaped"],
            "x",
        ),
        Result(f"policy.analyze_stack_{count}.diagnostics", diagnostics["ours"], "diagnostics"),
    ]
