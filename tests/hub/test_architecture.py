"""The code base keeps its two structural promises, checked on the source itself:

* layers: automation_hub (core) ← hands ← rendering ← monitoring; no module imports a higher
  layer, not even inside a function;
* one owner: only `rendering.services.transitions` writes an instruction's state (status,
  priority, claim/lease fields, retry count).

Each check is also run on a small sample that breaks it, so a checker that went blind would fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from rendering.services.transitions.table import STATE_FIELDS

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("automation_hub", "hands", "rendering", "monitoring")
OWNER = ROOT / "rendering" / "services" / "transitions"
WRITE_METHODS = {"update", "create", "get_or_create", "update_or_create", "bulk_create"}
# Models of other rows whose own fields share a name with an instruction's state field (a sync
# run's status, an output's status): writes on them are not the instruction's business.
OTHER_MODELS = {
    "SyncRun",
    "BlockState",
    "RenderOutput",
    "Tournament",
    "Hand",
    "MonitoringEvent",
    "CircuitBreaker",
    "ApiKey",
    "LiveEvent",
    "Schedule",
}


def _sources(app: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / app).rglob("*.py")):
        yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), filename=str(path))


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
        "import_module",
        "import_string",
    ):
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value]
    return []


def upward_imports(app: str, tree: ast.Module) -> list[str]:
    """Modules of a higher layer than `app` that `tree` imports (anywhere in it)."""
    level = LAYERS.index(app)
    return [
        name
        for node in ast.walk(tree)
        for name in _imported(node)
        if name.split(".")[0] in LAYERS and LAYERS.index(name.split(".")[0]) > level
    ]


def _root_name(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _written_fields(call: ast.Call) -> set[str]:
    names = {kw.arg for kw in call.keywords if kw.arg}
    if any(kw.arg is None for kw in call.keywords) and _root_name(call.func) == "RenderInstruction":
        names.add("**…")  # fields from a dict: only the owner may write rows that way
    for kw in call.keywords:
        if kw.arg in ("defaults", "create_defaults") and isinstance(kw.value, ast.Dict):
            names |= {k.value for k in kw.value.keys if isinstance(k, ast.Constant)}
        if kw.arg == "update_fields" and isinstance(kw.value, ast.List | ast.Tuple):
            names |= {e.value for e in kw.value.elts if isinstance(e, ast.Constant)}
    return names & (STATE_FIELDS | {"**…"})


def state_writes(tree: ast.Module) -> list[str]:
    """Places in `tree` that write an instruction's state fields, as `line: what`, in order."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, written = node.func.attr, _written_fields(node)
            is_write = method in WRITE_METHODS or method == "save"
            if is_write and written and _root_name(node.func.value) not in OTHER_MODELS:
                found.append((node.lineno, f".{method}({', '.join(sorted(written))})"))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "RenderInstruction":
            if written := _written_fields(node):
                found.append((node.lineno, f"RenderInstruction({', '.join(sorted(written))})"))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in STATE_FIELDS:
                    found.append((node.lineno, f".{target.attr} = …"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            sql = node.value.upper()
            if "UPDATE" in sql and "RENDERINSTRUCTION" in sql.replace("_", ""):
                found.append((node.lineno, "raw SQL UPDATE of the instructions"))
    return [f"{line}: {what}" for line, what in sorted(found)]


@pytest.mark.parametrize("app", LAYERS)
def test_no_module_imports_a_higher_layer(app):
    offenders = {
        path: names for path, tree in _sources(app) if (names := upward_imports(app, tree))
    }
    assert offenders == {}


def test_only_the_transitions_package_writes_an_instructions_state():
    offenders = {
        path: writes
        for app in LAYERS
        for path, tree in _sources(app)
        if not (ROOT / path).is_relative_to(OWNER)
        and "/migrations/" not in path
        and (writes := state_writes(tree))
    }
    assert offenders == {}


def test_the_transitions_package_does_write_them():
    # The check above reads real code: in the owner itself it sees the writes (claim, reports,
    # creation, the raw UPDATE … RETURNING of the hot path).
    writes = [
        w for _, tree in _sources("rendering/services/transitions") for w in state_writes(tree)
    ]
    assert len(writes) >= 8
    assert any("raw SQL" in w for w in writes)


SAMPLE_UPWARD = """
from rendering.models import RenderInstruction
def later():
    from monitoring import selectors
    import importlib; importlib.import_module("monitoring.tasks")
"""

SAMPLE_WRITES = """
RenderInstruction.objects.filter(pk=1).update(status="pending")
rows.update(priority=F("priority") - 1)
RenderInstruction.objects.update_or_create(pk=1, defaults={"retry_count": 0})
row.claimed_by = "w1"
row.save(update_fields=["lease_id"])
RenderInstruction(status="failed")
RenderInstruction.objects.filter(pk=1).update(**changes)
SyncRun.objects.filter(pk=1).update(status="running")
cursor.execute("UPDATE rendering_renderinstruction SET status = %s")
"""


def test_the_checks_see_what_they_look_for():
    assert upward_imports("hands", ast.parse(SAMPLE_UPWARD)) == [
        "rendering.models",
        "monitoring",
        "monitoring.tasks",
    ]
    assert upward_imports("monitoring", ast.parse(SAMPLE_UPWARD)) == []
    writes = state_writes(ast.parse(SAMPLE_WRITES))
    assert [w.split(":")[0] for w in writes] == ["2", "3", "4", "5", "6", "7", "8", "10"]
