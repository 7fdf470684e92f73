"""Least-privilege IAM: no wildcard actions or resources, scoped PassRole and rds-db:connect."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource
from support import (
    UNKNOWN,
    Config,
    Finding,
    StackView,
    as_list,
    label,
    matches_any,
    resource_policy,
    stack_policy,
    unverified,
    violation,
)

IAM_POLICY = "aws:iam/policy:Policy"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy"
IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
IAM_ROLE = "aws:iam/role:Role"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
# The exclusive forms attach a whole list of managed policies (`policyArns`) at once.
EXCLUSIVE_ATTACHMENT_TYPES = (
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
)

# Resources whose `policy` property is a permissions document; roles carry theirs inline.
DOCUMENT_TYPES = (IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY, IAM_ROLE)
ATTACHMENT_TYPES = (
    ROLE_POLICY_ATTACHMENT,
    POLICY_ATTACHMENT,
    USER_POLICY_ATTACHMENT,
    GROUP_POLICY_ATTACHMENT,
)

# AWS allows these actions only on Resource "*": they act on resources that do not exist yet
# (network interfaces Lambda creates in a VPC) or have no ARN (X-Ray segments, metric data).
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference.html
DEFAULT_RESOURCE_WILDCARD_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "cloudwatch:PutMetricData",
    "sts:GetCallerIdentity",
]
DEFAULT_AWS_MANAGED_POLICIES = ["AWSLambdaVPCAccessExecutionRole", "AWSXRayDaemonWriteAccess"]
# Managed policies that grant administration or a whole service, never attached whatever the
# allow-list says.
ADMIN_POLICY_NAMES = frozenset({"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"})
ADMIN_POLICY_SUFFIX = "FullAccess"

_AWS_MANAGED_ARN = re.compile(r"^arn:[a-z-]+:iam::aws:policy/(?:.*/)?(?P<name>[^/]+)$")
_DBUSER_ARN = re.compile(
    r"^arn:[a-z-]+:rds-db:(?P<region>[^:]*):(?P<account>[^:]*):dbuser:(?P<resource_id>[^/]*)/(?P<user>.*)$"
)


# Documents


def policy_documents(
    props: dict[str, Any], resource_label: str
) -> tuple[list[tuple[str, dict]], list[Finding]]:
    """The permission documents of a resource as (where, document), and what cannot be read."""
    sources: list[tuple[str, Any]] = []
    if "inlinePolicies" in props or "assumeRolePolicy" in props:
        inline = props.get("inlinePolicies")
        if inline is UNKNOWN:
            return [], [unverified("inlinePolicies", resource_label, "they are not known yet")]
        for index, entry in enumerate(inline or []):
            if entry is UNKNOWN:
                sources.append((f"inlinePolicies[{index}]", UNKNOWN))
            elif entry.get("policy"):
                name = entry.get("name")
                where = f"inline policy '{name}'" if isinstance(name, str) else f"[{index}]"
                sources.append((f"inlinePolicies {where}", entry["policy"]))
    else:
        sources.append(("policy", props.get("policy")))
    return parse_documents(sources, resource_label)


def parse_documents(
    sources: list[tuple[str, Any]], resource_label: str
) -> tuple[list[tuple[str, dict]], list[Finding]]:
    documents: list[tuple[str, dict]] = []
    findings: list[Finding] = []
    for where, raw in sources:
        if raw is UNKNOWN:
            findings.append(
                unverified(
                    where,
                    resource_label,
                    "the document is built from values known only after creation (ARNs, IDs)",
                )
            )
            continue
        if raw is None or raw == "":
            continue
        document = raw
        if isinstance(raw, str):
            try:
                document = json.loads(raw)
            except json.JSONDecodeError as exc:
                findings.append(
                    unverified(where, resource_label, f"it is not valid JSON ({exc.msg})")
                )
                continue
        if not isinstance(document, dict):
            findings.append(unverified(where, resource_label, "it is not a JSON object"))
            continue
        documents.append((where, document))
    return documents, findings


def allow_statements(document: dict) -> Iterator[tuple[str, Any]]:
    """Allow statements with a name for messages: their Sid, or their position.

    A statement, or its Effect, that is not known yet comes as UNKNOWN: it may allow anything.
    (A document given as an object, as TypeScript programs may write it, can hold unknowns.)

    Limit: Condition blocks are not evaluated, so a wildcard narrowed by a condition still fails.
    """
    statements = document.get("Statement")
    if statements is UNKNOWN:
        yield "Statement", UNKNOWN
        return
    for index, statement in enumerate(as_list(statements), start=1):
        if statement is UNKNOWN:
            yield f"statement {index}", UNKNOWN
            continue
        if not isinstance(statement, dict):
            continue
        sid = statement.get("Sid")
        name = f"statement '{sid}'" if isinstance(sid, str) and sid else f"statement {index}"
        effect = statement.get("Effect")
        if effect is UNKNOWN:
            yield name, UNKNOWN
        elif effect == "Allow":
            yield name, statement


def known_strings(statement: dict, key: str, where: str) -> tuple[list[str], list[Finding]]:
    """The known items of a statement element, and a note when some are not known yet."""
    value = statement.get(key)
    items = [UNKNOWN] if value is UNKNOWN else as_list(value)
    known = [str(item) for item in items if item is not UNKNOWN]
    if len(known) == len(items):
        return known, []
    return known, [unverified(key, where, "it is not known yet")]


def _grants(actions: list[str], wanted: str) -> bool:
    """True when an action list covers `wanted`, directly or through a wildcard."""
    return any(matches_any(wanted, [action]) for action in actions)


def _document_findings(props: dict[str, Any], resource_label: str, check: Any) -> Iterator[Finding]:
    documents, findings = policy_documents(props, resource_label)
    yield from findings
    for where, document in documents:
        for statement_name, statement in allow_statements(document):
            statement_where = f"{resource_label} ({where}, {statement_name})"
            if statement is UNKNOWN:
                yield unverified(
                    statement_name, f"{resource_label} ({where})", "it is not known yet"
                )
                continue
            yield from check(statement_where, statement)


# Policies


def iam_no_wildcard_actions(props: dict[str, Any], resource_label: str, config: Config):
    allowed = [action.lower() for action in config.strings("allowedWildcardActions")]

    def check(where: str, statement: dict) -> Iterator[Finding]:
        if "NotAction" in statement:
            yield violation(
                f"{where} must list the actions it allows: Allow with NotAction grants every "
                "other action; replace NotAction with Action and the specific actions."
            )
        actions, notes = known_strings(statement, "Action", where)
        yield from notes
        for text in actions:
            wildcard = text == "*" or text.endswith(":*")
            if wildcard and text.lower() not in allowed:
                yield violation(
                    f"{where} must not allow every action of a service: Action '{text}'; list "
                    "the specific actions the code calls."
                )

    yield from _document_findings(props, resource_label, check)


def iam_no_wildcard_resources(props: dict[str, Any], resource_label: str, config: Config):
    star_only = {action.lower() for action in config.strings("resourceWildcardActions")}

    def check(where: str, statement: dict) -> Iterator[Finding]:
        resources, resource_notes = known_strings(statement, "Resource", where)
        if "NotResource" in statement:
            yield violation(
                f"{where} must name the resources it allows: Allow with NotResource grants every "
                "other resource; replace NotResource with Resource ARNs."
            )
        actions, action_notes = known_strings(statement, "Action", where)
        scoped = sorted({action for action in actions if action.lower() not in star_only})
        if "*" in resources:
            yield from action_notes
            if scoped:
                yield violation(
                    f"{where} must scope {', '.join(scoped)} to resource ARNs, not Resource '*'; "
                    "name the ARNs, or add the action to resourceWildcardActions if AWS allows "
                    "it only on '*'."
                )
        elif resource_notes and (scoped or action_notes):
            yield from resource_notes

    yield from _document_findings(props, resource_label, check)


def iam_pass_role_scoped(props: dict[str, Any], resource_label: str, config: Config):
    need_condition = bool(config.get("requirePassedToServiceCondition"))

    def check(where: str, statement: dict) -> Iterator[Finding]:
        actions, action_notes = known_strings(statement, "Action", where)
        if not _grants(actions, "iam:PassRole"):
            yield from action_notes
            return
        resources, resource_notes = known_strings(statement, "Resource", where)
        yield from resource_notes
        broad = [item for item in resources if item == "*" or item.endswith(":role/*")]
        if broad:
            yield violation(
                f"{where} must pass only named roles: iam:PassRole on '{broad[0]}'; set Resource "
                "to the ARNs of the roles the caller hands to a service."
            )
        if not need_condition:
            return
        conditions = statement.get("Condition") or {}
        if conditions is UNKNOWN or any(block is UNKNOWN for block in conditions.values()):
            yield unverified("Condition", where, "it is not known yet")
            return
        has_condition = any(
            "iam:passedtoservice" in {key.lower() for key in block}
            for block in conditions.values()
            if isinstance(block, dict)
        )
        if not has_condition:
            yield violation(
                f"{where} must limit iam:PassRole to a service: it has no iam:PassedToService "
                "condition; add Condition StringEquals iam:PassedToService."
            )

    yield from _document_findings(props, resource_label, check)


def iam_rds_connect_scoped(props: dict[str, Any], resource_label: str, config: Config):
    allow_user_wildcard = bool(config.get("allowUserWildcard"))

    def check(where: str, statement: dict) -> Iterator[Finding]:
        actions, action_notes = known_strings(statement, "Action", where)
        if not _grants(actions, "rds-db:connect"):
            yield from action_notes
            return
        resources, resource_notes = known_strings(statement, "Resource", where)
        yield from resource_notes
        for resource in resources:
            match = _DBUSER_ARN.match(resource)
            if resource == "*" or (match is None and "rds-db" in resource):
                yield violation(
                    f"{where} must scope rds-db:connect to one database user: Resource "
                    f"'{resource}'; use arn:aws:rds-db:<region>:<account>:dbuser:<proxy or "
                    "instance resource id>/<user>."
                )
                continue
            if match is None:
                continue
            if "*" in match["resource_id"] or (not allow_user_wildcard and "*" in match["user"]):
                yield violation(
                    f"{where} must scope rds-db:connect to one database user: Resource "
                    f"'{resource}' has a wildcard; name the resource id (prx-… or db-…) and the "
                    "user."
                )

    yield from _document_findings(props, resource_label, check)


def iam_trust_specific_principals(props: dict[str, Any], resource_label: str, config: Config):
    allowed_types = set(config.strings("allowedPrincipalTypes"))
    documents, findings = parse_documents(
        [("assumeRolePolicy", props.get("assumeRolePolicy"))], resource_label
    )
    yield from findings
    for _where, document in documents:
        for statement_name, statement in allow_statements(document):
            where = f"{resource_label} (trust policy, {statement_name})"
            if statement is UNKNOWN:
                yield unverified(
                    statement_name, f"{resource_label} (trust policy)", "not known yet"
                )
                continue
            if "NotPrincipal" in statement:
                yield violation(
                    f"{where} must name who may assume the role: Allow with NotPrincipal trusts "
                    "everyone else; use Principal with the service principal."
                )
            principal = statement.get("Principal")
            if principal is UNKNOWN:
                yield unverified("Principal", where, "it is not known yet")
                continue
            if principal == "*":
                yield violation(
                    f"{where} must trust specific service principals, not Principal '*'; set "
                    'Principal to {"Service": "lambda.amazonaws.com"} (or the service used).'
                )
                continue
            if not isinstance(principal, dict):
                continue
            for principal_type in principal:
                names, notes = known_strings(principal, principal_type, where)
                yield from notes
                if any("*" in name for name in names):
                    yield violation(
                        f"{where} must trust specific principals: {principal_type} "
                        f"{', '.join(names)} has a wildcard; name the exact principal."
                    )
                elif principal_type not in allowed_types:
                    yield violation(
                        f"{where} must trust only {', '.join(sorted(allowed_types))} principals: "
                        f"it trusts {principal_type} {', '.join(names) or '(not known yet)'}; use "
                        "a service principal or add the type to allowedPrincipalTypes."
                    )


def iam_no_admin_managed_policies(
    view: StackView, config: Config
) -> Iterator[tuple[PolicyResource, Finding]]:
    allowed = set(config.strings("allowedAwsManagedPolicies"))
    for resource in view.of_type(*ATTACHMENT_TYPES):
        for finding in _managed_policy_findings(view, resource, "policyArn", allowed):
            yield resource, finding
    for resource in view.of_type(*EXCLUSIVE_ATTACHMENT_TYPES):
        for finding in _managed_policy_findings(view, resource, "policyArns", allowed):
            yield resource, finding
    for resource in view.of_type(IAM_ROLE):
        if view.props(resource).get("managedPolicyArns") is not None:
            for finding in _managed_policy_findings(view, resource, "managedPolicyArns", allowed):
                yield resource, finding


def _managed_policy_findings(
    view: StackView, resource: PolicyResource, prop: str, allowed: set[str]
) -> Iterator[Finding]:
    resource_label = label(resource.resource_type, resource.name)
    value = view.props(resource).get(prop)
    arns = [UNKNOWN] if value is UNKNOWN else as_list(value)
    unknown_count = sum(1 for arn in arns if arn is UNKNOWN)
    # An unknown ARN that comes from a policy created in this stack is customer-managed; its
    # document is checked by the document policies.
    stack_policies = view.deps(resource, prop, IAM_POLICY)
    if unknown_count and not stack_policies:
        yield unverified(
            prop,
            resource_label,
            "the policy ARN is not known yet and does not come from an IAM policy of this stack",
        )
    for arn in arns:
        if arn is UNKNOWN or not isinstance(arn, str):
            continue
        match = _AWS_MANAGED_ARN.match(arn)
        if match is None:
            continue
        name = match["name"]
        if name in ADMIN_POLICY_NAMES or name.endswith(ADMIN_POLICY_SUFFIX):
            yield violation(
                f"{resource_label} must not attach the administrative or full-access policy "
                f"{name}; write a customer-managed policy with the actions and ARNs needed."
            )
        elif name not in allowed:
            yield violation(
                f"{resource_label} must attach only allow-listed AWS managed policies: {name} "
                f"is not in allowedAwsManagedPolicies ({', '.join(sorted(allowed))}); use a "
                "customer-managed policy or extend the allow-list after review."
            )


STRING_LIST = {"type": "array", "items": {"type": "string"}}

POLICIES = [
    resource_policy(
        iam_no_wildcard_actions,
        description="IAM policies list specific actions, never '*' or 'service:*'.",
        types=DOCUMENT_TYPES,
        config={
            "allowedWildcardActions": {
                **STRING_LIST,
                "default": [],
                "description": "Service wildcards accepted after review, e.g. 'xray:*'.",
            }
        },
    ),
    resource_policy(
        iam_no_wildcard_resources,
        description="IAM policies name resource ARNs, except for actions AWS allows only on '*'.",
        types=DOCUMENT_TYPES,
        config={
            "resourceWildcardActions": {
                **STRING_LIST,
                "default": DEFAULT_RESOURCE_WILDCARD_ACTIONS,
                "description": "Actions allowed on Resource '*' (AWS offers no resource ARN).",
            }
        },
    ),
    resource_policy(
        iam_pass_role_scoped,
        description="iam:PassRole is granted on named roles only, never on '*'.",
        types=DOCUMENT_TYPES,
        config={
            "requirePassedToServiceCondition": {
                "type": "boolean",
                "default": False,
                "description": "Also require an iam:PassedToService condition.",
            }
        },
    ),
    resource_policy(
        iam_rds_connect_scoped,
        description="rds-db:connect is granted for one database user ARN, never dbuser:*/*.",
        types=DOCUMENT_TYPES,
        config={
            "allowUserWildcard": {
                "type": "boolean",
                "default": False,
                "description": "Accept dbuser:<resource id>/* (every user of one database).",
            }
        },
    ),
    resource_policy(
        iam_trust_specific_principals,
        description="Role trust policies name specific service principals, never '*'.",
        types=[IAM_ROLE],
        config={
            "allowedPrincipalTypes": {
                "type": "array",
                "items": {"type": "string", "enum": ["Service", "AWS", "Federated"]},
                "default": ["Service"],
                "description": "Principal types a trust policy may name.",
            }
        },
    ),
    stack_policy(
        iam_no_admin_managed_policies,
        description="No administrative or full-access managed policy is attached; AWS managed"
        " policies only from an allow-list.",
        types=[*ATTACHMENT_TYPES, *EXCLUSIVE_ATTACHMENT_TYPES, IAM_ROLE],
        config={
            "allowedAwsManagedPolicies": {
                **STRING_LIST,
                "default": DEFAULT_AWS_MANAGED_POLICIES,
                "description": "AWS managed policy names that may be attached.",
            }
        },
    ),
]
