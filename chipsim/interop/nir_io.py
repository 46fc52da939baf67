"""NIR files in and out: ``chipsim import MODEL.nir`` (what chipsim reads in a graph) and
``chipsim export RESULTS.h5 --nir OUT.nir`` (the trained network of a run).

The conversions themselves, and the discretisation, are chipsim/model/nir_graph.py; this module
reads and writes the files (docs/nir.md has each framework's conventions).
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from chipsim.atomic import make_temp
from chipsim.config.units import format_si
from chipsim.errors import ChipsimError
from chipsim.model.nir_graph import NirProblem, from_graph, read, to_graph
from chipsim.model.neuron import LayerNeuron, NeuronParams

#: the time step of an export when neither the run nor the command names one
DEFAULT_DT = 1e-3


def describe(path, dt: float, data_shape: tuple | None = None) -> str:
    """What chipsim makes of the NIR graph in ``path`` at step ``dt``: a table of its nodes,
    the layers, the neuron's discrete parameters and any folding notes."""
    graph = read(path)
    try:
        imp = from_graph(graph, dt, data_shape)
    except NirProblem as e:
        raise ChipsimError(str(e), file=str(path), field=f"nodes.{e.node}" if e.node else None,
                           expected=e.expected) from None
    lines = [f"NIR graph {path}: {len(graph.nodes)} nodes, input {list(imp.input_shape)}, "
             f"{imp.n_outputs} outputs; dt {format_si(dt, 's')}"]
    w = max(len(a) for a, _, _ in imp.nodes)
    for name, t, what in imp.nodes:
        lines.append(f"  {name:<{w}}  {t:<10} {what}")
    lines.append("network.hidden as chipsim runs it:")
    for op in imp.ops:
        lines.append("  - " + ", ".join(f"{k}: {v}" for k, v in op.model_dump().items()
                                        if v is not None))
    if imp.spiking_output:
        lines.append(f"  output: the last layer's spikes ({imp.n_outputs} classes), no readout")
    else:
        lines.append(f"  readout: {imp.n_outputs} outputs, bias {str(imp.readout_bias).lower()}"
                     + ("; leaky integrator" if imp.readout_li is not None else ""))
    params = sum(W.size for W in imp.weights) + sum(b.size for b in imp.biases)
    lines.append(f"parameters: {params:,}")
    n = imp.neuron
    if n is not None:
        lines.append(f"neuron: u = {n['lam']!r} v + {n['cin']!r} I; spike when u "
                     f"{'>=' if n['h0'] else '>'} {n['theta']!r}; "
                     f"{'soft reset (v = u - theta)' if n['soft'] else 'reset to 0'}")
    else:
        lines.append("neurons: each layer its own (u = lam v + cin I; spike when u > theta):")
        rng = lambda a: f"{a.min():.6g}" if a.min() == a.max() else f"{a.min():.6g}..{a.max():.6g}"  # noqa: E731
        for i, ln in enumerate(imp.neurons):
            lines.append(f"  layer {i + 1}: lam {rng(ln['lam'])}, cin {rng(ln['cin'])}, theta "
                         f"{rng(ln['theta'])}, " + ("soft reset" if ln["soft"] else
                                                    f"reset to {rng(ln['vr'])}")
                         + (", H(0) = 1" if ln["h0"] else "")
                         + (f"; synaptic current i = {rng(ln['syn'])} i + I"
                            if ln.get("syn") is not None else ""))
    lines += [f"note: {x}" for x in imp.notes]
    return "\n".join(lines)


def _neuron_of(result) -> NeuronParams:
    """The neuron the run's kernels took (Simulation.neuron is the repr of its tuple)."""
    try:
        return NeuronParams(*ast.literal_eval(result.sim.neuron))
    except (ValueError, SyntaxError, TypeError) as e:
        raise ChipsimError(f"cannot read the run's neuron ({e})", field="simulation@neuron",
                           expected="the neuron tuple chipsim writes") from None


def _run_dt(result) -> float | None:
    """The run's network.dt, when it imported a NIR graph."""
    from chipsim.config.workload import workload_from_text
    try:
        w = workload_from_text(result.sim.workload_text, result.sim.workload_path,
                               dict(result.sim.overrides))
    except ChipsimError:
        return None
    return w.network.dt


def export_result(results, out, dt: float | None = None, force: bool = False) -> str:
    """Write the trained network of the run in ``results`` to the NIR file ``out``; returns a
    line saying what was written. ``dt``: the step the continuous-time parameters are written
    for (default: the run's network.dt, else 1 ms). ChipsimError when the results file does
    not keep the weights, or for a network NIR cannot hold."""
    import nir

    from chipsim.report.h5 import read_result
    out = Path(out)
    if out.suffix.lower() != ".nir":
        raise ChipsimError("is not a .nir file name", file=str(out), field="--nir",
                           expected="a file name ending in .nir")
    if out.exists() and not force:
        raise ChipsimError("exists", file=str(out), field="--nir",
                           expected="a new file name, or --force to replace it")
    r = read_result(results)
    s = r.sim
    if s.weights is None:
        raise ChipsimError("the run's final weights are not in the file (see "
                           "simulation@weights_note)", file=str(results), field="simulation/weights",
                           expected="a results file that keeps them (runs below 64 MiB of weights)")
    if dt is None:
        dt = _run_dt(r) or DEFAULT_DT
    H, W, C = s.layers[0].pre
    neurons = None if s.neurons is None else [
        LayerNeuron(n["lam"], n["theta"], n["cin"], n["vr"], n["soft"], n["h0"], n.get("syn"))
        for n in s.neurons]
    try:
        graph = to_graph(s.layers, [w for w, _ in s.weights], [b for _, b in s.weights],
                         _neuron_of(r), dt, (C, H, W),
                         note=f"exported by chipsim from {Path(results).name} "
                              f"(workload {s.workload_name}, rule {s.rule})", neurons=neurons,
                         readout_li=s.readout_li)
    except NirProblem as e:
        raise ChipsimError(str(e), file=str(results), field=f"simulation/layers/{e.node}"
                           if e.node else None, expected=e.expected) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp(out)
    try:
        nir.write(str(tmp), graph)
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    params = sum(np.asarray(w).size + np.asarray(b).size for w, b in s.weights)
    return (f"NIR graph: {out} ({len(graph.nodes)} nodes, {params:,} parameters, dt "
            f"{format_si(dt, 's')})")
