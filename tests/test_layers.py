"""The layer table of the design, enforced on every import of the code.

| package | may import |
|---|---|
| ``ioc`` (core, feed declarations in ``ioc/feeds/`` included) | nothing of the other packages |
| ``ioc/app`` (the composition root) | everything |
| ``ingest``, ``detectors``, ``alerts`` | the core; never one another |
| ``dashboards`` | the core and ``alerts``; never ``ingest`` or ``detectors`` |
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("ioc", "ingest", "detectors", "alerts", "dashboards")
ALLOWED: dict[str, set[str]] = {
    "ioc": {"ioc"},
    "ingest": {"ioc", "ingest"},
    "detectors": {"ioc", "detectors"},
    "alerts": {"ioc", "alerts"},
    "dashboards": {"ioc", "alerts", "dashboards"},
}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (``ioc.app`` is the composition root: ``app``)."""
    if module == "ioc.app" or module.startswith("ioc.app."):
        return "app"
    top = module.split(".", 1)[0]
    return top if top in LAYERS else None


def module_of(path: Path) -> str:
    """``dashboards.sea.layout`` for ``<repo>/dashboards/sea/layout.py``."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in a file, relative imports resolved."""
    package = module.split(".")[:-1]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def violations(files: list[tuple[Path, str]]) -> list[str]:
    """Every import that runs against the layer table, as ``module:line: a imports b``."""
    found = []
    for path, module in files:
        mine = layer_of(module)
        if mine is None or mine == "app":
            continue
        for line, imported in imports_of(path, module):
            theirs = layer_of(imported)
            if theirs is None or theirs in ALLOWED[mine]:
                continue
            found.append(f"{module}:{line}: {mine} imports {imported} ({theirs})")
    return found


def code_files() -> list[tuple[Path, str]]:
    return [(p, module_of(p)) for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))]


def test_every_import_follows_the_layer_table() -> None:
    files = code_files()
    assert len(files) > 100
    assert violations(files) == []


def test_the_check_catches_a_page_that_imports_a_rule(tmp_path: Path) -> None:
    page = tmp_path / "probe_page.py"
    page.write_text("from detectors.registry import build_detectors\nfrom ioc.app import runtime\n")
    assert violations([(page, "dashboards.probe_page")]) == [
        "dashboards.probe_page:1: dashboards imports detectors.registry (detectors)",
        "dashboards.probe_page:2: dashboards imports ioc.app (app)",
    ]
    core = tmp_path / "probe_core.py"
    core.write_text("from . import events\nfrom ..ingest import sink\n")
    assert violations([(core, "ioc.probe_core")]) == ["ioc.probe_core:2: ioc imports ingest (ingest)"]
