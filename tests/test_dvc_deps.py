"""dvc.yaml lists exactly the code each stage runs: every msrgan module its script imports, directly or through other
modules, and nothing it does not import. Otherwise a code change would leave stale results (a module missing) or
rerun stages for nothing (a module too many)."""
from __future__ import annotations

import ast

import pytest
import yaml

from msrgan.codebase import ROOT, import_closure

# a foreach stage's template is under `do` (its script is stages/<stage>.py like any other's)
STAGES = {name: spec.get("do", spec) for name, spec in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items()}


def listed_code(deps: list[str]) -> set[str]:
    """The .py files the deps name, folders expanded."""
    files = set()
    for dep in deps:
        path = ROOT / dep
        if dep.startswith(("stages/", "msrgan/")):
            files |= {p.relative_to(ROOT).as_posix() for p in path.rglob("*.py")} if path.is_dir() else {dep}
    return files


def runs_something(file: str) -> bool:
    """False for a package __init__.py of only a docstring and constants: listing it or not changes nothing."""
    body = ast.parse((ROOT / file).read_text()).body
    inert = (ast.Expr, ast.Assign)
    return not file.endswith("__init__.py") or not all(
        isinstance(node, inert) and isinstance(node.value, ast.Constant) for node in body)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_are_exactly_its_code(stage):
    needed = set(filter(runs_something, import_closure(f"stages/{stage}.py")))
    listed = set(filter(runs_something, listed_code(STAGES[stage]["deps"])))
    assert not needed - listed, f"dvc.yaml stage {stage} misses deps it imports: {sorted(needed - listed)}"
    assert not listed - needed, f"dvc.yaml stage {stage} lists code it does not import: {sorted(listed - needed)}"


def test_a_change_to_the_evaluation_figures_reruns_only_the_report():
    users = [stage for stage, spec in STAGES.items() if "msrgan/evaluation/figures.py" in listed_code(spec["deps"])]
    assert users == ["report"]
