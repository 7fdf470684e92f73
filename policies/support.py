"""Shared helpers for the policies: plain values, findings, reporting, labels and stack indexes."""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)

# How messages name a resource; unlisted types fall back to their type token.
TYPE_LABELS = {
    "aws:iam/policy:Policy": "IAM policy",
    "aws:iam/rolePolicy:RolePolicy": "IAM role policy",
    "aws:iam/userPolicy:UserPolicy": "IAM user policy",
    "aws:iam/groupPolicy:GroupPolicy": "IAM group policy",
    "aws:iam/role:Role": "IAM role",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM role policy attachment",
    "aws:iam/policyAttachment:PolicyAttachment": "IAM policy attachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "IAM user policy attachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "IAM group policy attachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": (
        "IAM role policy attachments"
    ),
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": (
        "IAM user policy attachments"
    ),
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": (
        "IAM group policy attachments"
    ),
    "aws:ec2/securityGroup:SecurityGroup": "Security group",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "Default security group",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "Security group rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "Security group ingress rule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "Security group egress rule",
    "aws:ec2/subnet:Subnet": "Subnet",
    "aws:rds/instance:Instance": "RDS instance",
    "aws:rds/cluster:Cluster": "RDS cluster",
    "aws:rds/clusterInstance:ClusterInstance": "RDS cluster instance",
    "aws:rds/proxy:Proxy": "RDS proxy",
    "aws:rds/subnetGroup:SubnetGroup": "DB subnet group",
    "aws:rds/parameterGroup:ParameterGroup": "DB parameter group",
    "aws:secretsmanager/secret:Secret": "Secrets Manager secret",
    "aws:kms/key:Key": "KMS key",
    "aws:sqs/queue:Queue": "SQS queue",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch log group",
    "aws:lambda/function:Function": "Lambda function",
}


class _Unknown:
    """A property value that is not known until the resource is created (first preview)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Copies the SDK's unknown-checking proxies into dicts and lists with UNKNOWN markers.

    The SDK raises UnknownValueError on reading an unknown value, which would end a check at the
    first unknown; plain values let a check finish, report what it can prove and name the rest.
    """
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = plain(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def label(resource_type: str, name: str) -> str:
    return f"{TYPE_LABELS.get(resource_type, resource_type)} '{name}'"


class Subject(str):
    """The label of the resource a resource policy checks, carrying its type and name."""

    resource_type: str
    name: str

    def __new__(cls, resource_type: str, name: str) -> Subject:
        subject = super().__new__(cls, label(resource_type, name))
        subject.resource_type = resource_type
        subject.name = name
        return subject


def as_list(value: Any) -> list[Any]:
    """A property that AWS accepts as one value or a list, as a list (UNKNOWN stays whole)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def truthy(value: Any) -> bool:
    """Engine booleans may arrive as strings from some providers' defaults."""
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def shown(value: Any) -> str:
    """A property value as a message quotes it, in the JSON spelling the user writes and the
    CLI prints (true, false, 5, ["a"]), a string in quotes; an absent property reads "not set"."""
    if value is None:
        return "not set"
    if isinstance(value, str):
        return repr(value)
    # The UNKNOWN marker and any other object outside JSON keep their own text.
    return json.dumps(value, default=repr)


def matches_any(value: str, patterns: Iterable[str]) -> bool:
    lowered = value.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


# Findings and reporting


@dataclass(frozen=True)
class Finding:
    """The outcome of one check: a proven violation, or a property that cannot be known yet."""

    message: str
    verified: bool = True


def violation(message: str) -> Finding:
    return Finding(message, verified=True)


def unverified(prop: str, resource_label: str, reason: str) -> Finding:
    return Finding(f"could not verify {prop} of {resource_label} at preview: {reason}", False)


def not_known_yet(resource: PolicyResource, prop: str) -> Finding:
    """The finding of a stack check on a property of `resource` that is unknown at preview."""
    return unverified(prop, label(resource.resource_type, resource.name), "it is not known yet")


def on_resource(
    resource: PolicyResource, findings: Iterable[Finding]
) -> Iterator[tuple[PolicyResource, Finding]]:
    """A stack check's findings about one resource, each paired with it for the report."""
    for finding in findings:
        yield resource, finding


class CouldNotVerify(UnknownValueError):
    """Raised after a policy reported everything it could prove, naming what it could not.

    The SDK turns an UnknownValueError into an advisory diagnostic under the same policy's name,
    whatever the policy's own level. Reporting unknowns this way (rather than through a separate
    advisory policy) means a mandatory policy never passes silently on an unknown value, can
    never turn an unknown into a false mandatory violation, and cannot have its "could not
    verify" notes switched off apart from the policy itself.

    Limit: the SDK words the note "can't run policy '<name>' from policy pack '<pack>@v0.0.1'
    during preview: <our message>" (the Python SDK always says v0.0.1), also when the cause is a
    resource outside the stack during an update; and a stack policy's note carries no URN, so
    our message names the resource instead.
    """

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.message = "; ".join(messages)


def report(
    findings: Iterable[tuple[str | None, Finding]], report_violation: ReportViolation
) -> None:
    """Reports proven violations, then raises CouldNotVerify for the unknowns, if any."""
    unknowns: list[str] = []
    for urn, finding in findings:
        if finding.verified:
            report_violation(finding.message, urn)
        else:
            unknowns.append(finding.message)
    if unknowns:
        raise CouldNotVerify(unknowns)


# Config


def schema_defaults(properties: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


class Config(Mapping[str, Any]):
    """A policy's config with schema defaults filled in (the CLI sends them; tools may not)."""

    def __init__(self, defaults: Mapping[str, Any], given: Mapping[str, Any] | None) -> None:
        self._values = {**defaults, **(given or {})}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def integer(self, key: str) -> int:
        # Config numbers travel as protobuf doubles.
        return int(self._values[key])

    def strings(self, key: str) -> list[str]:
        return [str(item) for item in self._values.get(key) or []]


# Stack view


class StackView:
    """All resources of a stack with indexes built in one pass, for linear-time stack policies."""

    def __init__(self, resources: Iterable[PolicyResource]) -> None:
        self.resources = list(resources)
        self.by_type: dict[str, list[PolicyResource]] = defaultdict(list)
        for resource in self.resources:
            self.by_type[resource.resource_type].append(resource)
        self._props: dict[str, dict[str, Any]] = {}

    def of_type(self, *types: str) -> Iterator[PolicyResource]:
        for resource_type in types:
            yield from self.by_type.get(resource_type, ())

    def props(self, resource: PolicyResource) -> dict[str, Any]:
        """Plain properties, converted once per resource and only for resources a check reads."""
        cached = self._props.get(resource.urn)
        if cached is None:
            cached = plain(resource.props)
            self._props[resource.urn] = cached
        return cached

    def deps(self, resource: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
        """Resources of this stack that the top-level property `prop` was computed from."""
        found = resource.property_dependencies.get(prop) or []
        if not types:
            return list(found)
        return [dep for dep in found if dep.resource_type in types]


# Policy builders

# A config key every policy takes: Pulumi resource names exempted after a review.
EXEMPT_KEY = "exemptResourceNames"
EXEMPT_CONFIG = {
    EXEMPT_KEY: {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Pulumi names of resources exempted from this policy after a review.",
    }
}


def policy_name(check: Callable[..., Any]) -> str:
    return check.__name__.replace("_", "-")


def config_schema(config: Mapping[str, Mapping[str, Any]]) -> PolicyConfigSchema:
    """A policy's schema: its own keys plus the exemption list, which every policy honours."""
    return PolicyConfigSchema(properties={**EXEMPT_CONFIG, **config})


class UnknownConfigKeyError(ValueError):
    """A policy's config holds a key its schema does not declare (a typo, most often)."""


def check_config_keys(
    policy: str, given: Mapping[str, Any] | None, schema: PolicyConfigSchema
) -> None:
    """Refuses config keys the policy does not declare, before the policy reads its config.

    The Analyzer protocol carries a schema's properties and required keys only, so the CLI
    validates config without `additionalProperties: false` and passes a misspelt key on; the
    policy would then run on its default. Raising here makes the CLI's preview fail with this
    message instead (the SDK turns the exception into an error of the Analyze call).
    """
    unknown = sorted(set(given or {}) - set(schema.properties))
    if unknown:
        raise UnknownConfigKeyError(
            f"policy '{policy}' has no config key {', '.join(repr(k) for k in unknown)}; it "
            f"takes {', '.join(sorted(schema.properties))} (and enforcementLevel). Correct the "
            "spelling in the policy config (--policy-pack-config) or remove the key."
        )


def resource_policy(
    check: Callable[[dict[str, Any], Subject, Config], Iterable[Finding]],
    *,
    description: str,
    types: Sequence[str],
    config: Mapping[str, Mapping[str, Any]],
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> ResourceValidationPolicy:
    """A resource policy named after its check function; the check gets plain properties."""
    schema = config_schema(config)
    defaults = schema_defaults(schema.properties)
    applies_to = frozenset(types)
    name = policy_name(check)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        check_config_keys(name, args.get_config(), schema)
        if args.resource_type not in applies_to:
            args.not_applicable(f"applies to {', '.join(sorted(applies_to))}")
        settings = Config(defaults, args.get_config())
        if args.name in settings.strings(EXEMPT_KEY):
            args.not_applicable(f"'{args.name}' is listed in {EXEMPT_KEY}")
        findings = check(plain(args.props), Subject(args.resource_type, args.name), settings)
        report(((None, finding) for finding in findings), report_violation)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=schema,
    )


def stack_policy(
    check: Callable[[StackView, Config], Iterable[tuple[PolicyResource, Finding]]],
    *,
    description: str,
    types: Sequence[str],
    config: Mapping[str, Mapping[str, Any]],
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
) -> StackValidationPolicy:
    """A stack policy named after its check function; violations name the resource's URN."""
    schema = config_schema(config)
    defaults = schema_defaults(schema.properties)
    name = policy_name(check)

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        check_config_keys(name, args.get_config(), schema)
        view = StackView(args.resources)
        if not any(view.by_type.get(resource_type) for resource_type in types):
            args.not_applicable(f"the stack has no {', '.join(sorted(types))}")
        settings = Config(defaults, args.get_config())
        exempt = set(settings.strings(EXEMPT_KEY))
        findings = check(view, settings)
        report(
            (
                (resource.urn, finding)
                for resource, finding in findings
                if resource.name not in exempt
            ),
            report_violation,
        )

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=schema,
    )
