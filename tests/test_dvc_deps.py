"""dvc.yaml lists exactly the code each stage runs: every msrgan module its script imports, directly or through other
modules, and nothing it does not import. Otherwise a code change would leave stale results (a module missing) or
rerun stages for nothing (a module too many)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> str | None:
    """'msrgan.data.merge' -> 'msrgan/data/merge.py' (a package gives its __init__.py); None for a non-module."""
    path = Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if (ROOT / candidate).is_file():
            return candidate.as_posix()
    return None


def imported_files(path: str) -> set[str]:
    """The msrgan files `path` imports (`from msrgan.x import y` may name the module msrgan.x.y)."""
    names = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("msrgan"):
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("msrgan")}
    files = {module_file(name) for name in names} - {None}
    # importing msrgan.a.b runs the __init__.py of msrgan and msrgan.a first
    for file in list(files):
        for parent in Path(file).parents[:-1]:
            files.add((parent / "__init__.py").as_posix())
    return files


def code_closure(script: str) -> set[str]:
    seen, todo = {script}, [script]
    while todo:
        for file in imported_files(todo.pop()) - seen:
            seen.add(file)
            todo.append(file)
    return seen


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
    needed = set(filter(runs_something, code_closure(f"stages/{stage}.py")))
    listed = set(filter(runs_something, listed_code(STAGES[stage]["deps"])))
    assert not needed - listed, f"dvc.yaml stage {stage} misses deps it imports: {sorted(needed - listed)}"
    assert not listed - needed, f"dvc.yaml stage {stage} lists code it does not import: {sorted(listed - needed)}"
