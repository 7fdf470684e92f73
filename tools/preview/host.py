"""Runs one Pulumi Python program under a recording mock monitor; one process per preview.

Started by tools.preview.engine as `python -m tools.preview.host REQUEST.json RESULT.json`.
The program's imports and the Pulumi SDK's global state live and die with this process.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi import _types
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime import stack as runtime_stack
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import engine_pb2
from pulumi.runtime.sync_await import _sync_await

from tools.preview.answers import AnswerError, Answers, answer_invoke, stack_reference_state
from tools.preview.computed import (
    SECRET_SIG,
    SECRET_SIG_KEY,
    UNKNOWN_WIRE,
    ResourceFacts,
    autoname_property,
    computed_values,
    plan_time_values,
    unwrap_secret,
)

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


class ResourceClasses:
    """Maps type tokens to the Python classes the program constructs, in program order.

    A legacy stack transformation sees every resource as it is constructed, with its class:
    the class tells which outputs the provider computes, which the registration request
    does not (the SDK drops the None placeholders of output-only properties).
    """

    def __init__(self) -> None:
        self.by_type: dict[str, type] = {}
        self.order: dict[tuple[str, str, str, str], int] = {}

    def observe(self, args: pulumi.ResourceTransformationArgs) -> None:
        self.by_type.setdefault(args.type_, type(args.resource))
        parent = args.opts.parent if args.opts and args.opts.parent else None
        parent_key = (parent._type, parent._name) if parent is not None else ("", "")
        key = (args.type_, args.name, *parent_key)
        self.order.setdefault(key, len(self.order))

    def declared(self, type_: str) -> tuple[dict[str, Any], set[str]]:
        """(output name -> Python type, input names) of a type, both camelCase."""
        cls = self.by_type.get(type_)
        if cls is None:
            return {}, set()
        outputs = {
            name: _types.unwrap_optional_type(prop_type)
            for name, prop_type in _types.resource_types(cls).items()
            if name not in ("id", "urn")
        }
        args_cls = getattr(sys.modules.get(cls.__module__), f"{cls.__name__}Args", None)
        inputs = (
            set(_types.input_type_py_to_pulumi_names(args_cls).values())
            if args_cls is not None and _types.is_input_type(args_cls)
            else set()
        )
        return outputs, inputs


class PreviewMocks(mocks.Mocks):
    """Answers registrations as a provider would during a preview of a new or existing stack.

    Known limits: no provider Check runs, so a value the provider would reject (a bad CIDR, an
    unknown instance class) passes here; auto-naming is the only planning step imitated. The
    SDK's MockMonitor runs no resource transforms and cannot construct remote (multi-language)
    components, so a program relying on either previews differently or fails.
    """

    def __init__(
        self, *, new_stack: bool, region: str, answers: Answers, classes: ResourceClasses
    ) -> None:
        self.new_stack = new_stack
        self.region = region
        self.answers = answers
        self.classes = classes
        self.current = threading.local()
        # URN -> inputs the provider fills in while planning (the auto-generated name).
        self.plan_inputs: dict[str, dict[str, Any]] = {}
        # Provider URN -> the region its `region` input names (explicit providers only; the
        # default provider takes aws:region, which is self.region).
        self.provider_regions: dict[str, str] = {}

    def region_of(
        self, provider_reference: str | None, inputs: Mapping[str, Any] | None = None
    ) -> str:
        """The region a resource or invoke runs in, as pulumi-aws 7 resolves it.

        A resource's own `region` input wins, then its provider's `region`, then the stack's
        aws:region; a value not known yet (a first preview) falls through to the next.
        """
        own = _known_string((inputs or {}).get("region"))
        if own is not None:
            return own
        if provider_reference:
            provider_urn = "::".join(provider_reference.split("::")[:4])
            if provider_urn in self.provider_regions:
                return self.provider_regions[provider_urn]
        return self.region

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list]:
        region = self.region_of(args.provider)
        return answer_invoke(args.token, args.args, region, self.answers), []

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        urn: str = self.current.urn
        wire_inputs: dict[str, Any] = self.current.wire_inputs
        if args.typ == STACK_REFERENCE_TYPE:
            return args.resource_id or "", stack_reference_state(args.inputs["name"], self.answers)
        # A component has no provider state; ReadResource passes custom=None, never False.
        if args.custom is False:
            return "", {}

        state = dict(args.inputs)
        if args.typ.startswith(PROVIDER_TYPE_PREFIX):
            region = _known_string(wire_inputs.get("region"))
            if region is not None:
                self.provider_regions[urn] = region
            facts = ResourceFacts(urn, args.typ, args.name, wire_inputs, self.region)
            return ("" if self.new_stack else facts.uuid("provider")), state

        declared_outputs, input_names = self.classes.declared(args.typ)
        region = self.region_of(getattr(self.current, "provider", None), wire_inputs)
        facts = ResourceFacts(urn, args.typ, args.name, wire_inputs, region)
        plan = plan_time_values(facts, input_names, set(declared_outputs))
        name_prop = autoname_property(args.typ, input_names)
        self.plan_inputs[urn] = {k: v for k, v in plan.items() if k == name_prop}
        state.update(plan)
        facts = ResourceFacts(urn, args.typ, args.name, {**wire_inputs, **plan}, facts.region)

        # A read resource exists already, so even a first preview knows its outputs.
        if self.new_stack and not args.resource_id:
            return "", state
        resource_id, computed = computed_values(facts, declared_outputs, input_names)
        state.update(computed)
        # The engine marks the outputs a resource class lists as secret (a password, say).
        for key in getattr(self.current, "secret_outputs", ()):
            if key in state and not rpc.is_rpc_secret(state[key]):
                state[key] = rpc.wrap_rpc_secret(state[key])
        return args.resource_id or resource_id, state


class RecordingMonitor(mocks.MockMonitor):
    """A MockMonitor that records every registration as the engine receives it."""

    def __init__(
        self,
        preview_mocks: PreviewMocks,
        *,
        project: str,
        stack: str,
        new_stack: bool,
        config: Mapping[str, str],
    ) -> None:
        super().__init__(preview_mocks)
        self.preview_mocks = preview_mocks
        self.project = project
        self.stack = stack
        self.new_stack = new_stack
        self.config = config
        self.records: dict[str, dict[str, Any]] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives: the parent's whole qualified type, the root stack left out.

        MockMonitor keeps only the parent's last type and keeps the stack's; the engine writes
        urn:pulumi:dev::proj::my:Component$aws:s3/bucket:Bucket::name for a component's child
        and urn:pulumi:dev::proj::aws:s3/bucket:Bucket::name for a top-level resource.
        """
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"

    def RegisterResource(self, request):  # noqa: N802 - the gRPC method's name
        urn = self.make_urn(request.parent, request.type, request.name)
        wire_inputs = _wire(request.object)
        self.preview_mocks.current.urn = urn
        self.preview_mocks.current.wire_inputs = wire_inputs
        self.preview_mocks.current.secret_outputs = tuple(request.additionalSecretOutputs)
        self.preview_mocks.current.provider = request.provider
        response = super().RegisterResource(request)
        inputs = {**wire_inputs, **self.preview_mocks.plan_inputs.get(urn, {})}
        self._record(request, urn, response.id, inputs, operation="create")
        return response

    def ReadResource(self, request):  # noqa: N802 - the gRPC method's name
        urn = self.make_urn(request.parent, request.type, request.name)
        wire_inputs = _wire(request.properties)
        self.preview_mocks.current.urn = urn
        self.preview_mocks.current.wire_inputs = wire_inputs
        self.preview_mocks.current.secret_outputs = tuple(request.additionalSecretOutputs)
        self.preview_mocks.current.provider = request.provider
        response = super().ReadResource(request)
        self._record(request, urn, request.id, wire_inputs, operation="read")
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 - the gRPC method's name
        if request.urn.split("::")[2] == STACK_TYPE:
            with self.lock:
                self.stack_outputs = _wire(request.outputs)
        return super().RegisterResourceOutputs(request)

    def _record(
        self, request, urn: str, resource_id: str, inputs: dict[str, Any], operation: str
    ) -> None:
        custom = operation == "read" or bool(getattr(request, "custom", False))
        if request.type == STACK_TYPE:
            custom = False
        provider = request.provider or None
        if custom and provider is None and not request.type.startswith("pulumi:"):
            provider = self._default_provider(request.type.split(":")[0], request.version)
        property_dependencies = (
            {key: sorted(deps.urns) for key, deps in request.propertyDependencies.items()}
            if operation == "create"
            else {}
        )
        record = {
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "parent": request.parent or None,
            "provider": provider,
            "custom": custom,
            "operation": operation,
            "id": resource_id if resource_id else (UNKNOWN_WIRE if custom else None),
            "inputs": inputs,
            "dependencies": sorted(set(request.dependencies)) if operation == "create" else [],
            "propertyDependencies": property_dependencies,
            "additionalSecretOutputs": sorted(getattr(request, "additionalSecretOutputs", [])),
        }
        with self.lock:
            self.records[urn] = record

    def _default_provider(self, package: str, version: str) -> str:
        """The reference to the default provider the engine would create for a package."""
        name = f"default_{version.replace('.', '_')}" if version else "default"
        urn = f"urn:pulumi:{self.stack}::{self.project}::{PROVIDER_TYPE_PREFIX}{package}::{name}"
        with self.lock:
            known = self.records.get(urn)
        if known is None:
            facts = ResourceFacts(urn, f"{PROVIDER_TYPE_PREFIX}{package}", name, {})
            provider_id = UNKNOWN_WIRE if self.new_stack else facts.uuid("provider")
            inputs = {
                key.split(":", 1)[1]: value
                for key, value in self.config.items()
                if key.startswith(f"{package}:")
            }
            if version:
                inputs["version"] = version
            known = {
                "urn": urn,
                "type": f"{PROVIDER_TYPE_PREFIX}{package}",
                "name": name,
                "parent": None,
                "provider": None,
                "custom": True,
                "operation": "create",
                "id": provider_id,
                "inputs": inputs,
                "dependencies": [],
                "propertyDependencies": {},
                "additionalSecretOutputs": [],
                "default": True,
            }
            with self.lock:
                known = self.records.setdefault(urn, known)
        return f"{urn}::{known['id']}"


class _LogRecorder(mocks.MockEngine):
    """Keeps what the program logs through pulumi.log, with the URN of the resource a message
    is about, to show it as pulumi preview does. The SDK's MockEngine hands a logger the text
    alone; this engine takes the whole LogRequest. Debug messages are left out, as the CLI
    leaves them out unless asked."""

    _SEVERITIES = {
        engine_pb2.INFO: "info",
        engine_pb2.WARNING: "warning",
        engine_pb2.ERROR: "error",
    }

    def __init__(self) -> None:
        super().__init__(logging.getLogger("tools.preview.program"))
        self.messages: list[dict[str, str | None]] = []
        self.lock = threading.Lock()

    def Log(self, request) -> None:  # noqa: N802 - the gRPC method's name
        severity = self._SEVERITIES.get(request.severity)
        if severity is None:
            return
        with self.lock:
            self.messages.append(
                {"severity": severity, "message": request.message, "urn": request.urn or None}
            )


def run(request: Mapping[str, Any]) -> dict[str, Any]:
    """Run the program the request names; return what the monitor recorded, or the error."""
    project, stack = request["project"], request["stack"]
    main_path = Path(request["mainPath"])
    config = request["config"]
    set_all_config(dict(config), list(request["secretKeys"]))

    classes = ResourceClasses()
    answers = Answers(
        invokes=request.get("invokes") or {}, stack_references=request.get("stackReferences") or {}
    )
    preview_mocks = PreviewMocks(
        new_stack=request["newStack"], region=request["region"], answers=answers, classes=classes
    )
    monitor = RecordingMonitor(
        preview_mocks, project=project, stack=stack, new_stack=request["newStack"], config=config
    )
    mocks.set_mocks(preview_mocks, project=project, stack=stack, preview=True, monitor=monitor)
    logs = _LogRecorder()
    settings.SETTINGS.engine = logs
    # set_mocks makes and finishes a root stack of its own; the program gets a fresh one, made
    # and finished by run_in_stack as the language host does, so its exports are registered.
    settings.set_root_resource(None)

    def program() -> None:
        pulumi.runtime.register_stack_transformation(_observer(classes))
        sys.path.insert(0, str(main_path.parent))
        runpy.run_path(str(main_path), run_name="__main__")

    error = None
    try:
        _sync_await(runtime_stack.run_in_stack(program))
    except BaseException as exc:  # noqa: BLE001 - any program failure is reported, not raised
        error = describe_error(exc, main_path.parent)

    return {
        "resources": list(monitor.records.values()),
        "order": [[*key, index] for key, index in classes.order.items()],
        "outputs": monitor.stack_outputs,
        "logs": logs.messages,
        "error": error,
    }


def describe_error(exc: BaseException, program_dir: Path) -> dict[str, str]:
    """The program's own message, with where in the program it came from when that helps."""
    cause = exc
    # The SDK re-raises an RPC's failure from the original; the original says what happened.
    # A chain may loop back on itself (the SDK re-raises a type error from itself), so stop at
    # the first exception already seen.
    seen = {id(cause)}
    while (
        cause.__cause__ is not None
        and id(cause.__cause__) not in seen
        and not isinstance(cause, AnswerError)
    ):
        cause = cause.__cause__
        seen.add(id(cause))
    if isinstance(cause, AnswerError):
        return {"kind": "answers", "message": str(cause)}
    if isinstance(exc, (pulumi.RunError, pulumi.ConfigMissingError, pulumi.ConfigTypeError)):
        return {"kind": "program", "message": str(exc)}
    if isinstance(exc, SystemExit):
        return {"kind": "program", "message": f"the program exited with status {exc.code}"}
    location = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        # Frozen and generated code has names such as "<frozen runpy>", which would resolve
        # against the working directory (the program's) and pass for a program file.
        filename = Path(frame.filename)
        if filename.is_absolute() and filename.resolve().is_relative_to(program_dir.resolve()):
            location = f" (at {Path(frame.filename).name}:{frame.lineno})"
            break
    return {"kind": "program", "message": f"{type(exc).__name__}: {exc}{location}"}


def _observer(classes: ResourceClasses):
    def observe(args: pulumi.ResourceTransformationArgs) -> None:
        classes.observe(args)

    return observe


def _known_string(value: Any) -> str | None:
    """A wire value as a plain string (a secret unwrapped); None when unset or unknown."""
    value = unwrap_secret(value)
    return value if isinstance(value, str) and value and value != UNKNOWN_WIRE else None


def _wire(struct) -> dict[str, Any]:
    """A protobuf Struct as the engine sees it: unknowns and secret markers kept as they are.

    Resource references become the resource's id (or URN for a component), as the engine
    hands them to an analyzer.
    """
    return _plain(json_format.MessageToDict(struct))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == _RESOURCE_SIG:
            return value.get("id") or value.get("urn")
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return {SECRET_SIG_KEY: SECRET_SIG, "value": _plain(value.get("value"))}
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    # Struct numbers are doubles; whole numbers go back to ints, as the program wrote them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def main(argv: list[str]) -> int:
    request_path, result_path = Path(argv[0]), Path(argv[1])
    request = json.loads(request_path.read_text(encoding="utf-8"))
    os.chdir(Path(request["mainPath"]).parent)
    result = run(request)
    Path(result_path).write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK leaves event loops behind whose finalizers fail noisily at interpreter teardown;
    # the result is written, so this process ends without running them.
    os._exit(status)
