"""Every library the engine imports is pinned where the app and the hosted demo install from."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions

from tests.helpers.images import ROOT

OPTIONAL = {"ray"}  # sort --engine ray: imported only when asked for, installed by the test set-up


def _imported_roots() -> set[str]:
    roots = set()
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
    return roots - set(sys.stdlib_module_names) - {"core", "__future__"} - OPTIONAL


def _pins(rel: str) -> set[str]:
    names = set()
    for line in (ROOT / rel).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==", line.strip())
        if m:
            names.add(re.sub(r"\[.*\]", "", m.group(1)).lower().replace("_", "-"))
    return names


def test_every_library_core_imports_is_pinned_for_the_app_and_the_hosted_demo():
    dists = packages_distributions()
    for rel in ("requirements.txt", "deploy/requirements.txt"):
        pinned = _pins(rel)
        unpinned = {
            mod: dists.get(mod)
            for mod in _imported_roots()
            if not any(d.lower().replace("_", "-") in pinned for d in dists.get(mod, [mod]))
        }
        assert not unpinned, f"{rel} does not pin {unpinned}"
