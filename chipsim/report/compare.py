"""Runs side by side: ``chipsim compare A.h5 B.h5 ...``.

For each results file (read with :func:`chipsim.report.h5.read_result`; a bad file raises
its :class:`ChipsimError`), one row of :func:`compare_rows`, with the definitions of
:mod:`chipsim.report.summary`:

* ``test_acc_pct``: test accuracy of the last epoch with test samples;
* ``train_energy_J`` / ``test_energy_J``: mean energy (dynamic + static) per training
  sample (all epochs) / per test sample (last test epoch);
* ``energy_per_sop_J``: run energy / run SOPs; ``learning_share_pct``: learning-phase
  dynamic energy over all training energy;
* ``latency_per_step_s``: mean modelled latency of a test sample (training, without test
  samples) divided by T;
* ``assumed_share_pct``: the run's share of energy on `assumed` profile figures.

A run's label is ``rule · profile · T<T> · <data set>`` (e.g. ``ottt_o · anp_i · T10 ·
N-MNIST``), the data set by the name its description starts with (``CIFAR10-DVS stand-in``
for the emulated stand-in). The figure: energy per sample vs test accuracy (scatter,
labelled), the stacked inference / learning / static energy per training sample of each run,
and latency per step.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from chipsim.report.summary import format_si, scale_si, selections, summary_dict

#: Columns of the terminal table: (key, header).
COLUMNS = (("label", "run"), ("test_acc_pct", "test acc"), ("train_energy_J", "E/train sample"),
           ("test_energy_J", "E/test sample"), ("energy_per_sop_J", "E/SOP"),
           ("learning_share_pct", "learning share"), ("latency_per_step_s", "latency/step"),
           ("assumed_share_pct", "assumed share"))


def dataset_tag(dataset: str) -> str:
    """The data set's name as its description gives it: ``'N-MNIST, embedded ...'`` ->
    ``'N-MNIST'``, ``'CIFAR10-DVS STAND-IN (emulated; ...'`` -> ``'CIFAR10-DVS stand-in'``,
    ``'DVS128 Gesture (/data/...), ...'`` -> ``'DVS128 Gesture'``."""
    head = re.split(r"[,(;:]", dataset, maxsplit=1)[0].strip()
    head = re.sub(r"\bSTAND-IN\b", "stand-in", head)
    return head or "data"


def run_label(result) -> str:
    return f"{result.sim.rule} · {result.cost.profile_name} · T{result.sim.time_steps} · {dataset_tag(result.sim.dataset)}"


def row(result, path=None) -> dict:
    """One comparison row of ``result`` (SI units; shares and accuracy in %; None if undefined)."""
    d = summary_dict(result)
    sel = selections(result)
    m = sel["test"] if sel["test"].any() else sel["train"]
    t = np.asarray(result.pricing.sample_time, dtype=np.float64)
    lat = float(t[m].mean()) / max(int(result.sim.time_steps), 1) if m.any() else None
    return {
        "label": run_label(result),
        "path": None if path is None else str(path),
        "rule": result.sim.rule, "profile": result.cost.profile_name,
        "time_steps": int(result.sim.time_steps), "dataset": dataset_tag(result.sim.dataset),
        "test_acc_pct": d["test_accuracy_pct"],
        "train_energy_J": d["train_energy_per_sample_J"],
        "test_energy_J": d["test_energy_per_sample_J"],
        "energy_per_sop_J": d["energy_per_sop_J"],
        "learning_share_pct": d["learning_share_pct"],
        "inference_share_pct": d["inference_share_pct"],
        "static_share_pct": d["static_share_pct"],
        "train_inference_J": d["train_inference_energy_per_sample_J"],
        "train_learning_J": d["train_learning_energy_per_sample_J"],
        "train_static_J": d["train_static_energy_per_sample_J"],
        "latency_per_step_s": lat,
        "latency_basis": "test" if sel["test"].any() else "train",
        "time_model": result.cost.time_model,
        "assumed_share_pct": d["assumed_share_pct"],
    }


def compare_rows(paths) -> list[dict]:
    from chipsim.report.h5 import read_result

    return [row(read_result(p), p) for p in paths]


def _cell(key: str, v) -> str:
    if v is None:
        return "n/a"
    if key == "label":
        return str(v)
    if key.endswith("_pct"):
        return f"{v:.1f} %"
    if key.endswith("_J"):
        return format_si(v, "J", 4)
    if key.endswith("_s"):
        return format_si(v, "s", 4)
    return str(v)


def format_table(rows: list[dict]) -> str:
    """Plain aligned text table (no colour codes); numbers right-aligned."""
    cells = [[h for _, h in COLUMNS]] + [[_cell(k, r[k]) for k, _ in COLUMNS] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, c in enumerate(cells):
        parts = [c[0].ljust(widths[0])] + [x.rjust(w) for x, w in zip(c[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def compare_figure(rows: list[dict]) -> Figure:
    """Three axes: (a) energy per sample vs test accuracy, (b) stacked energy per training
    sample per run, (c) latency per step per run."""
    n = len(rows)
    fig = Figure(figsize=(17.0, 6.0 + 0.12 * max(n - 4, 0)), layout="constrained")
    FigureCanvasAgg(fig)
    ax_s, ax_b, ax_l = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1.0, 1.0]})
    labels = [r["label"] for r in rows]
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    colours = [cmap(i % 10) for i in range(n)]

    # (a) scatter: test and training energy per sample vs test accuracy
    e_all = [v for r in rows for v in (r["test_energy_J"], r["train_energy_J"]) if v]
    f, u = scale_si(max(e_all, default=0.0), "J")
    for i, (r, c) in enumerate(zip(rows, colours)):
        acc = r["test_acc_pct"] if r["test_acc_pct"] is not None else np.nan
        for key, marker in (("test_energy_J", "o"), ("train_energy_J", "^")):
            if r[key] is not None:
                ax_s.scatter(r[key] / f, acc, s=60, marker=marker, color=c, zorder=3)
        if r["test_energy_J"] is not None:
            ax_s.annotate(r["label"], (r["test_energy_J"] / f, acc), textcoords="offset points",
                          xytext=(6, 6 + 12 * (i % 5)), fontsize=8.5, color=c,
                          arrowprops={"arrowstyle": "-", "color": c, "lw": 0.5})
    ax_s.scatter([], [], marker="o", color="0.4", label="per test sample")
    ax_s.scatter([], [], marker="^", color="0.4", label="per training sample")
    ax_s.legend(fontsize=8, frameon=False, loc="upper right", ncol=2)
    ax_s.set_ylim(-5, 105)
    ax_s.set_yticks(np.arange(0, 101, 20))
    if e_all and max(e_all) / min(e_all) > 30:
        ax_s.set_xscale("log")
        ax_s.set_xlabel(f"energy per sample ({u}, log scale)")
    else:
        ax_s.set_xlim(left=0)
    if ax_s.get_xscale() != "log":
        ax_s.set_xlabel(f"energy per sample ({u})")
    ax_s.set_ylabel("test accuracy (%)")
    ax_s.set_title("(a) energy per sample vs accuracy", fontsize=11, loc="left")
    ax_s.grid(alpha=0.3)

    # (b) stacked energy per training sample
    parts = np.array([[r["train_inference_J"] or 0.0, r["train_learning_J"] or 0.0,
                       r["train_static_J"] or 0.0] for r in rows])
    fb, ub = scale_si(parts.sum(axis=1).max() if n else 0.0, "J")
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    for k, (name, col) in enumerate((("inference", "#4C72B0"), ("learning", "#DD8452"),
                                     ("static", "#8C8C8C"))):
        ax_b.barh(y, parts[:, k] / fb, 0.6, left=left, color=col, label=name)
        left += parts[:, k] / fb
    for yi, tot, r in zip(y, left, rows):
        ax_b.annotate(f"{tot:.3g} {ub}", (tot, yi), textcoords="offset points", xytext=(3, 0),
                      va="center", fontsize=8)
    ax_b.set_yticks(y, labels, fontsize=8)
    ax_b.set_xlim(0, max(left.max() if n else 0.0, 1e-30) * 1.45)
    ax_b.set_xlabel(f"energy per training sample ({ub})")
    ax_b.set_title("(b) energy breakdown per training sample", fontsize=11, loc="left")
    ax_b.legend(fontsize=8, frameon=False, loc="upper right", ncol=3)
    ax_b.grid(axis="x", alpha=0.3)

    # (c) latency per step
    lat = np.array([r["latency_per_step_s"] or 0.0 for r in rows])
    fl, ul = scale_si(lat.max() if n else 0.0, "s")
    ax_l.barh(y, lat / fl, 0.6, color=colours)
    for yi, v, r in zip(y, lat, rows):
        model = "cycle model" if r["time_model"].startswith("cycle") else "serial time"
        ax_l.annotate(f"{format_si(v, 's', 3)} ({model})" if r["latency_per_step_s"] is not None
                      else "n/a", (v / fl, yi), textcoords="offset points", xytext=(3, 0),
                      va="center", fontsize=8)
    ax_l.set_yticks(y, labels, fontsize=8)
    ax_l.set_xlim(0, max(lat.max() / fl if n else 0.0, 1e-30) * 1.6)
    ax_l.set_xlabel(f"modelled latency per time step ({ul}; test samples)")
    ax_l.set_title("(c) latency per time step", fontsize=11, loc="left")
    ax_l.grid(axis="x", alpha=0.3)
    fig.suptitle(f"chipsim: {n} run{'s' if n != 1 else ''} compared", fontsize=13, fontweight="bold")
    from chipsim.report.plots import make_room
    make_room(fig, [(ax_s,), (ax_b,), (ax_l,)])
    return fig


def compare(paths, out=None, labels=None) -> tuple[str, list[dict], list[Path]]:
    """Read ``paths``, return ``(table text, rows, figure files written)``; the figure goes
    to ``out`` (``.png``, or ``.pdf`` plus its ``.png``; default ``compare.png`` next to the
    first file). ``labels``: path -> the label of its row instead of rule · profile · T ·
    data set (a sweep point's axis values), for the paths it names."""
    from chipsim.report.plots import _plot_path, _write_figure

    from chipsim.errors import ChipsimError

    paths = [Path(p) for p in paths]
    if not paths:
        raise ChipsimError("nothing to compare", expected="one or more results files")
    out = _plot_path(out) if out is not None else paths[0].with_name("compare.png")
    from chipsim.report.h5 import read_result
    from chipsim.report.outputs import compare_source
    results = [read_result(p) for p in paths]
    rows = [row(r, p) for r, p in zip(results, paths)]
    for r, p in zip(rows, paths):
        extra = (labels or {}).get(p)
        if extra:               # a sweep point: its axis values say what differs
            r["label"] = extra
    source = compare_source(r.sim.workload_text for r in results)
    written = _write_figure(compare_figure(rows), out, source)
    return format_table(rows), rows, written
