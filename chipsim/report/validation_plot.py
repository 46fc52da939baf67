"""Overlay figure of the Brian2 cross-validation: membrane traces of a few neurons, chipsim
against its Brian2 twin, with the spikes of each marked (chipsim.interop.brian2_validate)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_LEAKS = {"1-1/1.1": "1 − 1/1.1"}


def readable(title: str) -> str:
    """A validation variant's id as a paper reads it: ``'soft lam=0.5 H(0)=1 decay_in=off'``
    -> ``'soft reset, λ = 0.5, H(0) = 1, no input decay'`` (the rest of ``title`` is kept)."""
    def variant(m: re.Match) -> str:
        reset, lam, h0, decay = m.groups()
        decay_text = "input scaled by 1 − λ" if decay == "on" else "no input decay"
        return f"{reset} reset, λ = {_LEAKS.get(lam, lam)}, H(0) = {h0}, {decay_text}"
    return re.sub(r"\b(soft|hard) lam=(\S+) H\(0\)=([01]) decay_in=(on|off)\b", variant, title)


def overlay(traces: dict, title: str = "", neurons: int = 3) -> Figure:
    """Build (not save) the overlay: v (post-reset state after each step) of the first
    ``neurons`` neurons of every LIF layer, chipsim solid, Brian2 dashed, spikes as markers
    (chipsim above the threshold line, Brian2 just below it), and how far the two differ.
    ``traces``: a validation row's ``traces`` dict (v_chipsim, v_brian2, s_chipsim, s_brian2
    lists of (T, n) arrays per layer, theta)."""
    vc, vb = traces["v_chipsim"], traces["v_brian2"]
    sc, sb = traces["s_chipsim"], traces["s_brian2"]
    theta = float(traces.get("theta", 1.0))
    n_l = len(vc)
    k = min(neurons, min(v.shape[1] for v in vc))
    fig = Figure(figsize=(4.6 * n_l, 1.9 * k + 1.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(k, n_l, squeeze=False, sharex=True)
    lines = {}
    for l in range(n_l):
        T = vc[l].shape[0]
        t = np.arange(1, T + 1)
        for i in range(k):
            ax = axes[i, l]
            lines["chipsim v"], = ax.plot(t, vc[l][:, i], "-", color="tab:blue", lw=1.4)
            lines["Brian2 v"], = ax.plot(t, vb[l][:, i], "--", color="tab:orange", lw=1.2)
            lines["threshold θ"] = ax.axhline(theta, color="0.6", lw=0.6, ls=":")
            tc = t[sc[l][:, i]]
            tb = t[sb[l][:, i]]
            lines["chipsim spike"], = ax.plot(tc, np.full(tc.shape, theta * 1.1), "v",
                                              color="tab:blue", ms=4, ls="none")
            lines["Brian2 spike"], = ax.plot(tb, np.full(tb.shape, theta * 0.92), "^",
                                             color="tab:orange", ms=4, ls="none")
            lo = min(float(vc[l][:, i].min()), float(vb[l][:, i].min()), 0.0)
            ax.set_ylim(lo - 0.08 * (theta - lo), theta * 1.1 + 0.12 * (theta - lo))
            ax.set_ylabel(f"neuron {i}\nv", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
            if i == 0:
                ax.set_title(f"LIF layer {l + 1}", fontsize=10)
            if i == k - 1:
                ax.set_xlabel("time step")
    same = all(np.array_equal(a, b) for a, b in zip(sc, sb))
    dv = max(float(np.abs(a - b).max()) for a, b in zip(vc, vb))
    verdict = (f"spike rasters {'identical' if same else 'DIFFER'}, max |Δv| = {dv:.2g}"
               f" over all {sum(v.shape[1] for v in vc)} neurons")
    fig.legend(list(lines.values()), list(lines), loc="outside lower center", ncol=len(lines),
               fontsize=8, frameon=False)
    fig.suptitle(readable(title) + ("\n" if title else "") + verdict, fontsize=10)
    return fig


def overlay_figure(traces: dict, out, title: str = "", neurons: int = 3) -> Path:
    """Draw :func:`overlay` to ``out`` (``.png``, or ``.pdf`` which also writes the ``.png``),
    atomically and marked as chipsim's figure; returns ``out``."""
    from chipsim.report.outputs import VALIDATE_SOURCE
    from chipsim.report.plots import _write_figure
    _write_figure(overlay(traces, title, neurons), out, VALIDATE_SOURCE)
    return Path(out)
