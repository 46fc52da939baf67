"""A sweep's figures: ``chipsim report DIR`` on a directory written by ``chipsim sweep``.

Read from the sweep's index alone (report/sweep_index.py), plus the results files of the
Pareto front's points:

* ``pareto.png``: test accuracy vs learning energy per training sample of every finished
  point (colour: rule, marker: profile), the Pareto front (least learning energy for the
  accuracy) as a staircase, its points circled and numbered as in the text table;
* ``front_energy.png``: the front's mean dynamic energy per training sample by action group
  (report/plots.py ACTION_GROUPS), i.e. *where* each front point spends its energy;
* ``sensitivity_<axis>.png``: per axis, test accuracy and learning energy against the axis's
  values, every point as a dot and the mean per value as a line: which knob matters.

Only ``done`` points are drawn (a diverged point's accuracy means nothing; failed and pending
points have no figures). Figures are checked before any drawing (a path chipsim can write, no
file it may not replace: report/outputs.py) and written whole (report/plots.py), marked as
drawn from the sweep (:func:`sweep_source`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path, PurePosixPath

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from chipsim.errors import ChipsimError
from chipsim.report.outputs import _digest
from chipsim.report.summary import format_si, scale_si
from chipsim.report.sweep_index import CSV_NAME, H5_NAME, STATUSES, axes_of, read_index

X_KEY = "learning_energy_per_sample_J"
Y_KEY = "test_accuracy_pct"
PARETO_PNG = "pareto.png"
FRONT_ENERGY_PNG = "front_energy.png"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")


# ------------------------------------------------------------------------------ data

def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def pareto_front(rows, x: str = X_KEY, y: str = Y_KEY) -> list[dict]:
    """The non-dominated ``done`` rows with both ``x`` and ``y`` present (lower ``x`` is
    better, higher ``y`` is better), sorted by ``x`` ascending (ties: higher ``y`` first).

    A row is dominated if another has ``x <=`` and ``y >=`` with one of them strict; rows
    with exactly the same ``(x, y)`` as a front row are all on the front."""
    cand = [r for r in rows if r.get("status") == "done" and _finite(r.get(x)) and _finite(r.get(y))]
    cand.sort(key=lambda r: (r[x], -r[y]))          # stable: index order among exact ties
    front, best_x, best_y = [], None, -math.inf
    for r in cand:
        if r[y] > best_y:
            front.append(r)
            best_x, best_y = r[x], r[y]
        elif r[y] == best_y and r[x] == best_x:    # the same point as one on the front
            front.append(r)
    return front


def _results_path(directory: Path, row: dict) -> Path | None:
    """A row's results file inside the sweep directory (None if it names none, or one
    outside the directory)."""
    rel = row.get("results") or ""
    p = PurePosixPath(rel.replace("\\", "/"))
    if not rel or p.is_absolute() or ".." in p.parts:
        return None
    return directory / Path(*p.parts)


def sweep_result_files(directory) -> list[Path]:
    """The results files of the sweep's done and diverged points that exist, in index order
    (what ``chipsim compare DIR`` compares)."""
    d = Path(directory)
    _, rows = read_index(d)
    out = []
    for r in rows:
        if r.get("status") in ("done", "diverged"):
            p = _results_path(d, r)
            if p is not None and p.is_file():
                out.append(p)
    if not out:
        raise ChipsimError("no results file of a finished point in the sweep", file=str(d),
                           expected="a sweep directory with at least one done point "
                                    "(points/<key>.h5)")
    return out


def sweep_point_labels(directory) -> dict:
    """results file -> the point's axis values, short ("sltt, anp_i, weight_bits=4": a rule
    or a profile by its value, another axis by its last name), for the finished points of the
    sweep (what ``chipsim compare DIR`` labels its rows with)."""
    d = Path(directory)
    cols, rows = read_index(d)
    axes = axes_of(cols)
    out = {}
    for r in rows:
        p = _results_path(d, r) if r.get("status") in ("done", "diverged") else None
        if p is not None:
            out[p] = ", ".join(str(r.get(a)) if a in ("rule", "rule.name", "profile") else
                               f"{a.rsplit('.', 1)[-1]}={r.get(a)}" for a in axes)
    return out


def sweep_name(directory) -> str:
    """The sweep's name as ``chipsim sweep`` recorded it (index.h5 attribute ``sweep``), or
    the directory's name (the default sweep directory is results/sweeps/<name>)."""
    d = Path(directory)
    try:
        import h5py
        with h5py.File(d / H5_NAME, "r") as f:
            name = f.attrs.get("sweep")
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        if isinstance(name, str) and name:
            return name
    except (OSError, KeyError, ValueError):
        pass
    return d.resolve().name


def sweep_source(directory) -> str:
    """What a sweep's figures are drawn from (report/outputs.py): the sweep, by its name.

    By name, not by the text of its sweep.yaml: an edited sweep re-runs into the same
    directory (rewriting sweep.yaml), and its figures should be redrawn there, not refused."""
    return f"sweep {_digest(sweep_name(directory))}"


# ------------------------------------------------------------------------------ text

def _value_text(v) -> str:
    return "null" if v is None or v == "" else str(v)


def _point_label(row: dict, axes: list[str]) -> str:
    if axes:
        return ", ".join(f"{a}={_value_text(row.get(a))}" for a in axes)
    return f"{row.get('rule_name') or '?'} · {row.get('profile_name') or '?'}"


def _counts(rows) -> dict:
    out = {s: 0 for s in STATUSES}
    for r in rows:
        out[r.get("status")] = out.get(r.get("status"), 0) + 1
    return out


def _pct(v) -> str:
    return "n/a" if not _finite(v) else f"{v:.1f} %"


def _si(v, unit) -> str:
    return "n/a" if not _finite(v) else format_si(v, unit, 4)


def front_table(front: list[dict], axes: list[str]) -> str:
    """The front as a plain aligned text table, numbered as in the figures. The rule and
    profile columns are left out when an axis already shows them."""
    what = [(h, k) for h, k, names in (("rule", "rule_name", ("rule", "rule.name")),
                                       ("profile", "profile_name", ("profile",)))
            if not set(names) & set(axes)]
    head = ["#", *axes, *(h for h, _ in what), "test acc", "learning E/sample",
            "E/train sample", "learning/inference"]
    cells = [head]
    for i, r in enumerate(front, 1):
        cells.append([str(i), *(_value_text(r.get(a)) for a in axes),
                      *(r.get(k) or "?" for _, k in what),
                      _pct(r.get(Y_KEY)), _si(r.get(X_KEY), "J"),
                      _si(r.get("train_energy_per_sample_J"), "J"),
                      _pct(r.get("learning_to_inference_pct"))])
    n_text = 1 + len(axes) + len(what)         # '#', axes, rule, profile: left-aligned
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = []
    for k, c in enumerate(cells):
        parts = [x.ljust(w) if i < n_text else x.rjust(w)
                 for i, (x, w) in enumerate(zip(c, widths))]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------------------ figures

def _new_figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colours(names) -> dict:
    from matplotlib import colormaps
    cmap = colormaps["tab10"]
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def _log_or_symlog(ax, values, axis: str) -> None:
    """A log axis; symlog (linear near zero) when some value is zero or negative."""
    vals = [v for v in values if _finite(v)]
    pos = [v for v in vals if v > 0]
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    if vals and len(pos) == len(vals):
        setter("log")
    else:
        setter("symlog", linthresh=min(pos) if pos else 1e-15)


def pareto_figure(rows: list[dict], front: list[dict], title: str) -> Figure:
    """Test accuracy vs learning energy per training sample; the front as a staircase."""
    pts = [r for r in rows if _finite(r.get(X_KEY)) and _finite(r.get(Y_KEY))]
    fig = _new_figure(10.0, 6.8)
    ax = fig.add_subplot()
    colours = _colours(_unique(r.get("rule_name") or "?" for r in rows))
    profiles = _unique(r.get("profile_name") or "?" for r in rows)
    markers = {p: _MARKERS[i % len(_MARKERS)] for i, p in enumerate(profiles)}
    for r in pts:
        ax.scatter(r[X_KEY], r[Y_KEY], s=46, color=colours[r.get("rule_name") or "?"],
                   marker=markers[r.get("profile_name") or "?"], alpha=0.85, zorder=3)
    if front:
        fx, fy = [r[X_KEY] for r in front], [r[Y_KEY] for r in front]
        ax.step(fx, fy, where="post", color="0.2", lw=1.3, zorder=2, label="Pareto front")
        ax.scatter(fx, fy, s=190, facecolors="none", edgecolors="0.1", linewidths=1.3, zorder=4)
        for i, r in enumerate(front, 1):
            ax.annotate(str(i), (r[X_KEY], r[Y_KEY]), textcoords="offset points",
                        xytext=(7, -13), fontsize=9, fontweight="bold", color="0.1")
    _log_or_symlog(ax, [r[X_KEY] for r in pts], "x")
    ax.set_xlabel("learning energy per training sample (J, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    from matplotlib.lines import Line2D
    rule_h = [Line2D([], [], ls="", marker="o", color=c, label=n) for n, c in colours.items()]
    prof_h = [Line2D([], [], ls="", marker=markers[p], color="0.4", label=p) for p in profiles]
    front_h = [Line2D([], [], color="0.2", lw=1.3, marker="o", mfc="none", ms=11,
                      label="Pareto front (numbered)")]
    leg = ax.legend(handles=rule_h, title="rule", fontsize=8, title_fontsize=8,
                    loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.add_artist(leg)
    ax.legend(handles=prof_h + front_h, title="profile", fontsize=8, title_fontsize=8,
              loc="lower left", bbox_to_anchor=(1.01, 0.0), frameon=False)
    ax.set_title(title, fontsize=12, fontweight="bold")
    return fig


def front_energy_figure(directory: Path, front: list[dict], axes: list[str]) -> Figure:
    """Stacked bars, one per front point: mean dynamic energy per training sample by action
    group, summed over layers and phases (from each point's results file)."""
    from chipsim.report.h5 import read_result
    from chipsim.report.plots import _group_colours, group_energy_per_train_sample

    names, energy, missing = None, [], []
    for r in front:
        p = _results_path(directory, r)
        try:
            if p is None:
                raise ChipsimError("no results file")
            g, e = group_energy_per_train_sample(read_result(p))
            names = g
            energy.append(e.sum(axis=(1, 2)))
            missing.append(False)
        except ChipsimError:
            energy.append(None)
            missing.append(True)
    n = len(front)
    fig = _new_figure(12.0, 2.2 + 0.5 * max(n, 1))
    ax = fig.add_subplot()
    labels = [f"{i}: {_point_label(r, axes)}" for i, r in enumerate(front, 1)]
    y = np.arange(n)[::-1]
    if names is None:
        ax.text(0.5, 0.5, "no results file of a front point could be read", ha="center",
                va="center", transform=ax.transAxes, color="0.4")
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xticks([])
        return fig
    table = np.array([e if e is not None else np.zeros(len(names)) for e in energy])   # (n, G)
    totals = table.sum(axis=1)
    f, unit = scale_si(totals.max(), "J")
    colours = _group_colours(len(names))
    left = np.zeros(n)
    for g, name in enumerate(names):
        if not table[:, g].any():
            continue                          # a group no front point spends on: no legend entry
        ax.barh(y, table[:, g] / f, 0.62, left=left, color=colours[g], label=name)
        left += table[:, g] / f
    for yi, tot, miss in zip(y, totals, missing):
        ax.annotate("results file unreadable" if miss else f"{tot / f:.3g} {unit}", (tot / f, yi),
                    textcoords="offset points", xytext=(4, 0), va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, max(left.max(), 1e-30) * 1.18)
    ax.set_xlabel(f"mean dynamic energy per training sample ({unit})")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Pareto front: dynamic energy per training sample by action group",
                 fontsize=12, fontweight="bold")
    return fig


def _as_number(v):
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def axis_order(values) -> list:
    """An axis's values in drawing order: non-numeric ones (e.g. null, true, a rule name) in
    order of first appearance, then numeric-looking ones sorted numerically."""
    seen = _unique(values)
    text = [v for v in seen if _as_number(v) is None]
    nums = sorted((v for v in seen if _as_number(v) is not None), key=_as_number)
    return text + nums


def sensitivity_figure(rows: list[dict], axis: str) -> Figure:
    """Two panels against one axis's values: test accuracy, and learning energy per
    training sample (log); every point a dot (colour: rule), the mean per value a line."""
    order = axis_order(r.get(axis) for r in rows)
    pos = {v: i for i, v in enumerate(order)}
    colours = _colours(_unique(r.get("rule_name") or "?" for r in rows))
    fig = _new_figure(max(10.0, 3.0 + 1.0 * len(order)), 4.8)
    ax_a, ax_e = fig.subplots(1, 2)
    rng = np.random.default_rng(0)            # a fixed jitter, so redraws are identical
    for ax, key, ylabel in ((ax_a, Y_KEY, "test accuracy (%)"),
                            (ax_e, X_KEY, "learning energy per training sample (J, log scale)")):
        pts = [(pos[r.get(axis)], r[key], r.get("rule_name") or "?") for r in rows if _finite(r.get(key))]
        if pts:
            xs = np.array([p[0] for p in pts], dtype=float) + rng.uniform(-0.08, 0.08, len(pts))
            ax.scatter(xs, [p[1] for p in pts], s=22, c=[colours[p[2]] for p in pts],
                       alpha=0.75, zorder=3)
            means = [(i, float(np.mean([p[1] for p in pts if p[0] == i])))
                     for i in range(len(order)) if any(p[0] == i for p in pts)]
            ax.plot([m[0] for m in means], [m[1] for m in means], color="0.15", lw=1.6,
                    marker="_", ms=16, zorder=4, label="mean")
        if key == X_KEY:
            _log_or_symlog(ax, [p[1] for p in pts], "y")
        ax.set_xticks(range(len(order)), [_value_text(v) for v in order],
                      rotation=30 if max((len(_value_text(v)) for v in order), default=0) > 8 else 0,
                      ha="right" if max((len(_value_text(v)) for v in order), default=0) > 8 else "center",
                      fontsize=9)
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.set_xlabel(axis)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], ls="", marker="o", color=c, label=n) for n, c in colours.items()]
    handles.append(Line2D([], [], color="0.15", lw=1.6, label="mean per value"))
    ax_e.legend(handles=handles, title="rule", fontsize=8, title_fontsize=8, frameon=False,
                loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(f"sensitivity to {axis} ({len(rows)} finished point{'s' if len(rows) != 1 else ''})",
                 fontsize=12, fontweight="bold")
    return fig


def _file_part(axis: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", axis) or "axis"


# ------------------------------------------------------------------------------ command

def sweep_report(directory, out_dir=None, force: bool = False) -> tuple[str, list[Path]]:
    """Draw a sweep's figures into ``out_dir`` (default: the sweep directory) and return
    ``(text: the Pareto front and the points' counts, files written)``.

    Every figure path is checked before anything is drawn; an existing file is replaced only
    if it is a chipsim figure of the same sweep, or ``force``."""
    from chipsim.report.outputs import FIGURE_SUFFIXES, check_path, check_replace
    from chipsim.report.plots import _write_figure

    d = Path(directory)
    cols, rows = read_index(d)
    axes = axes_of(cols)
    done = [r for r in rows if r.get("status") == "done"]
    counts = _counts(rows)
    if not done:
        raise ChipsimError("no finished point in the sweep", file=str(d / CSV_NAME),
                           expected="at least one point with status done (the sweep may still "
                                    "be running, or every point failed: see its message column)")
    out = Path(out_dir) if out_dir is not None else d
    targets = [out / PARETO_PNG, out / FRONT_ENERGY_PNG,
               *(out / f"sensitivity_{_file_part(a)}.png" for a in axes)]
    source = sweep_source(d)
    for t in targets:
        check_path(t, FIGURE_SUFFIXES, what="figure")
    for t in targets:
        check_replace(t, source, force=force, what="figure")

    front = pareto_front(done)
    name = sweep_name(d)
    title = (f"{name}: {len(done)} of {len(rows)} points done; Pareto front of {len(front)}"
             "\n(test accuracy vs learning energy per training sample)")
    written = []
    written += _write_figure(pareto_figure(done, front, title), targets[0], source)
    written += _write_figure(front_energy_figure(d, front, axes), targets[1], source)
    for a, t in zip(axes, targets[2:]):
        written += _write_figure(sensitivity_figure(done, a), t, source)

    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES)
    text = (f"sweep {name}: {len(rows)} points ({summary})\n"
            f"Pareto front (highest test accuracy for the least learning energy per training "
            f"sample; {len(front)} of {len(done)} done points):\n"
            + (front_table(front, axes) if front else "  (no done point has both figures)"))
    return text, written
