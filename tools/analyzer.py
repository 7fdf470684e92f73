"""Drive a CrossGuard policy pack over its Analyzer gRPC protocol, the way the Pulumi CLI does."""

from __future__ import annotations

import collections
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import pulumi
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

# How long the pack may take to print its port: it imports pulumi and grpc first, which takes a
# few seconds on a cold, busy 2-core machine.
START_TIMEOUT_SECONDS = 60.0
# Upper bound for a single Analyzer call; a policy that loops forever must not hang a preview.
CALL_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 5.0

# The pack accepts engine messages up to 400 MiB; match it so big stacks are not refused here.
_MAX_MESSAGE_BYTES = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
]

# The engine passes its own gRPC address as the first argument. `python -m pulumi.policy` parses
# it but never connects to it (its logs go to stderr), so no Engine service is served here; the
# pack's stderr is captured instead and quoted when the pack fails.
_ENGINE_ADDRESS_PLACEHOLDER = "127.0.0.1:0"

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_TO_PROTO = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
_PROTO_TO_LEVEL = {number: name for name, number in _LEVEL_TO_PROTO.items()}
_POLICY_TYPES = {
    analyzer_pb2.POLICY_TYPE_RESOURCE: "resource",
    analyzer_pb2.POLICY_TYPE_STACK: "stack",
}
# Besides policy names, a config file may hold "all", whose enforcement level applies to every
# policy of the pack (pulumi's analyzer config semantics). The CLI reads only the level under
# "all" and drops any other key there without a word, so the driver refuses such keys instead.
_ALL_POLICIES_KEY = "all"
_STDERR_TAIL_CHARS = 4000
_STDOUT_TAIL_LINES = 200


class _Unknown:
    """The value of a property that is not known until the resource is created."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __copy__(self) -> _Unknown:
        return self

    def __deepcopy__(self, _memo: dict) -> _Unknown:
        return self

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Secret:
    """A secret property value; the engine sends it wrapped, and the pack unwraps it."""

    value: Any

    def __repr__(self) -> str:
        # Keeps secrets out of logs, assertion messages and tracebacks.
        return "Secret(***)"


@dataclass(frozen=True)
class AnalyzedResource:
    """One resource as the engine shows it to analyzers: inputs keyed by camelCase names."""

    urn: str
    type: str
    name: str
    properties: Mapping[str, Any]
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The provider's URN, or a provider reference ("<urn>::<id>") as the engine writes it.
    provider: str | None = None
    # Informational for callers (the preview lists components); the protocol has no such field.
    custom: bool = True


@dataclass(frozen=True)
class Diagnostic:
    """A policy violation reported by a pack; level is advisory, mandatory or remediate."""

    policy_pack: str
    policy: str
    level: str
    urn: str
    message: str
    description: str


@dataclass(frozen=True)
class AnalysisResult:
    """A pack's answer to one Analyze or AnalyzeStack call."""

    diagnostics: tuple[Diagnostic, ...]
    # policy name -> the reason the pack gave for skipping it
    not_applicable: Mapping[str, str]


@dataclass(frozen=True)
class PolicyInfo:
    """A policy as the pack describes itself in GetAnalyzerInfo."""

    name: str
    description: str
    enforcement_level: str
    config_schema: Mapping[str, Any]
    policy_type: str


@dataclass(frozen=True)
class PackInfo:
    """The pack's metadata and its programmatic initial config (policy -> settings)."""

    name: str
    version: str
    description: str
    policies: tuple[PolicyInfo, ...]
    initial_config: Mapping[str, Mapping[str, Any]]

    def policy(self, name: str) -> PolicyInfo:
        for policy in self.policies:
            if policy.name == name:
                return policy
        raise KeyError(f"policy pack '{self.name}' has no policy named '{name}'")


class PolicyPackError(RuntimeError):
    """The pack process failed to start, crashed, or answered a call with an error."""


class PolicyConfigError(ValueError):
    """Policy config that the pack's schemas reject; names each policy and key at fault."""

    def __init__(self, problems: Sequence[tuple[str, str, str]]) -> None:
        self.problems = tuple(problems)
        self.policy = self.problems[0][0] if self.problems else ""
        self.key = self.problems[0][1] if self.problems else ""
        lines = [_describe_problem(*problem) for problem in self.problems]
        super().__init__("invalid policy config:\n  " + "\n  ".join(lines))


def _describe_problem(policy: str, key: str, text: str) -> str:
    return f"'{policy}.{key}': {text}" if key else f"'{policy}': {text}"


class PolicyPackProcess:
    """A running policy pack, started and spoken to exactly as `pulumi preview` does.

    Use as a context manager. The pack runs `python -m pulumi.policy <engine> .` in its own
    directory with PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_CONFIG set.
    """

    def __init__(
        self,
        pack_dir: str | os.PathLike[str],
        *,
        project: str,
        stack: str,
        dry_run: bool,
        config: Mapping[str, str] | None = None,
        python: str = sys.executable,
        organization: str = "organization",
        stack_tags: Mapping[str, str] | None = None,
        start_timeout_seconds: float = START_TIMEOUT_SECONDS,
        call_timeout_seconds: float = CALL_TIMEOUT_SECONDS,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        if not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise PolicyPackError(
                f"'{self.pack_dir}' is not a policy pack: it has no PulumiPolicy.yaml; "
                "pass the directory that holds the pack's PulumiPolicy.yaml and __main__.py."
            )
        self.project = project
        self.stack = stack
        self.dry_run = dry_run
        self.config = dict(config or {})
        self.python = python
        self.organization = organization
        self.stack_tags = dict(stack_tags or {})
        self.call_timeout_seconds = call_timeout_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self._stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._stdout_tail: collections.deque[str] = collections.deque(maxlen=_STDOUT_TAIL_LINES)
        self._info: PackInfo | None = None
        self._effective_config: dict[str, dict[str, Any]] | None = None
        try:
            self._start(start_timeout_seconds)
        except BaseException:
            self.close()
            raise

    # Lifecycle

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _start(self, timeout_seconds: float) -> None:
        env = dict(os.environ)
        env.update(
            {
                "PULUMI_PROJECT": self.project,
                "PULUMI_STACK": self.stack,
                "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
                "PULUMI_ORGANIZATION": self.organization,
                "PULUMI_CONFIG": json.dumps(self.config),
                # The pack writes its port to stdout without flushing; unbuffered output makes
                # it arrive through a pipe at once (the CLI's plugin launcher does the same).
                "PYTHONUNBUFFERED": "1",
            }
        )
        self._process = subprocess.Popen(
            [self.python, "-m", "pulumi.policy", _ENGINE_ADDRESS_PLACEHOLDER, "."],
            cwd=self.pack_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            # Its own session, so a Ctrl-C meant for the caller does not kill the pack mid-call;
            # close() always stops it.
            start_new_session=True,
        )
        # Stops the pack if the caller forgets close(), at garbage collection or interpreter exit.
        # Limit: a caller killed with SIGKILL leaves the pack running until it is killed too.
        self._finalizer = weakref.finalize(self, _stop_process, self._process)
        port = self._read_port(timeout_seconds)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout_seconds)
        except grpc.FutureTimeoutError as exc:
            raise PolicyPackError(
                f"policy pack in '{self.pack_dir}' printed port {port} but did not accept a "
                f"connection within {timeout_seconds:.0f} s{self._stderr_excerpt()}"
            ) from exc
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        self._configure_stack()

    def _read_port(self, timeout_seconds: float) -> int:
        assert self._process is not None and self._process.stdout is not None
        first_line: queue.Queue[str | None] = queue.Queue(maxsize=1)
        stdout = self._process.stdout
        # The thread holds the deque, not self, so an abandoned driver can still be collected.
        tail = self._stdout_tail

        def drain() -> None:
            # The first line is the port; later lines are whatever policies print, kept so the
            # pipe never fills and blocks the pack.
            delivered = False
            for raw in iter(stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if not delivered:
                    first_line.put(line)
                    delivered = True
                else:
                    tail.append(line)
            if not delivered:
                first_line.put(None)

        threading.Thread(target=drain, name="policy-pack-stdout", daemon=True).start()
        try:
            line = first_line.get(timeout=timeout_seconds)
        except queue.Empty as exc:
            raise PolicyPackError(
                f"policy pack in '{self.pack_dir}' did not print its port within "
                f"{timeout_seconds:.0f} s{self._stderr_excerpt()}"
            ) from exc
        if line is None:
            code = self._process.wait(timeout=STOP_TIMEOUT_SECONDS)
            raise PolicyPackError(
                f"policy pack in '{self.pack_dir}' exited with code {code} before printing its "
                f"port{self._stderr_excerpt()}"
            )
        try:
            return int(line.strip())
        except ValueError as exc:
            raise PolicyPackError(
                f"policy pack in '{self.pack_dir}' printed {line[:200]!r} where its port was "
                f"expected{self._stderr_excerpt()}"
            ) from exc

    def close(self) -> None:
        """Stops the pack and releases its channel and files; safe to call more than once."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stub = None
        process, self._process = self._process, None
        if process is not None:
            self._finalizer.detach()
            _stop_process(process)
        if not self._stderr_file.closed:
            self._stderr_file.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stderr_text(self) -> str:
        """What the pack wrote to stderr so far (its pulumi.log output and tracebacks)."""
        if self._stderr_file.closed:
            return ""
        self._stderr_file.flush()
        position = self._stderr_file.tell()
        self._stderr_file.seek(0)
        text = self._stderr_file.read().decode("utf-8", "replace")
        self._stderr_file.seek(position)
        return text

    def _stderr_excerpt(self) -> str:
        text = self.stderr_text().strip()
        if not text:
            return "."
        return f"; its stderr ends with:\n{text[-_STDERR_TAIL_CHARS:]}"

    # Calls

    def _call(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise PolicyPackError(f"policy pack in '{self.pack_dir}' is not running")
        try:
            return getattr(self._stub, method)(request, timeout=self.call_timeout_seconds)
        except grpc.RpcError as exc:
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise PolicyPackError(
                f"policy pack in '{self.pack_dir}' failed {method}: {detail}"
                f"{self._stderr_excerpt()}"
            ) from exc

    def _configure_stack(self) -> None:
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack,
            project=self.project,
            organization=self.organization,
            dry_run=self.dry_run,
            config=self.config,
            tags=self.stack_tags,
        )
        try:
            self._stub.ConfigureStack(request, timeout=self.call_timeout_seconds)  # type: ignore[union-attr]
        except grpc.RpcError as exc:
            # Older packs do not implement ConfigureStack; the CLI carries on without it.
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(
                    f"policy pack in '{self.pack_dir}' failed ConfigureStack: {exc.details()}"
                    f"{self._stderr_excerpt()}"
                ) from exc

    @property
    def info(self) -> PackInfo:
        """The pack's name, version, policies and initial config (fetched once)."""
        if self._info is None:
            self._info = self._fetch_info()
        return self._info

    def _fetch_info(self) -> PackInfo:
        reply = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        policies = tuple(
            PolicyInfo(
                name=policy.name,
                description=policy.description,
                enforcement_level=_PROTO_TO_LEVEL[policy.enforcementLevel],
                config_schema=_schema_from_proto(policy),
                policy_type=_POLICY_TYPES.get(policy.policy_type, "unknown"),
            )
            for policy in reply.policies
        )
        initial_config: dict[str, dict[str, Any]] = {}
        for name, policy_config in reply.initialConfig.items():
            entry = json_format.MessageToDict(policy_config.properties)
            # proto3 cannot tell "no level" from 0 (ADVISORY): an initial-config entry that
            # sets only properties reads as advisory. The CLI converts it the same way.
            entry["enforcementLevel"] = _PROTO_TO_LEVEL[policy_config.enforcementLevel]
            initial_config[name] = entry
        # The CLI takes the version from PulumiPolicy.yaml; the Python SDK always says 0.0.1.
        version = _pack_yaml_version(self.pack_dir) or reply.version
        return PackInfo(
            name=reply.name,
            version=version,
            description=reply.description,
            policies=policies,
            initial_config=initial_config,
        )

    def reconcile(self, user_config: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """The config the CLI would send, without sending it: see `configure`."""
        return reconcile_policy_config(self.info, user_config or {})

    def configure(self, user_config: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Reconciles and validates config, sends it to the pack, and returns it.

        Order as in the CLI: schema defaults, then the pack's initial config, then the user's.
        Raises PolicyConfigError, naming each policy and key, before anything is sent.
        """
        effective = self.reconcile(user_config)
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in effective.items():
            properties = {key: value for key, value in entry.items() if key != "enforcementLevel"}
            policy_config = request.policyConfig[name]
            policy_config.enforcementLevel = _LEVEL_TO_PROTO[entry["enforcementLevel"]]
            policy_config.properties.update(properties)
        self._call("Configure", request)
        self._effective_config = effective
        return effective

    @property
    def effective_config(self) -> dict[str, dict[str, Any]] | None:
        return self._effective_config

    def analyze(self, resource: AnalyzedResource) -> list[Diagnostic]:
        """Runs the pack's resource policies on one resource, as at its registration."""
        return list(self.analyze_result(resource).diagnostics)

    def analyze_stack(self, resources: Iterable[AnalyzedResource]) -> list[Diagnostic]:
        """Runs the pack's stack policies on all resources, as at the end of a preview."""
        return list(self.analyze_stack_result(resources).diagnostics)

    def analyze_result(self, resource: AnalyzedResource) -> AnalysisResult:
        """`analyze`, with the policies that declared themselves not applicable."""
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=_to_struct(resource.properties, resource.urn),
            options=_options(resource),
        )
        provider = _provider(resource.provider)
        if provider is not None:
            request.provider.CopyFrom(provider)
        reply = self._call("Analyze", request)
        # The engine files a resource policy's diagnostic under the resource it analyzed, also
        # when the pack leaves the URN empty (as the SDK does for unknown values).
        return _result(reply, default_urn=resource.urn)

    def analyze_stack_result(self, resources: Iterable[AnalyzedResource]) -> AnalysisResult:
        """`analyze_stack`, with the policies that declared themselves not applicable."""
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in resources:
            item = request.resources.add(
                type=resource.type,
                urn=resource.urn,
                name=resource.name,
                parent=resource.parent or "",
                dependencies=list(resource.dependencies),
                options=_options(resource),
            )
            item.properties.CopyFrom(_to_struct(resource.properties, resource.urn))
            for key, urns in resource.property_dependencies.items():
                # The engine leaves out properties without dependencies.
                if urns:
                    item.propertyDependencies[key].urns.extend(urns)
            provider = _provider(resource.provider)
            if provider is not None:
                item.provider.CopyFrom(provider)
        reply = self._call("AnalyzeStack", request)
        return _result(reply, default_urn="")


# Config


def load_policy_config(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Reads a `--policy-pack-config` file: a JSON object of policy name -> level or settings.

    Returns policy name -> settings, the level (if any) under "enforcementLevel".
    """
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyConfigError([(str(file_path), "", f"cannot be read ({exc.strerror})")]) from exc
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(
            [(str(file_path), "", f"is not valid JSON ({exc.msg} at line {exc.lineno})")]
        ) from exc
    return normalize_policy_config(document, source=str(file_path))


def normalize_policy_config(document: Any, *, source: str = "policy config") -> dict[str, dict]:
    """Checks the shape of a policy config document and puts levels under "enforcementLevel"."""
    if not isinstance(document, Mapping):
        raise PolicyConfigError(
            [(source, "", f"must be a JSON object of policy names, got {type(document).__name__}")]
        )
    problems: list[tuple[str, str, str]] = []
    result: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if isinstance(value, str):
            entry: dict[str, Any] = {"enforcementLevel": value}
        elif isinstance(value, Mapping):
            entry = dict(value)
        else:
            problems.append((name, "", f"must be an enforcement level or an object, got {value!r}"))
            continue
        level = entry.get("enforcementLevel")
        if level is not None and level not in ENFORCEMENT_LEVELS:
            problems.append(
                (
                    name,
                    "enforcementLevel",
                    f"must be one of {', '.join(ENFORCEMENT_LEVELS)}, got {level!r}",
                )
            )
            continue
        if level is None:
            entry.pop("enforcementLevel", None)
        result[name] = entry
    if problems:
        raise PolicyConfigError(problems)
    return result


def reconcile_policy_config(
    info: PackInfo, user_config: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Effective config for every policy: schema defaults < pack initial config < user config.

    Every policy gets an entry with its enforcement level, as the CLI sends them. Stricter than
    the CLI, which would ignore them silently and so hide typos: unknown policy names, keys
    under "all" other than enforcementLevel, and keys a policy's schema does not declare are
    errors here.
    """
    known = {policy.name for policy in info.policies}
    user = normalize_policy_config(user_config, source="user policy config")
    initial = normalize_policy_config(info.initial_config, source="pack initial config")

    problems: list[tuple[str, str, str]] = [
        (
            name,
            "",
            f"is not a policy of pack '{info.name}'; known policies: {', '.join(sorted(known))}",
        )
        for name in sorted(set(user) - known - {_ALL_POLICIES_KEY})
    ]
    for source in (initial, user):
        problems.extend(
            (
                _ALL_POLICIES_KEY,
                key,
                "'all' sets only enforcementLevel (the Pulumi CLI ignores any other key under "
                "it); set this key under the name of each policy that should get it",
            )
            for key in sorted(source.get(_ALL_POLICIES_KEY, {}))
            if key != "enforcementLevel"
        )

    effective: dict[str, dict[str, Any]] = {}
    for policy in info.policies:
        entry: dict[str, Any] = {"enforcementLevel": policy.enforcement_level}
        for key, schema in policy.config_schema.get("properties", {}).items():
            if isinstance(schema, Mapping) and "default" in schema:
                entry[key] = schema["default"]
        effective[policy.name] = entry
    _apply_config(effective, initial)
    _apply_config(effective, user)

    for policy in info.policies:
        properties = {
            key: value for key, value in effective[policy.name].items() if key != "enforcementLevel"
        }
        problems.extend(_schema_problems(policy, properties))
    if problems:
        raise PolicyConfigError(problems)
    return effective


def _apply_config(effective: dict[str, dict[str, Any]], config: Mapping[str, dict]) -> None:
    everything = config.get(_ALL_POLICIES_KEY, {})
    if "enforcementLevel" in everything:
        for entry in effective.values():
            entry["enforcementLevel"] = everything["enforcementLevel"]
    for name, settings in config.items():
        if name == _ALL_POLICIES_KEY or name not in effective:
            continue
        effective[name].update(settings)


def _schema_problems(policy: PolicyInfo, properties: Mapping[str, Any]) -> list[tuple]:
    schema: dict[str, Any] = {"type": "object"}
    if policy.config_schema.get("properties"):
        schema["properties"] = policy.config_schema["properties"]
        # The protocol cannot carry `additionalProperties`, so the CLI never refuses an unknown
        # key; a policy that declares its keys would then run on a default in place of a
        # misspelt setting. A policy without declared keys may read anything, as in the CLI.
        schema["additionalProperties"] = False
    if policy.config_schema.get("required"):
        schema["required"] = list(policy.config_schema["required"])
    # Draft 7 is the newest draft the CLI's validator (gojsonschema) understands.
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in sorted(
        validator.iter_errors(properties), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        if error.validator == "required" and not error.absolute_path:
            for key in error.validator_value:
                if key not in properties:
                    problems.append((policy.name, key, "is required and has no default; set it"))
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            declared = sorted(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - set(declared)):
                problems.append(
                    (
                        policy.name,
                        _key_path([*error.absolute_path, extra]),
                        f"is not a config key of this policy, which takes {', '.join(declared)}"
                        " (and enforcementLevel); correct the spelling or remove it",
                    )
                )
            continue
        key = _key_path(error.absolute_path)
        expected = _expectation(error.schema)
        text = f"{error.message}; expected {expected}" if expected else error.message
        problems.append((policy.name, key, text))
    return problems


def _key_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _expectation(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return ""

    def number(value: Any) -> Any:
        # Schemas come back through protobuf, where every number is a double.
        return int(value) if isinstance(value, float) and value.is_integer() else value

    parts = []
    if "type" in schema:
        parts.append(f"type {schema['type']}")
    if "enum" in schema:
        parts.append("one of " + ", ".join(repr(v) for v in schema["enum"]))
    if "minimum" in schema:
        parts.append(f"at least {number(schema['minimum'])}")
    if "maximum" in schema:
        parts.append(f"at most {number(schema['maximum'])}")
    if "description" in schema:
        parts.append(f"({schema['description']})")
    return " ".join(parts)


def _schema_from_proto(policy: analyzer_pb2.PolicyInfo) -> dict[str, Any]:
    if not policy.HasField("configSchema"):
        return {}
    schema: dict[str, Any] = {
        "properties": json_format.MessageToDict(policy.configSchema.properties)
    }
    if policy.configSchema.required:
        schema["required"] = list(policy.configSchema.required)
    return schema


def _pack_yaml_version(pack_dir: Path) -> str:
    try:
        document = yaml.safe_load((pack_dir / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return ""
    if isinstance(document, Mapping) and document.get("version") is not None:
        return str(document["version"])
    return ""


# Values on the wire


def to_wire(value: Any, path: str = "") -> Any:
    """A property value as the engine marshals it: unknowns and secrets in their encodings."""
    if value is UNKNOWN:
        # The engine sends every unknown as the unknown string, whatever its type would be.
        return rpc.UNKNOWN
    if isinstance(value, Secret):
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": to_wire(value.value, path)}
    if isinstance(value, pulumi.Asset):
        return _asset_to_wire(value, path)
    if isinstance(value, pulumi.Archive):
        return _archive_to_wire(value, path)
    if isinstance(value, Mapping):
        return {
            str(key): to_wire(item, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [to_wire(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(
        f"property '{path}' holds a {type(value).__name__}, which the engine cannot send; "
        "use str, number, bool, None, list, dict, UNKNOWN, Secret or a pulumi asset/archive."
    )


def _asset_to_wire(asset: pulumi.Asset, path: str) -> dict[str, Any]:
    wire: dict[str, Any] = {rpc._special_sig_key: rpc._special_asset_sig}
    if isinstance(asset, pulumi.FileAsset):
        wire["path"] = to_wire(asset.path, path)
    elif isinstance(asset, pulumi.StringAsset):
        wire["text"] = to_wire(asset.text, path)
    elif isinstance(asset, pulumi.RemoteAsset):
        wire["uri"] = to_wire(asset.uri, path)
    else:
        raise TypeError(f"property '{path}' holds an unsupported asset {type(asset).__name__}")
    return wire


def _archive_to_wire(archive: pulumi.Archive, path: str) -> dict[str, Any]:
    wire: dict[str, Any] = {rpc._special_sig_key: rpc._special_archive_sig}
    if isinstance(archive, pulumi.AssetArchive):
        wire["assets"] = {
            name: to_wire(item, f"{path}.{name}") for name, item in archive.assets.items()
        }
    elif isinstance(archive, pulumi.FileArchive):
        wire["path"] = to_wire(archive.path, path)
    elif isinstance(archive, pulumi.RemoteArchive):
        wire["uri"] = to_wire(archive.uri, path)
    else:
        raise TypeError(f"property '{path}' holds an unsupported archive {type(archive).__name__}")
    return wire


def _to_struct(properties: Mapping[str, Any], urn: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    try:
        struct.update(to_wire(dict(properties)))
    except TypeError as exc:
        raise TypeError(f"{urn}: {exc}") from exc
    return struct


def _options(resource: AnalyzedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent or "")


def _provider(reference: str | None) -> analyzer_pb2.AnalyzerProviderResource | None:
    if not reference:
        return None
    parts = reference.split("::")
    # A URN has four "::"-separated parts; a provider reference appends "::<id>".
    urn = "::".join(parts[:4])
    type_part = parts[2] if len(parts) > 2 else ""
    provider_type = type_part.rsplit("$", 1)[-1]
    name = parts[3] if len(parts) > 3 else ""
    return analyzer_pb2.AnalyzerProviderResource(type=provider_type, urn=urn, name=name)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminates the pack, kills it if it lingers, and reaps it so no zombie is left."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    if process.stdout is not None:
        process.stdout.close()


def _result(reply: analyzer_pb2.AnalyzeResponse, *, default_urn: str) -> AnalysisResult:
    return AnalysisResult(
        diagnostics=tuple(_diagnostic(item, default_urn=default_urn) for item in reply.diagnostics),
        not_applicable={item.policy_name: item.reason for item in reply.not_applicable},
    )


def _diagnostic(item: analyzer_pb2.AnalyzeDiagnostic, *, default_urn: str) -> Diagnostic:
    return Diagnostic(
        policy_pack=item.policyPackName,
        policy=item.policyName,
        level=_PROTO_TO_LEVEL.get(item.enforcementLevel, "advisory"),
        urn=item.urn or default_urn,
        message=item.message,
        description=item.description,
    )
