"""The house is plain (docs/DESIGN.md, "Floors"): chipsim's modules import one way.

Every module of the package sits on a floor; a module imports only modules of its own floor or
lower ones (imports inside functions count too), no two modules import each other around a
circle, and nothing imports the engine or the CLI. The floors, lowest first:

0. ``chipsim`` (the version), ``errors``, ``counts``, ``memory`` (the memory available):
   the vocabulary everyone shares; ``atomic`` (whole-or-nothing files); ``threads`` (how many
   threads a run trains on);
1. ``kernels`` (the Numba code), ``data`` (readers, framing), ``model`` (neurons, layer kinds,
   networks);
2. ``result`` (the records a run produces), ``learning`` (rules and the trainer), ``needs``
   (the memory a run needs, estimated before anything large is allocated);
3. ``config`` (YAML into typed models assembled from the registries below it);
4. ``hardware`` (mapping, communication, cycle model, ledger, the cost stage);
5. ``report``, ``interop``, ``simulation`` (the simulation stage: prepare and simulate);
6. ``engine`` (run: the simulation and cost stages chained), ``checkpoint`` (the engine's
   saved state);
7. ``sweep`` (many runs on Dask: the simulation stage, then the cost stage per point);
8. ``cli``, ``__main__``.
"""

from __future__ import annotations

from pathlib import Path

from tests.test_data_imports import cycles

ROOT = Path(__file__).resolve().parents[1] / "chipsim"
FLOORS = {"chipsim": 0, "errors": 0, "counts": 0, "atomic": 0, "memory": 0, "threads": 0,
          "kernels": 1,
          "data": 1, "model": 1, "result": 2, "learning": 2, "needs": 2, "config": 3,
          "hardware": 4, "report": 5, "interop": 5, "simulation": 5, "engine": 6, "checkpoint": 6, "sweep": 7,
          "cli": 8, "__main__": 8}


def _graph() -> dict[str, set[str]]:
    """module (dotted) -> the chipsim modules it imports anywhere in its file."""
    import ast
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            names = []
            if isinstance(n, ast.Import):
                names = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom) and n.module:
                names = [n.module] + [f"{n.module}.{a.name}" for a in n.names]
            for t in names:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                # a package's own __init__ is imported implicitly by its submodules: no edge
                if t and t != m and not m.startswith(t + "."):
                    graph[m].add(t)
    return graph


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS[parts[1]] if len(parts) > 1 else FLOORS["chipsim"]


def test_every_module_has_a_floor():
    assert {m.split(".")[1] for m in _graph() if "." in m} <= set(FLOORS)


def test_no_import_cycles():
    assert cycles(_graph()) == []


def test_imports_go_down_or_across_a_floor():
    up = sorted(f"{m} ({_floor(m)}) imports {t} ({_floor(t)})"
                for m, ts in _graph().items() for t in ts if _floor(t) > _floor(m))
    assert up == []


def test_nothing_imports_the_engine_or_the_cli():
    users = sorted(m for m, ts in _graph().items() for t in ts
                   if t in ("chipsim.engine", "chipsim.cli") and m not in ("chipsim.cli", "chipsim.__main__"))
    assert users == []


def test_the_checks_can_fail():
    """A circle and an upward import are found (guards the helpers above)."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert _floor("chipsim.engine") > _floor("chipsim.hardware.cost") > _floor("chipsim.result")


def _external_imports(path: Path) -> set[str]:
    """Top-level names of the modules ``path`` imports anywhere in its file."""
    import ast
    out = set()
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.Import):
            out |= {a.name.partition(".")[0] for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
            out.add(n.module.partition(".")[0])
    return out


def test_the_peers_are_benchmark_only():
    """torch and SpikingJelly (the optional ``bench`` extra) are timed by benchmarks/peers.py
    beside chipsim; the package itself never imports them."""
    peers = {"torch", "spikingjelly", "snntorch", "norse"}
    users = sorted(str(p.relative_to(ROOT.parent)) for p in ROOT.rglob("*.py")
                   if _external_imports(p) & peers)
    assert users == []
    assert "torch" in _external_imports(ROOT.parent / "benchmarks" / "peers.py")   # the check sees imports
