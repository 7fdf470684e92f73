"""Recording Pulumi mocks: run a program or a component under the SDK's mock monitor and keep
every registered resource (type, name, inputs, parent, dependencies) for assertions."""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import runpy
import secrets
import string
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
ZONE_SUFFIXES = ("a", "b", "c", "d", "e", "f")

# Id prefixes AWS uses, so ids read like the real ones in failure messages.
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
}

# Types whose physical name the provider generates when the program leaves `name` unset.
_AUTO_NAMED = {
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:lambda/function:Function",
    "aws:sqs/queue:Queue",
    "aws:secretsmanager/secret:Secret",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:apigatewayv2/api:Api",
}


@dataclass(frozen=True)
class RecordedResource:
    """One RegisterResource call as the mock monitor saw it."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    custom: bool
    provider: str
    id: str
    state: dict[str, Any]
    # Top-level inputs the program sent marked secret, and the ignore_changes option.
    secret_inputs: frozenset[str] = frozenset()
    ignore_changes: tuple[str, ...] = ()


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers resources with realistic ids and ARNs and invokes from a small table.

    Invoke answers use the engine's camelCase property names (accountId, not account_id): the
    SDK's typed results read those, and a snake_case key silently comes back as None.

    `invoke_answers` maps an invoke token to a dict (or a callable taking the args) that
    overrides or extends the built-in answers; an invoke with no answer fails loudly so that a
    test never passes on a silently empty result.
    """

    def __init__(
        self,
        *,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        zone_count: int = len(ZONE_SUFFIXES),
        invoke_answers: Mapping[str, Any] | None = None,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.zone_count = zone_count
        self.zones = tuple(f"{region}{suffix}" for suffix in ZONE_SUFFIXES[:zone_count])
        # Explicit aws providers (an id -> its region), so that resources and invokes that go
        # through one are answered for that provider's region, as AWS would.
        self.provider_regions: dict[str, str] = {}
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        # Every password getRandomPassword answered, so tests can look for leaks of it.
        self.random_passwords: list[str] = []
        self._invoke_answers = dict(invoke_answers or {})

    def region_of(self, provider_reference: str | None) -> str:
        """The region of the provider a resource or invoke names; the default one otherwise."""
        provider_id = (provider_reference or "").rsplit("::", 1)[-1]
        return self.provider_regions.get(provider_id, self.region)

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        answer = self._invoke_answers.get(args.token)
        if answer is not None:
            return answer(args.args) if callable(answer) else dict(answer)
        region = self.region_of(args.provider)
        zones = [f"{region}{suffix}" for suffix in ZONE_SUFFIXES[: self.zone_count]]
        builtin = {
            "aws:index/getAvailabilityZones:getAvailabilityZones": {
                "names": zones,
                "zoneIds": [f"use1-az{i + 1}" for i in range(len(zones))],
                "id": region,
                "state": "available",
            },
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": self.account_id,
                "arn": f"arn:{PARTITION}:iam::{self.account_id}:user/deployer",
                "userId": "AIDAEXAMPLEDEPLOYER",
                "id": self.account_id,
            },
            "aws:index/getPartition:getPartition": {
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": PARTITION,
            },
            "aws:index/getRegion:getRegion": {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            },
        }.get(args.token)
        if args.token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            builtin = self._random_password(args.args, region)
        if builtin is None:
            raise NotImplementedError(f"RecordingMocks has no answer for invoke {args.token}")
        return builtin

    def _random_password(self, args: Mapping[str, Any], region: str) -> dict[str, Any]:
        """A fresh random password that honours the length and the excluded characters, as
        Secrets Manager's GetRandomPassword does (it defaults to 32 characters, no space)."""
        excluded = set(args.get("excludeCharacters") or "")
        if not args.get("includeSpace"):
            excluded.add(" ")
        alphabet = [c for c in string.ascii_letters + string.digits + string.punctuation + " "]
        alphabet = [c for c in alphabet if c not in excluded]
        length = int(args.get("passwordLength") or 32)
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        self.random_passwords.append(password)
        return {**dict(args), "id": region, "region": region, "randomPassword": password}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = dict(args.inputs)
        token = args.typ
        digest = _digest(token, args.name)
        prefix = _ID_PREFIXES.get(token)
        resource_id = f"{prefix}-{digest}" if prefix else f"{args.name}-{digest[:8]}"
        region = self.region_of(args.provider)
        if token == "pulumi:providers:aws":
            self.provider_regions[resource_id] = state.get("region") or self.region
        name = state.get("name")
        if not name and token in _AUTO_NAMED:
            name = state.get("namePrefix", f"{args.name}-") + digest[:7]
            state["name"] = name
        name = name or args.name
        arn_base = f"arn:{PARTITION}"
        regional = f"{region}:{self.account_id}"
        service = token.split(":")[1].split("/")[0]
        kind = token.split(":")[2][0].lower() + token.split(":")[2][1:]
        state.setdefault("arn", f"{arn_base}:{service}:{regional}:{kind}/{resource_id}")

        if token == "aws:kms/key:Key":
            resource_id = str(uuid.UUID(_digest(token, args.name, length=32)))
            state["keyId"] = resource_id
            state["arn"] = f"{arn_base}:kms:{regional}:key/{resource_id}"
        elif token == "aws:kms/alias:Alias":
            resource_id = name
            state["arn"] = f"{arn_base}:kms:{regional}:{name}"
        elif token == "aws:cloudwatch/logGroup:LogGroup":
            resource_id = name
            state["arn"] = f"{arn_base}:logs:{regional}:log-group:{name}"
        elif token in ("aws:iam/role:Role", "aws:iam/policy:Policy"):
            resource_id = name
            kind = "role" if token.endswith("Role") else "policy"
            state["arn"] = f"{arn_base}:iam::{self.account_id}:{kind}/{name}"
            state.setdefault("uniqueId", f"AROA{digest.upper()}")
        elif token == "aws:ec2/vpc:Vpc":
            state["defaultSecurityGroupId"] = f"sg-{_digest('default', digest)}"
            state["mainRouteTableId"] = f"rtb-{_digest('main', digest)}"
            state["arn"] = f"{arn_base}:ec2:{regional}:vpc/{resource_id}"
        elif token == "aws:lambda/function:Function":
            resource_id = name
            state["arn"] = f"{arn_base}:lambda:{regional}:function:{name}"
            state["invokeArn"] = (
                f"{arn_base}:apigateway:{region}:lambda:path/2015-03-31/functions/"
                f"{state['arn']}/invocations"
            )
            state["qualifiedArn"] = f"{state['arn']}:1"
            state["version"] = "1"
        elif token == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{region}.amazonaws.com/{self.account_id}/{name}"
            state["arn"] = f"{arn_base}:sqs:{regional}:{name}"
            resource_id = state["url"]
        elif token == "aws:secretsmanager/secret:Secret":
            state["arn"] = f"{arn_base}:secretsmanager:{regional}:secret:{name}-{digest[:6]}"
            resource_id = state["arn"]
        elif token == "aws:rds/instance:Instance":
            identifier = state.get("identifier") or f"{args.name}-{digest[:7]}"
            state["identifier"] = identifier
            state["address"] = f"{identifier}.c{digest[:10]}.{region}.rds.amazonaws.com"
            state["endpoint"] = f"{state['address']}:{state.get('port', 5432)}"
            state["arn"] = f"{arn_base}:rds:{regional}:db:{identifier}"
            state["resourceId"] = f"db-{digest.upper()}"
            # RDS keeps a master secret only for an instance that manages its password; a read
            # replica has none.
            if state.get("manageMasterUserPassword"):
                state["masterUserSecrets"] = [
                    {
                        "secretArn": f"{arn_base}:secretsmanager:{regional}:secret:rds!db-{digest}",
                        "kmsKeyId": state.get("masterUserSecretKmsKeyId"),
                        "secretStatus": "active",
                    }
                ]
            resource_id = identifier
        elif token == "aws:rds/proxy:Proxy":
            proxy_name = state.get("name") or args.name
            state["endpoint"] = f"{proxy_name}.proxy-c{digest[:10]}.{region}.rds.amazonaws.com"
            state["arn"] = f"{arn_base}:rds:{regional}:db-proxy:prx-{digest}"
            resource_id = proxy_name
        elif token == "aws:apigatewayv2/api:Api":
            resource_id = digest[:10]
            state["apiEndpoint"] = f"https://{resource_id}.execute-api.{region}.amazonaws.com"
            state["executionArn"] = f"{arn_base}:execute-api:{regional}:{resource_id}"
        return resource_id, state


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that keeps the request fields the plain mock drops: parent and dependencies."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object)
        secret_inputs = frozenset(
            key for key, value in request.object.fields.items() if _is_wire_secret(value)
        )
        state = self.resources[response.urn].state
        record = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            inputs=dict(inputs),
            parent=request.parent,
            dependencies=tuple(request.dependencies),
            property_dependencies={
                key: tuple(value.urns) for key, value in request.propertyDependencies.items()
            },
            custom=bool(request.custom),
            provider=request.provider,
            id=response.id,
            state=dict(state),
            secret_inputs=secret_inputs,
            ignore_changes=tuple(request.ignoreChanges),
        )
        with self._lock:
            self.recorded.append(record)
        return response


def _is_wire_secret(value: Any) -> bool:
    """True for a property value in the wire form of a secret (the SDK's signature map)."""
    if not value.HasField("struct_value"):
        return False
    fields = value.struct_value.fields
    return (
        rpc._special_sig_key in fields
        and fields[rpc._special_sig_key].string_value == rpc._special_secret_sig
    )


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


@dataclass
class ProgramRun:
    """What one program run under mocks produced."""

    resources: list[RecordedResource]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: frozenset[str] = frozenset()
    result: Any = None
    error: BaseException | None = None
    user_message: str | None = None
    logs: list[tuple[str, str]] = field(default_factory=list)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, name: str | None = None) -> RecordedResource:
        matches = [r for r in self.of_type(token) if name is None or r.name == name]
        assert len(matches) == 1, f"expected one {token} {name or ''}, found {len(matches)}"
        return matches[0]

    def by_urn(self, urn: str) -> RecordedResource:
        return next(r for r in self.resources if r.urn == urn)

    def count_by_type(self) -> Counter[str]:
        return Counter(r.type for r in self.resources)

    def children_of(self, urn: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == urn]


async def _resolve(value: Any) -> tuple[Any, bool]:
    output = pulumi.Output.from_input(value)
    return await output.future(), bool(await output.is_secret())


def run_program(
    program: Callable[[], Any] | str | Path,
    *,
    config: Mapping[str, str] | None = None,
    project: str = "lambda-private-db",
    stack: str = "dev",
    preview: bool = False,
    mocks: RecordingMocks | None = None,
) -> ProgramRun:
    """Run `program` (a callable, or the path of a Pulumi program's main file) under mocks.

    Each run gets a fresh copy of the SDK's context variables (root stack, settings, config),
    so runs in one process do not see each other. Errors are reported the way the Python
    language host reports them: a pulumi.RunError as its message alone, any other exception as
    a traceback (see pulumi-language-python-exec in the Pulumi repository).
    """
    context = contextvars.copy_context()
    return context.run(_run_fresh, program, dict(config or {}), project, stack, preview, mocks)


def _run_fresh(program, config, project, stack, preview, mocks) -> ProgramRun:
    mocks = mocks or RecordingMocks()
    monitor = RecordingMonitor(mocks)
    handler = _ListHandler()
    logger = logging.getLogger(f"pulumi-mocks-{id(monitor)}")
    logger.propagate = False
    logger.addHandler(handler)

    settings.reset_options(project=project, stack=stack, preview=preview)
    set_all_config(config, [])
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=preview, logger=logger, monitor=monitor
    )
    root = settings.get_root_resource()

    if isinstance(program, (str, Path)):
        main_path = str(program)

        def program_fn() -> None:
            runpy.run_path(main_path, run_name="__main__")

    else:
        program_fn = program

    run = ProgramRun(resources=monitor.recorded, logs=handler.records, invokes=mocks.invokes)
    holder: dict[str, Any] = {}

    def body() -> None:
        holder["result"] = program_fn()

    try:
        _sync_await(run_pulumi_func(body))
    except pulumi.RunError as exc:
        run.error = exc
        run.user_message = str(exc)
    except Exception as exc:  # noqa: BLE001 - reported as the language host would
        run.error = exc
        run.user_message = "".join(traceback.format_exception(exc))

    if run.error is None:
        if holder.get("result") is not None:
            run.result = _sync_await(_resolve(holder["result"]))[0]
        exported = dict(getattr(root, "outputs", {}) or {})
        secret_names = set()
        for key, value in exported.items():
            resolved, is_secret = _sync_await(_resolve(value))
            run.outputs[key] = resolved
            if is_secret:
                secret_names.add(key)
        run.secret_outputs = frozenset(secret_names)
    return run


def stack_config_values(project_dir: Path, stack: str) -> dict[str, str]:
    """Config as the CLI hands it to a program: Pulumi.yaml defaults under the stack's values,
    keys namespaced, objects and arrays as JSON text, scalars as strings."""
    project_file = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    project = project_file["name"]
    merged: dict[str, Any] = {}
    for key, declaration in (project_file.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(declaration, dict) and ("default" in declaration or "value" in declaration):
            merged[full_key] = declaration.get("default", declaration.get("value"))
        elif not isinstance(declaration, dict):
            merged[full_key] = declaration
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        for key, value in (yaml.safe_load(stack_file.read_text()).get("config") or {}).items():
            full_key = key if ":" in key else f"{project}:{key}"
            merged[full_key] = value
    return {key: _config_text(value) for key, value in merged.items()}


def _config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
