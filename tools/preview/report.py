"""Renders a preview: the resource tree and policy results as text, the --json and --graph files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tools.preview.computed import SECRET_SIG, SECRET_SIG_KEY, UNKNOWN_WIRE
from tools.preview.engine import ProgramRun, RecordedResource
from tools.preview.policy import PackResult, diagnostics_json
from tools.preview.project import StackConfig

SECRET_SHOWN = "[secret]"
UNKNOWN_SHOWN = "[unknown]"
LEVELS = ("mandatory", "remediate", "advisory")
_OPERATION_MARK = {"create": "+", "read": ">"}


def summary(
    run: ProgramRun, packs: Sequence[PackResult], *, new_stack: bool, stack: StackConfig
) -> dict[str, Any]:
    shown = [r for r in run.resources if not r.default_provider]
    counts = {level: 0 for level in LEVELS}
    for pack in packs:
        for diagnostic in pack.diagnostics:
            counts[diagnostic.level] = counts.get(diagnostic.level, 0) + 1
    return {
        "project": stack.project,
        "stack": stack.stack,
        "newStack": new_stack,
        "create": sum(1 for r in shown if r.operation == "create"),
        "read": sum(1 for r in shown if r.operation == "read"),
        "mandatory": counts["mandatory"],
        "advisory": counts["advisory"],
        "remediate": counts["remediate"],
        "policyPacks": [f"{pack.name}@{pack.version}" for pack in packs],
        "placeholderSecrets": sorted(stack.placeholder_keys),
    }


def text_report(
    run: ProgramRun, packs: Sequence[PackResult], stack: StackConfig, *, new_stack: bool
) -> str:
    """The preview as `pulumi preview` prints it: tree, outputs, policies, summary."""
    mode = "new stack, first preview" if new_stack else "existing stack"
    lines = [f"Previewing update ({stack.stack}), offline, {mode}:", ""]
    lines.extend(_tree_lines(run))

    if run.logs or run.program_output.strip():
        lines += ["", "Diagnostics:"]
        lines.extend(_diagnostic_lines(run, stack))

    if run.outputs:
        lines += ["", "Outputs:"]
        width = max(len(name) for name in run.outputs)
        for name in sorted(run.outputs):
            lines.append(f"    {name.ljust(width)}: {_shown(run.outputs[name])}")

    names = {r.urn: r for r in run.resources}
    lines += ["", "Policies:"]
    if not packs:
        lines.append("    (no policy pack)")
    for pack in packs:
        lines.append(f"    {pack.name}@v{pack.version}")
        by_policy: dict[str, list] = {}
        for diagnostic in pack.diagnostics:
            by_policy.setdefault(diagnostic.policy, []).append(diagnostic)
        if not by_policy:
            lines.append("        no violations")
        for policy in sorted(by_policy):
            found = by_policy[policy]
            lines.append(f"        - [{found[0].level}] {policy} ({len(found)})")
            for diagnostic in sorted(found, key=lambda d: (d.urn, d.message)):
                resource = names.get(diagnostic.urn)
                where = (
                    f"{_short_type(resource.type)}: {resource.name}"
                    if resource
                    else diagnostic.urn or "stack"
                )
                lines.append(f"            {where}")
                for text in diagnostic.message.strip().splitlines():
                    lines.append(f"                {text}")

    totals = summary(run, packs, new_stack=new_stack, stack=stack)
    lines += ["", "Resources:", f"    + {totals['create']} to create"]
    if totals["read"]:
        lines.append(f"    > {totals['read']} to read")
    lines.append(
        f"Policy violations: {totals['mandatory']} mandatory, {totals['advisory']} advisory"
        + (f", {totals['remediate']} remediate" if totals["remediate"] else "")
    )
    if stack.placeholder_keys:
        lines.append(
            f"Secure config replaced by placeholder secrets (no secrets provider offline): "
            f"{', '.join(sorted(stack.placeholder_keys))}"
        )
    return "\n".join(lines) + "\n"


def json_report(
    run: ProgramRun, packs: Sequence[PackResult], stack: StackConfig, *, new_stack: bool
) -> str:
    """The --json document; keys sorted, secrets masked, unknowns as Pulumi's sentinel."""
    document = {
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "provider": r.provider,
                "custom": r.custom,
                "operation": r.operation,
                "inputs": mask_secrets(dict(r.inputs)),
                "dependencies": list(r.dependencies),
                "propertyDependencies": {k: list(v) for k, v in r.property_dependencies.items()},
            }
            for r in run.resources
        ],
        "outputs": mask_secrets(dict(run.outputs)),
        "diagnostics": program_diagnostics_json(run) + diagnostics_json(packs),
        "summary": summary(run, packs, new_stack=new_stack, stack=stack),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def program_diagnostics_json(run: ProgramRun) -> list[dict[str, str | None]]:
    """What the program logged through pulumi.log, in the --json diagnostics schema.

    No pack and no policy reported these, so both are null; the level is the log's severity
    (info, warning, error) and the urn that of the resource the message is about, or null.
    Sorted, since messages about a resource arrive once its URN resolves, in no fixed order.
    """
    rows = [
        {
            "policyPack": None,
            "policy": None,
            "level": log["severity"],
            "urn": log.get("urn"),
            "message": log["message"],
        }
        for log in run.logs
    ]
    return sorted(rows, key=lambda row: (row["urn"] or "", row["level"], row["message"]))


def dot_graph(run: ProgramRun) -> str:
    """Dependencies (solid, from a resource to what it needs) and parents (dashed) in DOT."""
    ids = {r.urn: f"r{index}" for index, r in enumerate(run.resources)}
    lines = ["digraph preview {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for r in run.resources:
        shape = "" if r.custom else ", style=rounded"
        label = f"{_short_type(r.type)}\\n{r.name}".replace('"', '\\"')
        lines.append(f'  {ids[r.urn]} [label="{label}"{shape}];')
    for r in run.resources:
        for dependency in sorted(set(r.dependencies)):
            if dependency in ids:
                lines.append(f"  {ids[r.urn]} -> {ids[dependency]};")
        if r.parent in ids:
            lines.append(f"  {ids[r.urn]} -> {ids[r.parent]} [style=dashed, arrowhead=none];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def mask_secrets(value: Any) -> Any:
    """Replace every secret (wire marker) by [secret]; the value never leaves the process."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return SECRET_SHOWN
        return {key: mask_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def _shown(value: Any) -> str:
    masked = mask_secrets(value)
    if masked == SECRET_SHOWN:
        return SECRET_SHOWN
    if masked == UNKNOWN_WIRE:
        return UNKNOWN_SHOWN
    return json.dumps(masked, sort_keys=True).replace(f'"{UNKNOWN_WIRE}"', UNKNOWN_SHOWN)


def _diagnostic_lines(run: ProgramRun, stack: StackConfig) -> list[str]:
    """The program's log messages under the resource each names, as `pulumi preview` groups
    them; messages about no resource, and what the program printed, go under the stack."""
    names = {r.urn: r for r in run.resources}
    by_urn: dict[str | None, list[dict[str, str | None]]] = {}
    for row in program_diagnostics_json(run):
        urn = row["urn"] if row["urn"] in names else None
        by_urn.setdefault(urn, []).append(row)
    printed = run.program_output.strip().splitlines()

    lines: list[str] = []
    if by_urn.get(None) or printed:
        lines.append(f"  pulumi:pulumi:Stack ({stack.project}-{stack.stack}):")
        for row in by_urn.get(None, []):
            lines.extend(_message_lines(row))
        lines += [f"    {line}" for line in printed]
    urns = sorted((urn for urn in by_urn if urn is not None), key=lambda u: run.order.get(u, -1))
    for urn in urns:
        resource = names[urn]
        lines.append(f"  {_short_type(resource.type)} ({resource.name}):")
        for row in by_urn[urn]:
            lines.extend(_message_lines(row))
    return lines


def _message_lines(row: dict[str, str | None]) -> list[str]:
    first, *rest = str(row["message"]).strip().splitlines() or [""]
    return [f"    {row['level']}: {first}", *(f"      {line}" for line in rest)]


def _tree_lines(run: ProgramRun) -> list[str]:
    children: dict[str | None, list[RecordedResource]] = {}
    shown = [r for r in run.resources if not r.default_provider]
    urns = {r.urn for r in shown}
    for r in shown:
        parent = r.parent if r.parent in urns else None
        children.setdefault(parent, []).append(r)

    rows: list[tuple[str, str, str, str]] = []

    def walk(resource: RecordedResource, prefix: str, last: bool, root: bool) -> None:
        branch = "" if root else prefix + ("└─ " if last else "├─ ")
        mark = _OPERATION_MARK.get(resource.operation, " ")
        rows.append((mark, branch + _short_type(resource.type), resource.name, resource.operation))
        kids = children.get(resource.urn, [])
        for index, kid in enumerate(kids):
            extension = "" if root else prefix + ("   " if last else "│  ")
            walk(kid, extension, index == len(kids) - 1, False)

    roots = children.get(None, [])
    for index, root in enumerate(roots):
        walk(root, "", index == len(roots) - 1, True)

    type_width = max([len("Type")] + [len(row[1]) for row in rows])
    name_width = max([len("Name")] + [len(row[2]) for row in rows])
    lines = [f"     {'Type'.ljust(type_width)}  {'Name'.ljust(name_width)}  Plan"]
    for mark, type_text, name, operation in rows:
        lines.append(
            f" {mark}   {type_text.ljust(type_width)}  {name.ljust(name_width)}  {operation}"
        )
    return lines


def _short_type(type_: str) -> str:
    """aws:s3/bucket:Bucket -> aws:s3:Bucket, as the CLI shows types."""
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        module, leaf = parts[1].rsplit("/", 1)
        if leaf.lower() == parts[2].lower():
            return f"{parts[0]}:{module}:{parts[2]}"
    return type_
