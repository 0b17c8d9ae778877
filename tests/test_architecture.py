"""The house rules, read off the source: the import graph has no cycle (imports inside functions
count), every module imports only what docs/architecture.md allows it, and only the CLI declares
command-line arguments."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "src" / "visreason"
TABLE_ROW = re.compile(r"^\| `([\w.]+)` \| [^|]+ \| ([^|]+) \|$")


def unit(module: str) -> str:
    """The unit a module belongs to in the architecture table: puzzle modules are one unit."""
    parts = module.split(".")[1:]  # drop "visreason"
    return parts[0] if parts else "visreason"


def module_names() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = module_names()


def imported_modules(path: Path) -> set[str]:
    """The package modules that `path` imports anywhere in its body, functions included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "visreason"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "visreason":
            for alias in node.names:  # `from visreason import tracking` imports a module
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found


GRAPH = {name: imported_modules(path) - {name} for name, path in MODULES.items()}


def allowed() -> dict[str, set[str]]:
    rows = {}
    for line in (REPO_ROOT / "docs" / "architecture.md").read_text().splitlines():
        if match := TABLE_ROW.match(line):
            rows[match[1]] = set() if match[2].strip() == "–" else {m.strip() for m in match[2].split(",")}
    return rows


def test_the_import_graph_has_no_cycle():
    done, active = set(), []

    def visit(name):
        if name in active:
            cycle = active[active.index(name) :] + [name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        active.append(name)
        for dep in sorted(GRAPH[name]):
            visit(dep)
        active.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)
    assert len(done) == len(MODULES) > 20


def test_every_module_imports_only_what_the_architecture_page_allows():
    table = allowed()
    units = {unit(m) for m in MODULES} - {"visreason"}
    assert units == set(table), "docs/architecture.md must list every module, and only those"
    for name, deps in GRAPH.items():
        mine = unit(name)
        if mine == "visreason":
            assert not deps, "the package root imports nothing"
            continue
        used = {unit(d) for d in deps} - {mine, "visreason"}
        assert used <= table[mine], f"{name} imports {sorted(used - table[mine])}, not allowed by docs/architecture.md"


def test_only_the_cli_declares_arguments():
    for name, path in MODULES.items():
        if name == "visreason.cli":
            continue
        tree = ast.parse(path.read_text())
        calls = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert "argparse" not in GRAPH[name] and not {"add_argument", "add_parser", "add_subparsers"} & calls, name
        assert not any(isinstance(n, ast.Import) and any(a.name == "argparse" for a in n.names) for n in ast.walk(tree))
