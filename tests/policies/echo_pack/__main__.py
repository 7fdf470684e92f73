"""A test pack that reports, as violations, exactly what the driver sent it."""

import json
import os
from collections.abc import Mapping, Sequence

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)


def raw(props):
    # The SDK's proxy hands out its target, which still holds unknown sentinels verbatim.
    return props["__target"]


def unwrap(value):
    if isinstance(value, Mapping | Sequence) and not isinstance(value, dict | list | str):
        value = value["__target"]
    if isinstance(value, dict):
        return {key: unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    return value


def echo_resource(args, report_violation):
    report_violation(
        json.dumps(
            {
                "type": args.resource_type,
                "urn": args.urn,
                "name": args.name,
                "props": unwrap(raw(args.props)),
                "parent": args.opts.parent,
                "provider": None
                if args.provider is None
                else [args.provider.resource_type, args.provider.urn, args.provider.name],
                "config": dict(args.get_config()),
                "stackTags": dict(args.stack_tags),
                "env": {
                    key: os.environ.get(key)
                    for key in ("PULUMI_PROJECT", "PULUMI_STACK", "PULUMI_DRY_RUN")
                },
                "cwd": os.getcwd(),
                "runtime": [pulumi.get_project(), pulumi.get_stack(), pulumi.runtime.is_dry_run()],
                "programConfig": pulumi.Config("echo").get("greeting"),
            }
        )
    )


def echo_stack(args, report_violation):
    for resource in args.resources:
        report_violation(
            json.dumps(
                {
                    "parent": resource.parent.urn if resource.parent else None,
                    "dependencies": [dep.urn for dep in resource.dependencies],
                    "propertyDependencies": {
                        key: [dep.urn for dep in deps]
                        for key, deps in resource.property_dependencies.items()
                    },
                    "props": unwrap(raw(resource.props)),
                }
            ),
            resource.urn,
        )


PolicyPack(
    name="echo-pack",
    initial_config={"echo-resource": {"names": ["from-pack"], "port": 8443}},
    policies=[
        ResourceValidationPolicy(
            name="echo-resource",
            description="Reports what Analyze delivered.",
            validate=echo_resource,
            enforcement_level=EnforcementLevel.ADVISORY,
            config_schema=PolicyConfigSchema(
                properties={
                    "port": {"type": "integer", "default": 443},
                    "names": {"type": "array", "items": {"type": "string"}, "default": []},
                    "mode": {"type": "string", "enum": ["strict", "lenient"], "default": "strict"},
                }
            ),
        ),
        StackValidationPolicy(
            name="echo-stack",
            description="Reports what AnalyzeStack delivered.",
            validate=echo_stack,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
        ResourceValidationPolicy(
            name="echo-required",
            description="Has a required config key without a default.",
            validate=lambda args, report_violation: None,
            config_schema=PolicyConfigSchema(
                properties={"token": {"type": "string"}}, required=["token"]
            ),
        ),
    ],
)
