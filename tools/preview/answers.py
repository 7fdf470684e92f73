"""Answers to a program's invokes and stack references: a small built-in table a user extends."""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.preview.computed import ACCOUNT_ID, zone_id

# Zones per region where AWS has more than the usual three.
_ZONE_LETTERS = {"us-east-1": "abcdef", "us-west-2": "abcd", "ap-northeast-1": "acd"}

_REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "Europe (Ireland)",
    "eu-central-1": "Europe (Frankfurt)",
}

_ANSWER_FILE_KEYS = {"invokes", "stackReferences"}


class AnswerError(Exception):
    """An invoke or stack reference has no answer, or an answers file is invalid."""


@dataclass(frozen=True)
class Answers:
    """User answers: invoke results by token and stack reference outputs by stack name."""

    invokes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stack_references: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def load_answers(path: Path) -> Answers:
    """Read a YAML or JSON answers file: {invokes: {token: result}, stackReferences: {...}}."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AnswerError(f"--invokes '{path}' cannot be read: {exc}") from exc
    if document is None:
        return Answers()
    if not isinstance(document, dict):
        raise AnswerError(
            f"--invokes '{path}' must hold a mapping with 'invokes' and/or 'stackReferences'."
        )
    problems = [
        f"--invokes '{path}': unknown key '{key}'; use 'invokes' or 'stackReferences'."
        for key in sorted(set(document) - _ANSWER_FILE_KEYS)
    ]
    invokes = document.get("invokes") or {}
    references = document.get("stackReferences") or {}
    if not isinstance(invokes, dict):
        problems.append(f"--invokes '{path}': 'invokes' must map tokens to results.")
        invokes = {}
    if not isinstance(references, dict):
        problems.append(
            f"--invokes '{path}': 'stackReferences' must map stack names to "
            "{outputs: {...}, secretOutputNames: [...]}."
        )
        references = {}
    for token, result in invokes.items():
        if not isinstance(token, str) or token.count(":") != 2:
            problems.append(
                f"--invokes '{path}': 'invokes.{token}' is not a function token; "
                "write it as package:module:function, e.g. "
                "aws:ec2/getVpc:getVpc."
            )
        if not isinstance(result, dict):
            problems.append(
                f"--invokes '{path}': 'invokes.{token}' must be a mapping of the "
                f"function's outputs (camelCase), got {type(result).__name__}."
            )
    for name, reference in references.items():
        outputs = reference.get("outputs") if isinstance(reference, dict) else None
        if not isinstance(outputs, dict):
            problems.append(
                f"--invokes '{path}': 'stackReferences.{name}.outputs' must be a "
                "mapping of the referenced stack's outputs."
            )
    if problems:
        raise AnswerError("\n".join(problems))
    return Answers(invokes=invokes, stack_references=references)


def answer_invoke(token: str, args: Mapping[str, Any], region: str, answers: Answers) -> dict:
    """The result of one invoke: the user's answer first, then the built-in table.

    A user's answer is a fixed result: it does not vary with the call's arguments, so a
    program calling one function with different arguments gets the same answer each time.
    """
    if token in answers.invokes:
        return dict(answers.invokes[token])
    builtin = BUILTIN_INVOKES.get(token)
    if builtin is None:
        raise AnswerError(
            f"the program invokes '{token}', which has no offline answer; add its result under "
            f"'invokes: {{\"{token}\": {{...}}}}' in a file passed with --invokes FILE.yaml."
        )
    return builtin(args, region)


def stack_reference_state(name: str, answers: Answers) -> dict[str, Any]:
    """The state of a pulumi:pulumi:StackReference to `name`, from the user's answers."""
    reference = answers.stack_references.get(name)
    if reference is None:
        raise AnswerError(
            f"the program reads stack reference '{name}', which has no offline outputs; add "
            f"'stackReferences: {{\"{name}\": {{outputs: {{...}}}}}}' to a file passed with "
            "--invokes FILE.yaml."
        )
    return {
        "name": name,
        "outputs": dict(reference["outputs"]),
        "secretOutputNames": list(reference.get("secretOutputNames") or []),
    }


def _availability_zones(args: Mapping[str, Any], region: str) -> dict:
    letters = _ZONE_LETTERS.get(region, "abc")
    zones = [
        (f"{region}{letter}", zone_id(region, index + 1)) for index, letter in enumerate(letters)
    ]
    excluded_names = set(args.get("excludeNames") or [])
    excluded_ids = set(args.get("excludeZoneIds") or [])
    zones = [(n, z) for n, z in zones if n not in excluded_names and z not in excluded_ids]
    return {
        "id": region,
        "names": [name for name, _ in zones],
        "zoneIds": [zone_id for _, zone_id in zones],
        "groupNames": [region for _ in zones],
        "region": region,
        "state": args.get("state"),
        "allAvailabilityZones": args.get("allAvailabilityZones"),
        "excludeNames": args.get("excludeNames"),
        "excludeZoneIds": args.get("excludeZoneIds"),
    }


def _caller_identity(args: Mapping[str, Any], region: str) -> dict:
    return {
        "id": ACCOUNT_ID,
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline-preview",
        "userId": "AIDAOFFLINEPREVIEW0001",
    }


def _partition(args: Mapping[str, Any], region: str) -> dict:
    return {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


def _region(args: Mapping[str, Any], region: str) -> dict:
    name = args.get("region") or args.get("name") or region
    return {
        "id": name,
        "name": name,
        "region": name,
        "endpoint": f"ec2.{name}.amazonaws.com",
        "description": _REGION_NAMES.get(name, name),
    }


def _random_password(args: Mapping[str, Any], region: str) -> dict:
    """A fresh random password with GetRandomPassword's options: length (32 by default), the
    excluded characters and classes, a space only when asked for."""
    excluded = set(args.get("excludeCharacters") or "")
    classes = [
        ("excludeLowercase", string.ascii_lowercase),
        ("excludeUppercase", string.ascii_uppercase),
        ("excludeNumbers", string.digits),
        ("excludePunctuation", string.punctuation),
        ("includeSpace", " "),
    ]
    alphabet = "".join(
        chars
        for option, chars in classes
        if (bool(args.get(option)) if option == "includeSpace" else not args.get(option))
    )
    alphabet = "".join(c for c in alphabet if c not in excluded)
    if not alphabet:
        raise AnswerError("getRandomPassword: the options exclude every character.")
    length = int(args.get("passwordLength") or 32)
    return {
        **dict(args),
        "id": region,
        "region": region,
        "randomPassword": "".join(secrets.choice(alphabet) for _ in range(length)),
    }


def _policy_document(args: Mapping[str, Any], region: str) -> dict:
    """Build the JSON document aws.iam.get_policy_document returns, from its statements."""
    statements = []
    for statement in args.get("statements") or []:
        rendered: dict[str, Any] = {}
        if statement.get("sid"):
            rendered["Sid"] = statement["sid"]
        rendered["Effect"] = statement.get("effect") or "Allow"
        for source, target in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            values = statement.get(source)
            if values:
                rendered[target] = values[0] if len(values) == 1 else sorted(values)
        for source, target in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if statement.get(source):
                rendered[target] = _principals(statement[source])
        if statement.get("conditions"):
            conditions: dict[str, dict[str, Any]] = {}
            for condition in statement["conditions"]:
                values = condition.get("values") or []
                conditions.setdefault(condition["test"], {})[condition["variable"]] = (
                    values[0] if len(values) == 1 else values
                )
            rendered["Condition"] = conditions
        statements.append(rendered)
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = statements
    pretty = json.dumps(document, indent=2)
    minified = json.dumps(document, separators=(",", ":"))
    return {
        "id": hashlib.sha256(minified.encode()).hexdigest()[:10],
        "json": pretty,
        "minifiedJson": minified,
        "statements": args.get("statements"),
        "version": document["Version"],
    }


def _principals(principals: list[Mapping[str, Any]]) -> Any:
    merged: dict[str, list[str]] = {}
    for principal in principals:
        merged.setdefault(principal["type"], []).extend(principal.get("identifiers") or [])
    if merged == {"*": ["*"]}:
        return "*"
    return {kind: ids[0] if len(ids) == 1 else sorted(ids) for kind, ids in merged.items()}


BUILTIN_INVOKES: dict[str, Callable[[Mapping[str, Any], str], dict]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getPartition:getPartition": _partition,
    "aws:index/getRegion:getRegion": _region,
    "aws:iam/getPolicyDocument:getPolicyDocument": _policy_document,
    "aws:secretsmanager/getRandomPassword:getRandomPassword": _random_password,
}
