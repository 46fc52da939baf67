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

from chipsim.counts import ACTION_INFO, PRICED_ACTIONS, Action, Phase
from chipsim.errors import ChipsimError
from chipsim.result import RunResult
from chipsim.report.outputs import figure_metadata, workload_source
from chipsim.report.summary import (effective_prices, format_si, sample_assumed_energy,
                                    sample_phase_energy, scale_si, selections)

#: Action groups of panels (a)/(b), from the actions' registry (chipsim/counts.py ACTION_INFO):
#: every priced action belongs to exactly one group, in the order they are first met.
ACTION_GROUPS: dict[str, tuple[Action, ...]] = {}
for _a in PRICED_ACTIONS:
    ACTION_GROUPS[ACTION_INFO[_a].group] = ACTION_GROUPS.get(ACTION_INFO[_a].group, ()) + (_a,)
del _a

#: Number of axes :func:`energy_figure` draws.
N_AXES = 3

_PHASE_COLOURS = {"inference": "#4C72B0", "learning": "#DD8452", "static": "#8C8C8C"}


def group_energy_per_train_sample(result: RunResult, prices: np.ndarray | None = None
                                  ) -> tuple[list[str], np.ndarray]:
    """``(group names, (G, L, P) J)``: mean dynamic energy per training sample."""
    prices = effective_prices(result) if prices is None else prices
    train = selections(result)["train"]
    names = list(ACTION_GROUPS)
    out = np.zeros((len(names), result.counts_priced.shape[1], len(Phase)))
    if not train.any():
        return names, out
    mean_counts = result.counts_priced[train].astype(np.float64).mean(axis=0)   # (L, P, A)
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
    layer_labels = [str(x) for x in r.sim.layer_names]

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
    bars = []
    if sel["test"].any():
        bars.append((f"test sample\n(epoch {sel['test_epoch'] + 1})", sel["test"]))
    if sel["train"].any():
        bars.append((f"training sample\n(all {sel['n_epochs']} epochs)", sel["train"]))
    tunit, stacks = _phase_stacks(ax_tot, r, prices, bars, width=0.6, share_fmt=".1f",
                                  label_fs=8, tick_fs=8, headroom=1.25)
    ax_tot.set_ylabel(f"energy per sample ({tunit})")
    ax_tot.set_title("(c) energy per sample", fontsize=10)
    ax_tot.legend(fontsize=8, loc="upper left", frameon=False)
    ax_tot.grid(axis="y", alpha=0.3)
    ax_tot.set_axisbelow(True)
    if not stacks:
        ax_tot.text(0.5, 0.5, "no samples", transform=ax_tot.transAxes, ha="center",
                    va="center", color="0.4")

    dataset = r.sim.dataset if len(r.sim.dataset) <= 40 else r.sim.dataset.split(",")[0]
    fig.suptitle(f"{r.sim.workload_name} · rule {r.sim.rule} · profile {r.cost.profile_name} · {dataset} · "
                 f"T = {r.sim.time_steps}  (run total: {100.0 * r.pricing.assumed_energy_share:.1f} % "
                 f"of energy on assumed figures)", fontsize=11)
    return fig


def _group_colours(n: int) -> list:
    from matplotlib import colormaps
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(n)]


def _save_atomic(fig: Figure, path: Path, fmt: str, source: str = "") -> None:
    """Write ``fig`` to ``path`` through a temporary file, marked as chipsim's figure drawn
    from ``source`` (chipsim/report/outputs.py: what an output may replace)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt, dpi=150, metadata=figure_metadata(source, fmt))
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


def result_source(result: RunResult) -> str:
    """What a figure of ``result`` is drawn from: its workload (see report/outputs.py)."""
    return workload_source(result.sim.workload_text)


def plot_energy(result: RunResult, path) -> list[Path]:
    """Draw the energy-breakdown figure to ``path`` (``.png``, or ``.pdf`` which also writes
    the ``.png`` beside it). Returns the files written, PNG first."""
    return _write_figure(energy_figure(result), _plot_path(path), result_source(result))


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


# ========================================================================================
# The one-page report: six panels read from the results file alone
# ========================================================================================

#: Titles (prefixes) of the report's six panels, in drawing order.
REPORT_PANELS = ("(a) energy by action group and layer",
                 "(b) energy per sample",
                 "(c) energy and latency per time step",
                 "(d) memory held for learning",
                 "(e) accuracy and loss per epoch",
                 "(f) energy on assumed figures")
#: Axes :func:`report_figure` draws: the six panels plus the right-hand axes of (c) and (e).
N_REPORT_AXES = 8

_BYTE_UNITS = ((1, "B"), (1024, "KiB"), (1024 ** 2, "MiB"), (1024 ** 3, "GiB"))


def scale_bytes(value: float) -> tuple[float, str]:
    """``(factor, unit)`` for a byte count, binary prefixes (B, KiB, MiB, GiB)."""
    factor, unit = _BYTE_UNITS[0]
    for f, u in _BYTE_UNITS:
        if abs(float(value)) >= f:
            factor, unit = f, u
    return float(factor), unit


def phase_prices(result: RunResult) -> np.ndarray:
    """(P, A) J per count in each phase, from the file's per-action figures, as
    :func:`chipsim.hardware.ledger.price_tables` builds them: an action inside an all-in SOP
    figure (``included_in_sop``) costs nothing in the inference phase and its (learning)
    figure in the learning phase."""
    p = result.pricing
    e = np.asarray(p.energy_per_action, dtype=np.float64)
    out = np.tile(e, (len(Phase), 1))
    out[int(Phase.INFERENCE), np.asarray(p.included_in_sop, dtype=bool)] = 0.0
    return out


def step_energy(result: RunResult) -> dict | None:
    """Per-time-step dynamic energy, mean over the test samples of the last test epoch
    (or, with no test samples, the training samples of the last epoch).

    Returns ``None`` when the file has no per-step counts, else a dict: ``mask`` (N,) the
    samples averaged, ``basis`` (str), ``inference`` / ``learning`` (T,) J per step, and
    ``latency`` (T,) s per step from ``cost.step_latency_test`` (``..._train`` for a training
    basis; mean over all samples of that split) or ``None`` without a cycle model.
    """
    if result.step_counts_priced is None:
        return None
    sel = selections(result)
    if sel["test"].any():
        mask, basis, key = sel["test"], f"test samples, epoch {sel['test_epoch'] + 1}", \
            result.cost.step_latency_test
    elif sel["train_last"].any():
        mask, basis, key = sel["train_last"], \
            f"training samples, epoch {sel['train_epoch'] + 1}", result.cost.step_latency_train
    else:
        return None
    pe = phase_prices(result)
    steps = np.asarray(result.step_counts_priced)[mask].sum(axis=2, dtype=np.int64)   # (n, T, P, A)
    per_phase = np.einsum("ntpa,pa->tp", steps.astype(np.float64), pe) / mask.sum()
    lat = np.asarray(key, dtype=np.float64) if len(key) else None
    if lat is not None and lat.shape != (per_phase.shape[0],):
        lat = None
    return {"mask": mask, "basis": basis, "inference": per_phase[:, int(Phase.INFERENCE)],
            "learning": per_phase[:, int(Phase.LEARNING)], "latency": lat}


def assumed_by_phase(result: RunResult) -> dict[str, tuple[float, float]]:
    """Whole run: ``{inference|learning|static|total: (assumed J, total J)}``."""
    p = result.pricing
    energy = np.asarray(p.energy, dtype=np.float64)
    assumed = np.asarray(p.assumed, dtype=bool)
    out = {}
    for ph in Phase:
        e = energy[:, int(ph)]
        out[ph.name.lower()] = (float(e[:, assumed].sum()), float(e.sum()))
    static = float(np.asarray(p.sample_static_energy, dtype=np.float64).sum())
    out["static"] = (static if p.static_assumed else 0.0, static)
    out["total"] = (sum(v[0] for v in out.values()), sum(v[1] for v in out.values()))
    return out


def _short_dataset(r: RunResult) -> str:
    return r.sim.dataset if len(r.sim.dataset) <= 40 else r.sim.dataset.split(",")[0]


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4",
            fontsize=10)


def _style(ax, title: str) -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _panel_groups(fig, ax, r: RunResult, prices: np.ndarray) -> None:
    """(a) per layer, inference and learning side by side, stacked by action group."""
    names, ge = group_energy_per_train_sample(r, prices)
    n_layers = ge.shape[1]
    factor, unit = scale_si(ge.sum(axis=0).max() if ge.size else 0.0, "J")
    colours = _group_colours(len(names))
    used = [g for g in range(len(names)) if np.any(ge[g] > 0)]
    x = np.arange(n_layers)
    w = 0.38
    for phase, dx in ((Phase.INFERENCE, -w / 2 - 0.01), (Phase.LEARNING, w / 2 + 0.01)):
        bottom = np.zeros(n_layers)
        for g in used:
            h = ge[g, :, int(phase)] / factor
            ax.bar(x + dx, h, w, bottom=bottom, color=colours[g],
                   label=names[g] if phase == Phase.INFERENCE else None,
                   edgecolor="white", linewidth=0.4,
                   hatch="//" if phase == Phase.LEARNING else None)
            bottom += h
    ticks, labels = [], []
    for i, name in enumerate(r.sim.layer_names):
        ticks += [i - w / 2 - 0.01, i + w / 2 + 0.01]
        labels += [f"inf\n{name}", f"learn\n{name}"]
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_ylabel(f"dynamic energy per training sample ({unit})")
    ax.set_xlabel("phase (learning hatched) and layer")
    ax.set_ylim(0, max(ge.sum(axis=0).max() / factor if ge.size else 0.0, 1e-30) * 1.12)
    _style(ax, REPORT_PANELS[0])
    if used:
        ax.legend(fontsize=8, ncol=2, frameon=False, loc="upper right",
                  title="action group", title_fontsize=8)
    else:
        _no_data(ax, "no training samples")


def _phase_stacks(ax, r: RunResult, prices: np.ndarray, bars, *, width: float, share_fmt: str,
                  label_fs: float, tick_fs: float, headroom: float):
    """Stacked inference / learning / static energy per sample for each (label, sample mask) in
    ``bars``, each bar annotated with its total and the share resting on assumed figures.
    Returns (energy unit, stacks)."""
    phase_e = sample_phase_energy(r, prices)
    static = np.asarray(r.pricing.sample_static_energy, dtype=np.float64)
    assumed = sample_assumed_energy(r, prices)
    stacks = []
    for label, m in bars:
        parts = (phase_e[m, int(Phase.INFERENCE)].mean(), phase_e[m, int(Phase.LEARNING)].mean(),
                 static[m].mean())
        den = phase_e[m].sum() + static[m].sum()
        stacks.append((label, parts, float(sum(parts)), 100.0 * assumed[m].sum() / den if den else 0.0))
    factor, unit = scale_si(max((s_[2] for s_ in stacks), default=0.0), "J")
    xb = np.arange(len(stacks))
    bottom = np.zeros(len(stacks))
    for k, key in enumerate(("inference", "learning", "static")):
        h = np.array([s_[1][k] for s_ in stacks]) / factor
        ax.bar(xb, h, width, bottom=bottom, color=_PHASE_COLOURS[key], label=key,
               edgecolor="white", linewidth=0.4)
        bottom += h
    for i, (_, _, total, share) in enumerate(stacks):
        ax.annotate(f"{total / factor:.3g} {unit}\n{share:{share_fmt}} % assumed",
                    (xb[i], total / factor), textcoords="offset points", xytext=(0, 3),
                    ha="center", va="bottom", fontsize=label_fs)
    ax.set_xticks(xb, [s_[0] for s_ in stacks], fontsize=tick_fs)
    ax.set_xlim(-0.7, max(len(stacks), 1) - 0.3)
    ax.set_ylim(0, max(bottom.max() if len(bottom) else 0.0, 1e-30) * headroom)
    return unit, stacks


def _panel_per_sample(ax, r: RunResult, prices: np.ndarray) -> None:
    """(b) inference / learning / static energy per test and per training sample."""
    sel = selections(r)
    bars = [(label, m) for label, m in
            ((f"test\n(epoch {(sel['test_epoch'] or 0) + 1})", sel["test"]),
             (f"training\n(all {sel['n_epochs']} epochs)", sel["train"])) if m.any()]
    unit, stacks = _phase_stacks(ax, r, prices, bars, width=0.55, share_fmt=".0f",
                                 label_fs=8.5, tick_fs=9, headroom=1.3)
    ax.set_ylabel(f"energy per sample ({unit})")
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    _style(ax, REPORT_PANELS[1])
    if not stacks:
        _no_data(ax, "no samples")


def _panel_steps(ax, ax_lat, r: RunResult) -> None:
    """(c) per-step dynamic energy (bars, by phase) and per-step latency (line, right)."""
    _style(ax, REPORT_PANELS[2])
    data = step_energy(r)
    if data is None:
        ax_lat.set_yticks([])
        _no_data(ax, "no per-step counts in this file")
        return
    inf, learn = data["inference"], data["learning"]
    T = len(inf)
    t = np.arange(1, T + 1)
    factor, unit = scale_si((inf + learn).max() if T else 0.0, "J")
    ax.bar(t, inf / factor, 0.7, color=_PHASE_COLOURS["inference"], label="inference (dynamic)")
    if np.any(learn > 0):
        ax.bar(t, learn / factor, 0.7, bottom=inf / factor, color=_PHASE_COLOURS["learning"],
               label="learning (dynamic)")
    ax.set_xlabel(f"time step  (mean over {int(data['mask'].sum())} {data['basis']})")
    ax.set_ylabel(f"dynamic energy per step ({unit})")
    ax.set_xlim(0.3, T + 0.7)
    if T <= 25:
        ax.set_xticks(t)
    static = float(np.asarray(r.pricing.sample_static_energy)[data["mask"]].mean())
    note = f"Σ steps = {(inf + learn).sum() / factor:.3g} {unit}/sample dynamic"
    if static > 0:
        note += f"\n+ {format_si(static, 'J', 3)}/sample static (not split by step)"
    lat = data["latency"]
    if lat is None:
        ax_lat.set_yticks([])
        note += "\nlatency: no cycle model"
    else:
        lf, lu = scale_si(lat.max(), "s")
        ax_lat.plot(t, lat / lf, "o-", color="k", ms=3.5, lw=1.3,
                    label="latency (cycle model,\nall samples of the split)")
        ax_lat.set_ylabel(f"latency per step ({lu})")
        ax_lat.set_ylim(0, lat.max() / lf * 1.6 if lat.max() > 0 else 1)
    ax.set_ylim(0, max((inf + learn).max() / factor, 1e-30) * 1.6)
    ax.text(0.01, 0.98, note, transform=ax.transAxes, ha="left", va="top",
            fontsize=8, color="0.15")
    handles = ax.get_legend_handles_labels()
    h2 = ax_lat.get_legend_handles_labels()
    ax.legend(handles[0] + h2[0], handles[1] + h2[1], fontsize=7.5, loc="upper right",
              frameon=False)


def _panel_memory(ax, r: RunResult) -> None:
    """(d) learning memory, gradient buffers and footprint, bytes."""
    items = [("learning state\n(peak, by the rule)", int(r.sim.learning_memory_bytes))]
    items.append(("gradient buffers", int(r.sim.gradient_buffer_bytes)))
    items.append(("footprint\n(params + buffers)", int(r.sim.footprint_bytes)))
    y = np.arange(len(items))[::-1]
    colours = ["#DD8452", "#C44E52", "#4C72B0"] if len(items) == 3 else ["#DD8452", "#4C72B0"]
    values = np.array([v for _, v in items], dtype=np.float64)
    lo = 1.0
    if np.any(values > 0):
        vmin = values[values > 0].min()
        lo = max(1.0, min(vmin / 10.0, 1024.0 ** np.floor(np.log(vmin) / np.log(1024.0))))
    hi = max(values.max(), lo * 10.0)
    ax.set_xscale("log")
    ax.barh(y, np.where(values > 0, values, np.nan), 0.55, left=lo, color=colours)
    for yi, v in zip(y, values):
        f, u = scale_bytes(v)
        ax.annotate(f"{v / f:,.4g} {u}" if v else "0 B", (max(v, lo), yi),
                    textcoords="offset points", xytext=(4, 0), va="center", fontsize=9)
    ax.set_yticks(y, [k for k, _ in items], fontsize=9)
    ax.set_xlim(lo, hi * 8)
    names = {1: "1 B", 1024: "1 KiB", 1024 ** 2: "1 MiB", 1024 ** 3: "1 GiB", 1024 ** 4: "1 TiB"}
    ticks = [b for b in names if lo <= b <= hi * 8]
    ax.set_xticks(ticks, [names[b] for b in ticks])
    ax.xaxis.set_minor_locator(__import__("matplotlib.ticker").ticker.NullLocator())
    ax.set_xlabel("bytes (log scale)")
    _style(ax, REPORT_PANELS[3])
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)


def _panel_curves(ax, ax_loss, r: RunResult) -> None:
    """(e) accuracy (left, %) and loss (right) per epoch, train and test."""
    E = len(r.sim.epoch_train_acc)
    ep = np.arange(1, E + 1)
    c_tr, c_te = "#4C72B0", "#DD8452"
    ax.plot(ep, 100 * np.asarray(r.sim.epoch_train_acc), "o-", color=c_tr, label="train acc")
    ax.plot(ep, 100 * np.asarray(r.sim.epoch_test_acc), "s-", color=c_te, label="test acc")
    ax_loss.plot(ep, r.sim.epoch_train_loss, "o--", color=c_tr, alpha=0.7, label="train loss")
    ax_loss.plot(ep, r.sim.epoch_test_loss, "s--", color=c_te, alpha=0.7, label="test loss")
    ax.set_ylim(-3, 103)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax_loss.set_ylabel("loss (dashed)")
    ax.set_xlim(0.5, max(E, 1) + 0.5)
    if E <= 25:
        ax.set_xticks(ep)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax_loss.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="best", frameon=False, ncol=2)
    _style(ax, REPORT_PANELS[4])
    if E == 0:
        _no_data(ax, "no epochs")


def _panel_assumed(ax, r: RunResult) -> None:
    """(f) per phase, the share of the run's energy priced by `assumed` figures."""
    data = assumed_by_phase(r)
    keys = [k for k in ("inference", "learning", "static", "total") if data[k][1] > 0]
    y = np.arange(len(keys))[::-1]
    share = np.array([100.0 * data[k][0] / data[k][1] for k in keys])
    ax.barh(y, share, 0.55, color="#C44E52", label="assumed figures")
    ax.barh(y, 100.0 - share, 0.55, left=share, color="#55A868", label="sourced figures")
    for yi, k, s in zip(y, keys, share):
        ax.text(101, yi, f"{s:.1f} % of {format_si(data[k][1], 'J', 3)}", va="center",
                fontsize=8.5)
    ax.set_yticks(y, [f"{k}\n(run)" if k == "total" else k for k in keys], fontsize=9)
    ax.set_xlim(0, 160)
    ax.set_ylim(-0.6, len(keys) + 0.2)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("share of the phase's energy, whole run (%)")
    ax.legend(fontsize=8, loc="upper right", frameon=False, ncol=2)
    _style(ax, REPORT_PANELS[5])
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    if not keys:
        _no_data(ax, "no energy")


def report_figure(result: RunResult) -> Figure:
    """Build (not save) the one-page report: six panels (:data:`REPORT_PANELS`),
    :data:`N_REPORT_AXES` axes in all."""
    r = result
    prices = effective_prices(r)
    fig = Figure(figsize=(17.0, 10.5), layout="constrained")
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(2, 3, width_ratios=[1.3, 1.0, 1.1])
    ax_a = fig.add_subplot(gs[0, 0])
    ax_b = fig.add_subplot(gs[0, 1])
    ax_c = fig.add_subplot(gs[0, 2])
    ax_d = fig.add_subplot(gs[1, 0])
    ax_e = fig.add_subplot(gs[1, 1])
    ax_f = fig.add_subplot(gs[1, 2])
    ax_c2 = ax_c.twinx()
    ax_e2 = ax_e.twinx()
    _panel_groups(fig, ax_a, r, prices)
    _panel_per_sample(ax_b, r, prices)
    _panel_steps(ax_c, ax_c2, r)
    _panel_memory(ax_d, r)
    _panel_curves(ax_e, ax_e2, r)
    _panel_assumed(ax_f, r)
    fig.suptitle(f"{r.sim.workload_name} · rule {r.sim.rule} · profile {r.cost.profile_name} "
                 f"({r.pricing.sop_energy_kind}) · {_short_dataset(r)} · T = {r.sim.time_steps}",
                 fontsize=14, fontweight="bold")
    return fig


def _plot_path(path) -> Path:
    """``path`` as a Path, or a clear error unless it ends in .png or .pdf (checked before any
    drawing is done)."""
    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf"):
        raise ChipsimError("unsupported plot file type", file=str(path),
                           expected="a path ending in .png or .pdf")
    return path


def _write_figure(fig: Figure, path, source: str = "") -> list[Path]:
    """Write ``fig`` atomically to ``path`` (a ``.pdf`` also gets its ``.png``), marked as
    drawn from ``source``; returns the files written, PNG first. The figure is cleared
    afterwards."""
    try:
        path = _plot_path(path)
    except ChipsimError:
        fig.clear()
        raise
    targets = [path.with_suffix(".png")] if path.suffix.lower() == ".pdf" else []
    targets.append(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for t in targets:
            _save_atomic(fig, t, t.suffix.lower().lstrip("."), source)
    except OSError as exc:
        raise ChipsimError(f"cannot write the plot: {exc}", file=str(path)) from None
    finally:
        fig.clear()
    return targets


def plot_report(result: RunResult, path) -> list[Path]:
    """Draw the one-page report to ``path`` (``.png``, or ``.pdf`` which also writes the
    ``.png`` beside it). Returns the files written, PNG first."""
    return _write_figure(report_figure(result), _plot_path(path), result_source(result))
