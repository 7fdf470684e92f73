"""A pack whose policies accept everything: the floor an Analyze or AnalyzeStack call costs.

BENCH_NOOP_RESOURCE_POLICIES and BENCH_NOOP_STACK_POLICIES (default 1 each) set how many
policies of each kind it has: the SDK handles a resource's properties once per policy, so a
pack shaped like the real one costs the SDK as much as the real one does.
"""

import os

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)


def accept_resource(args, report_violation):
    """Reads nothing, reports nothing."""


def accept_stack(args, report_violation):
    """Reads nothing, reports nothing."""


resource_policies = int(os.environ.get("BENCH_NOOP_RESOURCE_POLICIES", "1"))
stack_policies = int(os.environ.get("BENCH_NOOP_STACK_POLICIES", "1"))

PolicyPack(
    name="bench-noop",
    policies=[
        *(
            ResourceValidationPolicy(
                name=f"noop-resource-{index}",
                description="Accepts every resource.",
                validate=accept_resource,
                enforcement_level=EnforcementLevel.MANDATORY,
            )
            for index in range(resource_policies)
        ),
        *(
            StackValidationPolicy(
                name=f"noop-stack-{index}",
                description="Accepts every stack.",
                validate=accept_stack,
                enforcement_level=EnforcementLevel.MANDATORY,
            )
            for index in range(stack_policies)
        ),
    ],
)
