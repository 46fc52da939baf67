"""chipsim/data/ has no import cycle: no two of its modules import each other, directly or around
a circle, counting imports inside functions too (DESIGN.md: "no two files import each other").
Also: the registry is light to import (config imports it), so it loads no reader, h5py or lz4."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "chipsim" / "data"


def import_graph(folder: Path, package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports anywhere in its file (module level,
    inside functions, ``from package import submodule`` and relative imports alike). Importing a
    name that is not a submodule (``from package import name``) is an edge to the package's
    ``__init__``. The implicit import of a package by its own submodules is not an edge."""
    modules = {p.stem: p for p in folder.glob("*.py")}

    def node(stem: str) -> str:
        return package if stem == "__init__" else f"{package}.{stem}"

    graph: dict[str, set[str]] = {node(s): set() for s in modules}
    for stem, path in modules.items():
        src = node(stem)
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(n, ast.Import):
                targets = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:          # relative: resolve against this package
                    base = package.rsplit(".", n.level - 1)[0] + (f".{base}" if base else "")
                if base == package:
                    targets = [f"{package}.{a.name}" if a.name in modules else package
                               for a in n.names]
                else:
                    targets = [base]
            for t in targets:
                if t == package or t.startswith(package + "."):
                    t = ".".join(t.split(".")[:len(package.split(".")) + 1])
                    if t in graph and t != src:
                        graph[src].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "pkg"
    d.mkdir()
    for name, text in files.items():
        (d / f"{name}.py").write_text(text)
    return d


def test_the_detector_finds_a_cycle_through_a_function_level_import(tmp_path):
    """Today's shape before the fix: cache -> datasets (inside a function) -> eventsets ->
    cache, and datasets <-> eventsets."""
    d = _package(tmp_path, {
        "__init__": "from pkg.datasets import load\n",
        "cache": "def cached():\n    from pkg.datasets import Framed\n",
        "datasets": "class Framed: ...\nfrom pkg import eventsets\n",
        "eventsets": "from pkg.cache import cached\nfrom pkg.datasets import Framed\n",
        "events": "import numpy\n"})
    assert cycles(import_graph(d, "pkg")) == [["pkg.cache", "pkg.datasets", "pkg.eventsets"]]


def test_the_detector_reads_relative_and_submodule_imports(tmp_path):
    d = _package(tmp_path, {
        "__init__": "",
        "a": "def f():\n    from . import b\n",
        "b": "from .c import x\n",
        "c": "def g():\n    import pkg.a\n"})
    g = import_graph(d, "pkg")
    assert g["pkg.a"] == {"pkg.b"} and g["pkg.b"] == {"pkg.c"} and g["pkg.c"] == {"pkg.a"}
    assert cycles(g) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_no_import_cycle_in_chipsim_data():
    graph = import_graph(DATA, "chipsim.data")
    assert "chipsim.data.registry" in graph and graph["chipsim.data.registry"], \
        "the graph reads the real package (the registry imports its loaders)"
    assert cycles(graph) == []


@pytest.mark.parametrize("module", ["chipsim.data.registry", "chipsim.config.workload"])
def test_the_registry_is_light_to_import(module):
    code = (f"import sys, {module}\n"
            "heavy = sorted(m for m in ('h5py', 'lz4', 'chipsim.data.aedat', 'chipsim.data.shd',\n"
            "                           'chipsim.data.cache', 'chipsim.data.eventsets')\n"
            "               if m in sys.modules)\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
