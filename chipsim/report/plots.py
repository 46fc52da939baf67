"""The energy-breakdown figure of one run, drawn from a :class:`RunResult` or its HDF5 file.

Three panels:

(a) inference phase and (b) learning phase, per training sample (mean over all epochs):
    stacked bars per layer of dynamic energy by action group (:data:`ACTION_GROUPS`),
    on a shared energy axis so the two phases compare at a glance;
(c) energy per sample, test (last epoch) and training (all epochs): inference vs learning
    vs static, each bar annotated with its total and the share resting on `assumed`
    profile figures.

Rendering uses the Agg canvas on a free-standing :class:`matplotlib.figure.Figure` (no
pyplot, no GUI backend, no global backend switch, nothing left open).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from chipsim.counts import Action, Phase
from chipsim.errors import ChipsimError
from chipsim.result import RunResult
from chipsim.report.summary import (effective_prices, sample_assumed_energy,
                                    sample_phase_energy, scale_si, selections)

A = Action
#: Action groups of panels (a)/(b): every priced action belongs to exactly one group.
ACTION_GROUPS: dict[str, tuple[Action, ...]] = {
    "synaptic ops": (A.SYNOP, A.SYN_MAC),
    "neuron updates": (A.NEURON_UPDATE_ACTIVE, A.NEURON_UPDATE_IDLE),
    "spikes": (A.SPIKE,),
    "mem: weights": (A.MEM_READ_WEIGHT, A.MEM_WRITE_WEIGHT),
    "mem: neuron state": (A.MEM_READ_STATE, A.MEM_WRITE_STATE),
    "mem: traces": (A.MEM_READ_TRACE, A.MEM_WRITE_TRACE),
    "mem: gradients": (A.MEM_READ_GRAD, A.MEM_WRITE_GRAD),
    "mem: history": (A.MEM_READ_HIST, A.MEM_WRITE_HIST),
    "learn: traces": (A.TRACE_UPDATE,),
    "learn: surrogate": (A.SURROGATE_EVAL,),
    "learn: error": (A.OUTPUT_ERROR, A.ERROR_MAC),
    "learn: temporal": (A.TEMPORAL_MAC,),
    "learn: gradient": (A.GRAD_AC, A.GRAD_MAC),
    "weight updates": (A.WEIGHT_UPDATE_ISSUED, A.WEIGHT_UPDATE_SKIPPED),
    "routing": (A.ROUTER_HOP, A.CHIP_MESSAGE),
}
del A

#: Number of axes :func:`energy_figure` draws.
N_AXES = 3

_PHASE_COLOURS = {"inference": "#4C72B0", "learning": "#DD8452", "static": "#8C8C8C"}


def group_energy_per_train_sample(result: RunResult, prices: np.ndarray | None = None
                                  ) -> tuple[list[str], np.ndarray]:
    """``(group names, (G, L, P) J)``: mean dynamic energy per training sample."""
    prices = effective_prices(result) if prices is None else prices
    train = selections(result)["train"]
    names = list(ACTION_GROUPS)
    out = np.zeros((len(names), result.sample_counts.shape[1], len(Phase)))
    if not train.any():
        return names, out
    mean_counts = result.sample_counts[train].astype(np.float64).mean(axis=0)   # (L, P, A)
    e = mean_counts * prices
    for g, actions in enumerate(ACTION_GROUPS.values()):
        out[g] = e[..., [int(a) for a in actions]].sum(axis=-1)
    return names, out


def energy_figure(result: RunResult) -> Figure:
    """Build (not save) the energy-breakdown figure; it has :data:`N_AXES` axes."""
    r = result
    prices = effective_prices(r)
    names, ge = group_energy_per_train_sample(r, prices)
    sel = selections(r)
    n_layers = ge.shape[1]
    layer_labels = [str(x) for x in r.layer_names]

    fig = Figure(figsize=(13.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(1, 3, width_ratios=[max(n_layers, 2), max(n_layers, 2), 2.4])
    ax_inf = fig.add_subplot(gs[0, 0])
    ax_learn = fig.add_subplot(gs[0, 1], sharey=ax_inf)
    ax_tot = fig.add_subplot(gs[0, 2])

    # (a), (b): stacked bars by action group, per layer, shared y
    factor, unit = scale_si(ge.sum(axis=0).max() if ge.size else 0.0, "J")
    colours = _group_colours(len(names))
    x = np.arange(n_layers)
    used = [g for g in range(len(names)) if np.any(ge[g] > 0)]
    handles = {}
    for ax, phase, title in ((ax_inf, Phase.INFERENCE, "(a) inference phase"),
                             (ax_learn, Phase.LEARNING, "(b) learning phase")):
        bottom = np.zeros(n_layers)
        for g in used:
            h = ge[g, :, int(phase)] / factor
            bars = ax.bar(x, h, 0.7, bottom=bottom, color=colours[g], label=names[g],
                          edgecolor="white", linewidth=0.4)
            handles[names[g]] = bars
            bottom += h
        ax.set_xticks(x, layer_labels, rotation=30 if n_layers > 4 else 0, ha="right"
                      if n_layers > 4 else "center")
        ax.set_xlabel("layer")
        ax.set_title(f"{title}, per training sample", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if not sel["train"].any():
            ax.text(0.5, 0.5, "no training samples", transform=ax.transAxes,
                    ha="center", va="center", color="0.4")
    ax_inf.set_ylabel(f"dynamic energy per training sample ({unit})")
    ax_learn.tick_params(labelleft=False)
    if handles:
        fig.legend([handles[n] for n in names if n in handles],
                   [n for n in names if n in handles], loc="outside lower center",
                   ncol=min(7, len(handles)), fontsize=8, frameon=False)

    # (c): per-sample energy, inference / learning / static, annotated with assumed share
    phase_e = sample_phase_energy(r, prices)
    static = np.asarray(r.pricing.sample_static_energy, dtype=np.float64)
    assumed = sample_assumed_energy(r, prices)
    bars = []
    if sel["test"].any():
        bars.append((f"test sample\n(epoch {sel['test_epoch'] + 1})", sel["test"]))
    if sel["train"].any():
        bars.append((f"training sample\n(all {sel['n_epochs']} epochs)", sel["train"]))
    stacks = []
    for label, m in bars:
        parts = (phase_e[m, int(Phase.INFERENCE)].mean(), phase_e[m, int(Phase.LEARNING)].mean(),
                 static[m].mean())
        total = float(sum(parts))
        share = 100.0 * assumed[m].sum() / (phase_e[m].sum() + static[m].sum()) if total else 0.0
        stacks.append((label, parts, total, share))
    tfactor, tunit = scale_si(max((s[2] for s in stacks), default=0.0), "J")
    xb = np.arange(len(stacks))
    bottom = np.zeros(len(stacks))
    for k, key in enumerate(("inference", "learning", "static")):
        h = np.array([s[1][k] for s in stacks]) / tfactor
        ax_tot.bar(xb, h, 0.6, bottom=bottom, color=_PHASE_COLOURS[key], label=key,
                   edgecolor="white", linewidth=0.4)
        bottom += h
    for i, (_, _, total, share) in enumerate(stacks):
        ax_tot.annotate(f"{total / tfactor:.3g} {tunit}\n{share:.1f} % assumed",
                        (xb[i], total / tfactor), textcoords="offset points", xytext=(0, 3),
                        ha="center", va="bottom", fontsize=8)
    ax_tot.set_xticks(xb, [s[0] for s in stacks], fontsize=8)
    ax_tot.set_xlim(-0.7, max(len(stacks), 1) - 0.3)
    ax_tot.set_ylim(0, max(bottom.max() if len(bottom) else 0.0, 1e-30) * 1.25)
    ax_tot.set_ylabel(f"energy per sample ({tunit})")
    ax_tot.set_title("(c) energy per sample", fontsize=10)
    ax_tot.legend(fontsize=8, loc="upper left", frameon=False)
    ax_tot.grid(axis="y", alpha=0.3)
    ax_tot.set_axisbelow(True)
    if not stacks:
        ax_tot.text(0.5, 0.5, "no samples", transform=ax_tot.transAxes, ha="center",
                    va="center", color="0.4")

    dataset = r.dataset if len(r.dataset) <= 40 else r.dataset.split(",")[0]
    fig.suptitle(f"{r.workload_name} · rule {r.rule} · profile {r.profile_name} · {dataset} · "
                 f"T = {r.time_steps}  (run total: {100.0 * r.pricing.assumed_energy_share:.1f} % "
                 f"of energy on assumed figures)", fontsize=11)
    return fig


def _group_colours(n: int) -> list:
    from matplotlib import colormaps
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def _save_atomic(fig: Figure, path: Path, fmt: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt, dpi=150)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def plot_energy(result: RunResult, path) -> list[Path]:
    """Draw the energy-breakdown figure to ``path`` (``.png``, or ``.pdf`` which also writes
    the ``.png`` beside it). Returns the files written, PNG first."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise ChipsimError("unsupported plot file type", file=str(path),
                           expected="a path ending in .png or .pdf")
    targets = [path.with_suffix(".png")] if suffix == ".pdf" else []
    targets.append(path)
    fig = energy_figure(result)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for t in targets:
            _save_atomic(fig, t, t.suffix.lower().lstrip("."))
    except OSError as exc:
        raise ChipsimError(f"cannot write the plot: {exc}", file=str(path)) from None
    finally:
        fig.clear()
    return targets


def redraw(h5_path, out_path=None) -> Path:
    """Read a result file and draw its energy figure next to it (default
    ``<stem>_energy.png``); returns the path of the figure (the one asked for)."""
    from chipsim.report.h5 import read_result

    h5_path = Path(h5_path)
    result = read_result(h5_path)
    out = Path(out_path) if out_path is not None else h5_path.with_name(
        f"{h5_path.stem}_energy.png")
    plot_energy(result, out)
    return out
