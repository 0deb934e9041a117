"""The msrgan source files a module runs: its import closure, read from the source with `ast` (nothing is imported).
dvc.yaml's code deps are checked against it (tests/test_dvc_deps.py) and training checkpoints are keyed by it."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]   # the repository: paths below are relative to it


def module_file(name: str) -> str | None:
    """'msrgan.data.merge' -> 'msrgan/data/merge.py' (a package gives its __init__.py); None for a non-module."""
    path = Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if (ROOT / candidate).is_file():
            return candidate.as_posix()
    return None


def imported_files(path: str) -> set[str]:
    """The msrgan files `path` imports directly (`from msrgan.x import y` may name the module msrgan.x.y), with the
    package __init__.py files that importing them runs."""
    names = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("msrgan"):
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("msrgan")}
    files = {module_file(name) for name in names} - {None}
    for file in list(files):
        for parent in Path(file).parents[:-1]:
            files.add((parent / "__init__.py").as_posix())
    return files


def import_closure(path: str) -> set[str]:
    """`path` (relative to the repository) and every msrgan file it imports, directly or through others."""
    seen, todo = {path}, [path]
    while todo:
        for file in imported_files(todo.pop()) - seen:
            seen.add(file)
            todo.append(file)
    return seen
