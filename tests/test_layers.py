"""Imports run down the layers only (README, "Layout"): a module may import its own package and those listed."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# package -> the kit packages it may import (besides itself); top-level scripts and benchmarks may import all
ALLOWED = {
    "models": set(),
    "my_submission": {"models"},
    "evaluator": {"models", "my_submission"},
    "render": {"models", "evaluator"},
    "train": {"models", "evaluator", "render"},
    "tools": {"models", "my_submission", "evaluator", "render", "train"},
}


def kit_imports(path: Path) -> set[str]:
    """The kit packages ``path`` imports (absolute imports only; relative ones stay inside the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
        found.update(n.split(".")[0] for n in names if n.split(".")[0] in ALLOWED)
    return found


def upward_imports(repo: Path = REPO) -> list[str]:
    return [f"{path.relative_to(repo)} imports {name}"
            for package, allowed in ALLOWED.items() for path in sorted((repo / package).rglob("*.py"))
            for name in sorted(kit_imports(path) - allowed - {package})]


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path):
    for package in ALLOWED:
        (tmp_path / package).mkdir()
    (tmp_path / "models" / "bad.py").write_text("from my_submission.settings import InferenceSettings\n")
    (tmp_path / "train" / "fine.py").write_text("import models.apply\nfrom . import losses\n")
    assert upward_imports(tmp_path) == ["models/bad.py imports my_submission"]
