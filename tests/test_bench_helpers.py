"""The benchmarks' own arithmetic and synthetic inputs (the benchmarks themselves run only with
`make bench`): percentiles, the line fit, targets, the scaling stacks and the 5,000-resource
stack."""

from __future__ import annotations

import pytest
import yaml

from bench.policy import synthetic_stack
from bench.preview import TIER_COUNTS, synthetic_stack_config, synthetic_stack_name
from bench.report import target_met
from bench.stats import fit_line, interleaved, percentile
from stack_config import parse_stack_config
from tools.analyzer import AnalyzedResource, Secret
from tools.preview.project import merge_config

PROJECT = "lambda-private-db"
STACK_URN = f"urn:pulumi:prod::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-prod"
PROVIDER_URN = f"urn:pulumi:prod::{PROJECT}::pulumi:providers:aws::default_7_51_1"


def test_percentile_interpolates_between_closest_ranks():
    samples = list(range(1, 101))  # 1..100

    assert percentile(samples, 0.5) == pytest.approx(50.5)
    assert percentile(samples, 0.99) == pytest.approx(99.01)
    assert percentile([3.0], 0.99) == 3.0


def test_percentile_rejects_empty_samples_and_fractions_outside_0_1():
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="within 0 and 1"):
        percentile([1.0], 99)


def test_fit_line_recovers_an_exact_line_and_scores_scatter_lower():
    xs = [75, 131, 347, 1211]
    exact = fit_line(xs, [3.0 + 0.012 * x for x in xs])
    scattered = fit_line(xs, [3.0, 6.0, 4.0, 18.0])

    assert exact.slope == pytest.approx(0.012)
    assert exact.intercept == pytest.approx(3.0)
    assert exact.r_squared == pytest.approx(1.0)
    assert scattered.r_squared < 0.98


def test_fit_line_needs_two_distinct_x_values():
    with pytest.raises(ValueError, match="distinct"):
        fit_line([5, 5], [1.0, 2.0])


def test_interleaved_rotates_which_variant_runs_first():
    order: list[str] = []

    def variant(name: str):
        def measure() -> float:
            order.append(name)
            return float(len(order))

        return measure

    samples = interleaved(3, [("a", variant("a")), ("b", variant("b"))])

    assert order == ["a", "b", "b", "a", "a", "b"]
    assert samples == {"a": [1.0, 4.0, 5.0], "b": [2.0, 3.0, 6.0]}


@pytest.mark.parametrize(
    ("value", "target", "met"),
    [
        (1.5, "<= 1.5", True),
        (1.51, "<= 1.5", False),
        (3.0, "< 3", False),
        (5.0, ">= 5", True),
        (1.0, None, None),
    ],
)
def test_target_met_reads_the_operator_and_bound(value, target, met):
    assert target_met(value, target) is met


def test_target_met_rejects_a_target_without_an_operator():
    with pytest.raises(ValueError, match="<op> <number>"):
        target_met(1.0, "1.5")


@pytest.mark.parametrize("tier_count", TIER_COUNTS)
def test_synthetic_stack_config_passes_the_programs_own_checks(project_dir, tier_count):
    # GIVEN the stack file the scaling benchmark writes for this many tiers
    declared = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["config"]
    stack_values = synthetic_stack_config(tier_count)["config"]
    config, _, _ = merge_config(PROJECT, declared, stack_values)

    # WHEN the program reads it THEN the CIDR plan, budgets and names all fit
    parsed = parse_stack_config(config, project=PROJECT, stack=synthetic_stack_name(tier_count))

    assert len(parsed.tiers) == tier_count
    assert {tier.handler for tier in parsed.tiers} == (
        {"writer"} if tier_count == 1 else {"writer", "reader"}
    )


def _recorded_stack() -> list[AnalyzedResource]:
    def urn(type_: str, name: str) -> str:
        return f"urn:pulumi:prod::{PROJECT}::{type_}::{name}"

    group = urn("aws:ec2/securityGroup:SecurityGroup", "db")
    return [
        AnalyzedResource(STACK_URN, "pulumi:pulumi:Stack", f"{PROJECT}-prod", {}, custom=False),
        AnalyzedResource(PROVIDER_URN, "pulumi:providers:aws", "default_7_51_1", {}),
        AnalyzedResource(
            group,
            "aws:ec2/securityGroup:SecurityGroup",
            "db",
            {"vpcId": "vpc-0123456789abcdef0"},
            parent=STACK_URN,
            provider=f"{PROVIDER_URN}::id",
        ),
        AnalyzedResource(
            urn("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "db-in"),
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "db-in",
            {"securityGroupId": "sg-0123456789abcdef0", "token": Secret("sg-0123456789abcdef0")},
            parent=STACK_URN,
            dependencies=(group,),
            property_dependencies={"securityGroupId": (group,)},
        ),
    ]


def test_synthetic_stack_copies_resources_with_their_own_urns_ids_and_references():
    recorded = _recorded_stack()

    stack = synthetic_stack(recorded, total=9)

    # The stack and its provider once; the two other resources copied until 9 are reached.
    assert len(stack) == 9
    assert [r.urn for r in stack[:2]] == [STACK_URN, PROVIDER_URN]
    assert len({r.urn for r in stack}) == 9
    rules = [r for r in stack if r.type.endswith("SecurityGroupIngressRule")]
    groups = {r.urn for r in stack if r.type.endswith("securityGroup:SecurityGroup")}
    assert len(rules) == 3 and len(groups) == 4
    for rule in rules:
        (dependency,) = rule.property_dependencies["securityGroupId"]
        assert dependency in groups
        assert dependency.endswith(rule.urn[-5:])  # the group of the same copy
        assert rule.parent == STACK_URN
    group_ids = {rule.properties["securityGroupId"] for rule in rules}
    assert len(group_ids) == 3
    assert all(isinstance(rule.properties["token"], Secret) for rule in rules)
    assert [r.properties["token"].value for r in rules] == [
        r.properties["securityGroupId"] for r in rules
    ]
