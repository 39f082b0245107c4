"""The engine's folders are layers, and data flows one way: no module imports from a layer above it."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.images import ROOT

# lowest first; a module may import from its own layer and any layer below it
LAYERS = ["events|words|settings", "data", "models", "training", "analysis", "inference", "session", "cli|__main__"]


def layer_of(module: str) -> int:
    part = module.split(".")[1] if module.count(".") else module
    for k, names in enumerate(LAYERS):
        if part in names.split("|"):
            return k
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def imports_of(path: Path) -> list[str]:
    """Every core module this file imports (absolute or relative, at any depth of the file)."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                found += [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            elif node.module and node.module.startswith("core"):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("core")]
    return [f for f in found if f.startswith("core.")]


def test_no_import_runs_back_up_a_layer():
    wrong = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        if path.name == "__init__.py" and path.parent == ROOT / "core":
            continue
        me = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for target in imports_of(path):
            if layer_of(target) > layer_of(me):
                wrong.append(f"{me} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_engine_never_imports_streamlit():
    users = [
        p
        for p in (ROOT / "core").rglob("*.py")
        if "streamlit"
        in {(n.module or "").split(".")[0] for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.ImportFrom)}
        | {
            a.name.split(".")[0]
            for n in ast.walk(ast.parse(p.read_text()))
            if isinstance(n, ast.Import)
            for a in n.names
        }
    ]
    assert not users, users
