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
    """``(group names, (G, L, P) J)``: mean dynamic energy per training sample (a run without
    training samples, ``rule: none``: per test sample of the last test; see :func:`per_what`)."""
    prices = effective_prices(result) if prices is None else prices
    sel = selections(result)
    train = sel["train"] if sel["train"].any() else sel["test"]
    names = list(ACTION_GROUPS)
    out = np.zeros((len(names), result.counts_priced.shape[1], len(Phase)))
    if not train.any():
        return names, out
    mean_counts = result.counts_priced[train].astype(np.float64).mean(axis=0)   # (L, P, A)
    e = mean_counts * prices
    for g, actions in enumerate(ACTION_GROUPS.values()):
        out[g] = e[..., [int(a) for a in actions]].sum(axis=-1)
    return names, out


def per_what(result: RunResult) -> str:
    """What the per-layer breakdowns average over: training samples, or test samples when the
    run trained none (``rule: none``)."""
    return "per training sample" if selections(result)["train"].any() else "per test sample"


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
        ax.set_title(f"{title}, {per_what(r)}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if not (sel["train"].any() or sel["test"].any()):
            ax.text(0.5, 0.5, "no samples", transform=ax.transAxes,
                    ha="center", va="center", color="0.4")
    tallest = ge.sum(axis=0).max() / factor if ge.size else 0.0
    if tallest > 0:
        ax_inf.set_ylim(0, tallest * 1.08)       # shared by (b): the tallest bar clears the frame
    else:
        ax_inf.set_ylim(0, 1)
        ax_inf.set_yticks([])
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
        bars.append((f"training sample\n({_epochs(sel)})", sel["train"]))
    tunit, stacks = _phase_stacks(ax_tot, r, prices, bars, width=0.6, share_fmt=".1f",
                                  label_fs=8, tick_fs=8, headroom=1.25)
    ax_tot.set_ylabel(f"energy per sample ({tunit})")
    ax_tot.set_title("(c) energy per sample", fontsize=10)
    ax_tot.grid(axis="y", alpha=0.3)
    ax_tot.set_axisbelow(True)
    if stacks:
        ax_tot.legend(fontsize=8, loc="upper left", frameon=False, ncol=3)
    else:
        ax_tot.text(0.5, 0.5, "no samples", transform=ax_tot.transAxes, ha="center",
                    va="center", color="0.4")

    title = _run_title(r)
    first, _, rest = title.partition("\n")
    fig.suptitle(f"{first}  (run total: {100.0 * r.pricing.assumed_energy_share:.1f} % of energy on "
                 f"assumed figures)" + (f"\n{rest}" if rest else ""), fontsize=11)
    make_room(fig, [(ax_inf,), (ax_learn,), (ax_tot,)])
    return fig


#: How each ``sop_energy_kind`` of a profile reads in a figure (the ids are the profile's values).
SOP_ENERGY_TEXT = {
    "incremental": "pJ/SOP: incremental, static power added",
    "global_at_operating_point": "pJ/SOP: all-in average at the operating point",
}


def _run_title(r: RunResult, with_kind: bool = False) -> str:
    """The figure title of one run: workload, rule, profile (and how its SOP energy reads),
    data set, T; and, for a run that stopped before its end, that it did."""
    kind = f" ({SOP_ENERGY_TEXT.get(r.pricing.sop_energy_kind, r.pricing.sop_energy_kind)})" \
        if with_kind else ""
    title = (f"{r.sim.workload_name} · rule {r.sim.rule} · profile {r.cost.profile_name}{kind} · "
             f"{_short_dataset(r)} · T = {r.sim.time_steps}")
    if r.sim.interrupted:
        title += f"\nSTOPPED EARLY: {len(r.sim.sample_split)} samples finished"
        if any(n.startswith("training diverged") for n in r.notes):
            title += " (training diverged: its numbers went NaN or inf)"
    return title


def _data_extents(ax, renderer):
    """(artist's window extent, its anchor's y in pixels) for every bar, line vertex and
    data-anchored label of ``ax``: a y-limit change moves the anchor and keeps the rest of
    the artist at its pixel offset from it."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.text import Annotation, Text
    from matplotlib.transforms import Bbox
    out = []
    for a in ax.patches:
        if isinstance(a, Rectangle) and a.get_visible() and a.get_height() and a.get_width():
            bb = a.get_window_extent(renderer)
            out.append((bb, bb.y1))
    for line in ax.lines:
        if not line.get_visible():
            continue
        xy = line.get_transform().transform(line.get_xydata())
        xy = xy[np.isfinite(xy).all(axis=1)]
        r = line.get_markersize() / 2 * renderer.points_to_pixels(1.0) if line.get_marker() not in (None, "None", "") else line.get_linewidth()
        for x, y in xy:
            out.append((Bbox([[x - r, y - r], [x + r, y + r]]), y))
        for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:]):   # segments, sampled
            for f in np.linspace(0.0, 1.0, 9)[1:-1]:
                x, y = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
                out.append((Bbox([[x - r, y - r], [x + r, y + r]]), y))
    for c in ax.collections:                 # scatter points
        if not c.get_visible() or not len(c.get_offsets()):
            continue
        xy = c.get_offset_transform().transform(c.get_offsets())
        sizes = np.resize(np.asarray(c.get_sizes(), dtype=float), len(xy)) if len(c.get_sizes()) else np.full(len(xy), 36.0)
        for (x, y), s_ in zip(xy, sizes):
            if np.isfinite(x) and np.isfinite(y):
                r = np.sqrt(s_) / 2 * renderer.points_to_pixels(1.0)
                out.append((Bbox([[x - r, y - r], [x + r, y + r]]), y))
    for t in ax.texts:
        if not t.get_visible() or not t.get_text():
            continue
        if isinstance(t, Annotation) and t.xycoords == "data":
            anchor = ax.transData.transform(t.xy)[1]
        elif isinstance(t, Text) and t.get_transform() == ax.transData:
            anchor = ax.transData.transform(t.get_position())[1]
        else:
            continue                      # placed in axes coordinates: an obstacle, not data
        out.append((t.get_window_extent(renderer), anchor))
    return out


def _obstacles(ax, renderer) -> list:
    """What data must stay clear of in ``ax``: its legend and its texts placed in axes
    coordinates (notes)."""
    from matplotlib.text import Annotation
    out = []
    leg = ax.get_legend()
    if leg is not None and leg.get_visible():
        out.append(leg.get_window_extent(renderer))
    for t in ax.texts:
        if (t.get_visible() and t.get_text() and not isinstance(t, Annotation)
                and t.get_transform() == ax.transAxes):
            out.append(t.get_window_extent(renderer))
    return out


def make_room(fig: Figure, groups, pad: float = 8.0) -> None:
    """Raise the top of each y axis until none of its bars, lines or data labels reaches into
    a legend or note of its panel, or above the panel's frame. ``groups``: tuples of axes
    sharing one panel (a panel and its twin), the first holding the legend and notes. Runs the
    layout once (the figure's final one places legends and notes where they are measured)."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for group in groups:
        obstacles = _obstacles(group[0], renderer)
        for ax in group:
            if ax.get_yscale() != "linear":
                continue
            box = ax.get_window_extent(renderer)
            y0, y1 = ax.get_ylim()
            k = 1.0
            for bb, anchor in _data_extents(ax, renderer):
                f = (anchor - box.y0) / box.height          # the anchor, as a fraction
                if f <= 0:
                    continue
                above = (bb.y1 - anchor) / box.height       # what rises above it
                limits = [1.0 - pad / box.height]           # the frame
                limits += [(ob.y0 - pad - box.y0) / box.height for ob in obstacles
                           if bb.x1 > ob.x0 - pad and bb.x0 < ob.x1 + pad and bb.y1 > ob.y0 - pad]
                for lim in limits:
                    room = lim - above
                    k = max(k, f / room if room > 0.05 else f / 0.05)
            if k > 1.0:
                ax.set_ylim(y0, y0 + (y1 - y0) * k * 1.01)


def _epochs(sel: dict) -> str:
    """The training epochs a mean covers: 'all 10 epochs', or 'epoch 1' when there is one."""
    n = sel["n_epochs"]
    return f"all {n} epochs" if n != 1 else f"epoch {sel['train_epoch'] + 1}"


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
    ax.set_ylabel(f"dynamic energy {per_what(r)} ({unit})")
    ax.set_xlabel("phase (learning hatched) and layer")
    _style(ax, REPORT_PANELS[0])
    if used:
        ax.set_ylim(0, ge.sum(axis=0).max() / factor * 1.08)
        ax.legend(fontsize=8, ncol=2, frameon=False, loc="upper right",
                  title="action group", title_fontsize=8)
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        _no_data(ax, "no samples")


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
    top = bottom.max() if len(bottom) else 0.0
    if top > 0:
        ax.set_ylim(0, top * headroom)
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
    return unit, stacks


def _panel_per_sample(ax, r: RunResult, prices: np.ndarray) -> None:
    """(b) inference / learning / static energy per test and per training sample."""
    sel = selections(r)
    bars = [(label, m) for label, m in
            ((f"test\n(epoch {(sel['test_epoch'] or 0) + 1})", sel["test"]),
             (f"training\n({_epochs(sel)})", sel["train"])) if m.any()]
    unit, stacks = _phase_stacks(ax, r, prices, bars, width=0.55, share_fmt=".0f",
                                 label_fs=8.5, tick_fs=9, headroom=1.15)
    ax.set_ylabel(f"energy per sample ({unit})")
    _style(ax, REPORT_PANELS[1])
    if stacks:
        ax.legend(fontsize=8, loc="upper left", frameon=False, ncol=3)
    else:
        _no_data(ax, "no samples")


def _latency_note(r: RunResult) -> str:
    """Why panel (c) has no latency per step (two lines, written under its time axis)."""
    t = np.asarray(r.pricing.sample_time, dtype=np.float64)
    sel = selections(r)
    m = sel["test"] if sel["test"].any() else sel["train"]
    per = (f", {format_si(float(t[m].mean()), 's', 3)} per {'test' if sel['test'].any() else 'training'}"
           " sample") if m.any() else ""
    if r.cost.mapping is None and r.sim.step_counts is not None:
        why = f"profile '{r.cost.profile_name}' publishes no core architecture"
    else:
        why = "the run kept no per-step counts"
    import textwrap
    return textwrap.fill(f"No latency per step: {why}, so its time is the serial sum of "
                         f"per-action times{per}, not modelled step by step.", 62)


def _panel_steps(ax, ax_lat, r: RunResult) -> None:
    """(c) per-step dynamic energy (bars, by phase) and per-step latency (line, right)."""
    _style(ax, REPORT_PANELS[2])
    data = step_energy(r)
    if data is None:
        ax_lat.set_yticks([])
        ax.set_yticks([])
        ax.set_xticks([])
        _no_data(ax, "no per-step counts in this file" if r.sim.step_counts is None
                 else "no samples")
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
        ax_lat.set_ylabel("latency per step: not modelled", color="0.35")
        note += "\nlatency: no cycle model (see below)"
        ax.set_xlabel(f"{ax.get_xlabel()}\n\n{_latency_note(r)}", linespacing=1.25)
    else:
        lf, lu = scale_si(lat.max(), "s")
        ax_lat.plot(t, lat / lf, "o-", color="k", ms=3.5, lw=1.3,
                    label="latency (cycle model,\nall samples of the split)")
        ax_lat.set_ylabel(f"latency per step ({lu})")
        ax_lat.set_ylim(0, lat.max() / lf * 1.08 if lat.max() > 0 else 1)
    top = (inf + learn).max() / factor
    ax.set_ylim(0, top * 1.08 if top > 0 else 1)
    ax.text(0.01, 0.98, note, transform=ax.transAxes, ha="left", va="top", fontsize=8,
            color="0.15")
    handles = ax.get_legend_handles_labels()
    h2 = ax_lat.get_legend_handles_labels()
    ax.legend(handles[0] + h2[0], handles[1] + h2[1], fontsize=7.5, loc="upper right",
              frameon=False)


#: binary byte units and the tick multiples of (d)
_TICK_STEPS = ((1,), (1, 3), (1, 2, 5))


def byte_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks of a log byte axis from ``lo`` to ``hi``: 1, 10, 100 x B, KiB, MiB, GiB, TiB
    (and 3 x, then 2 x and 5 x, until there are at least three), as (bytes, label)."""
    for steps in _TICK_STEPS:
        ticks = []
        for f, u in _BYTE_UNITS + ((1024 ** 4, "TiB"),):
            for dec in (1, 10, 100):
                for m in steps:
                    v = m * dec * f
                    if lo <= v <= hi and not any(abs(v - t) / v < 0.05 for t, _ in ticks):
                        ticks.append((float(v), f"{m * dec:g} {u}"))
        if len(ticks) >= 3:
            break
    return sorted(ticks)


def _panel_memory(ax, r: RunResult) -> None:
    """(d) learning memory, gradient buffers and footprint, bytes."""
    items = [("learning state\n(peak, by the rule)", int(r.sim.learning_memory_bytes),
              "none kept"),
             ("gradient buffers", int(r.sim.gradient_buffer_bytes),
              "none: inference only (rule none)" if r.sim.rule == "none" else
              "none: each update is written\nstraight into the weights"),
             ("footprint\n(params + buffers)", int(r.sim.footprint_bytes), "none")]
    y = np.arange(len(items))[::-1]
    colours = ["#DD8452", "#C44E52", "#4C72B0"]
    values = np.array([v for _, v, _ in items], dtype=np.float64)
    lo = 1.0
    if np.any(values > 0):
        vmin = values[values > 0].min()
        lo = max(1.0, min(vmin / 10.0, 1024.0 ** np.floor(np.log(vmin) / np.log(1024.0))))
    hi = max(values.max(), lo * 10.0)
    ax.set_xscale("log")
    for yi, v, c in zip(y, values, colours):
        if v > 0:
            ax.barh(yi, v - lo, 0.55, left=lo, color=c)
    for yi, (_, v, none) in zip(y, items):
        if v > 0:
            f, u = scale_bytes(v)
            ax.annotate(f"{v / f:,.4g} {u}", (v, yi), textcoords="offset points", xytext=(4, 0),
                        va="center", fontsize=9)
        else:
            ax.annotate(none, (lo, yi), textcoords="offset points", xytext=(6, 0), va="center",
                        fontsize=9, color="0.35", style="italic")
    ax.set_yticks(y, [k for k, _, _ in items], fontsize=9)
    ax.set_ylim(-0.6, len(items) - 0.4)
    ax.set_xlim(lo, hi * 8)
    ticks = byte_ticks(lo, hi * 8)
    ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
    from matplotlib.ticker import NullLocator
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("bytes (log scale)")
    _style(ax, REPORT_PANELS[3])
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)


def _panel_curves(ax, ax_loss, r: RunResult) -> None:
    """(e) accuracy (left, %) and loss (right) per epoch, train and test."""
    E = len(r.sim.epoch_train_acc)
    ep = np.arange(1, E + 1)
    c_tr, c_te = "#4C72B0", "#DD8452"
    _style(ax, REPORT_PANELS[4])
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_xlim(0.5, max(E, 1) + 0.5)
    ax.set_ylim(-3, 103)
    ax.set_yticks(np.arange(0, 101, 20))
    curves = [(ax, 100 * np.asarray(r.sim.epoch_train_acc), "o-", c_tr, "train acc", 1.0),
              (ax, 100 * np.asarray(r.sim.epoch_test_acc), "s-", c_te, "test acc", 1.0),
              (ax_loss, np.asarray(r.sim.epoch_train_loss), "o--", c_tr, "train loss", 0.7),
              (ax_loss, np.asarray(r.sim.epoch_test_loss), "s--", c_te, "test loss", 0.7)]
    drawn = [c for c in curves if np.isfinite(c[1]).any()]
    for a, y, style, colour, label, alpha in drawn:
        a.plot(ep, y, style, color=colour, alpha=alpha, label=label)
    ax_loss.set_ylabel("loss (dashed)")
    losses = np.concatenate([c[1] for c in drawn if c[0] is ax_loss] or [np.zeros(0)])
    losses = losses[np.isfinite(losses)]
    if losses.size:
        ax_loss.set_ylim(min(0.0, losses.min()), max(losses.max(), 1e-12) * 1.08)
    else:
        ax_loss.set_yticks([])
    if E <= 25:
        ax.set_xticks(ep)
    if drawn:
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax_loss.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center", frameon=False, ncol=4,
                  handlelength=2.5, columnspacing=1.2)
    else:
        _no_data(ax, "no finished epoch" if E else "no epochs")


def _panel_assumed(ax, r: RunResult) -> None:
    """(f) per phase, the share of the run's energy priced by `assumed` figures."""
    data = assumed_by_phase(r)
    keys = [k for k in ("inference", "learning", "static", "total") if data[k][1] > 0]
    y = np.arange(len(keys))[::-1]
    share = np.array([100.0 * data[k][0] / data[k][1] for k in keys])
    _style(ax, REPORT_PANELS[5])
    ax.set_xlim(0, 160)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("share of the phase's energy, whole run (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    if not keys:
        ax.set_yticks([])
        _no_data(ax, "no energy")
        return
    ax.barh(y, share, 0.55, color="#C44E52", label="assumed figures")
    ax.barh(y, 100.0 - share, 0.55, left=share, color="#55A868", label="sourced figures")
    for yi, k, s in zip(y, keys, share):
        ax.text(101, yi, f"{s:.1f} % of {format_si(data[k][1], 'J', 3)}", va="center",
                fontsize=8.5)
    ax.set_yticks(y, [f"{k}\n(run)" if k == "total" else k for k in keys], fontsize=9)
    ax.set_ylim(-0.6, len(keys) - 0.4)
    ax.legend(fontsize=8, loc="upper right", frameon=False, ncol=2)


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
    fig.suptitle(_run_title(r, with_kind=True), fontsize=14, fontweight="bold")
    make_room(fig, [(ax_a,), (ax_b,), (ax_c, ax_c2), (ax_d,), (ax_e, ax_e2), (ax_f,)])
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
