"""Overlay figure of the Brian2 cross-validation: membrane traces of a few neurons, chipsim
against its Brian2 twin, with the spikes of each marked (chipsim.interop.brian2_validate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def overlay_figure(traces: dict, out, title: str = "", neurons: int = 3) -> Path:
    """Draw v (post-reset state after each step) of the first ``neurons`` neurons of every LIF
    layer: chipsim solid, Brian2 dashed, spikes as markers (chipsim above the threshold line,
    Brian2 just below it). ``traces``: a validation row's ``traces`` dict (v_chipsim, v_brian2,
    s_chipsim, s_brian2 lists of (T, n) arrays per layer, theta). Writes ``out`` (PNG/PDF)."""
    vc, vb = traces["v_chipsim"], traces["v_brian2"]
    sc, sb = traces["s_chipsim"], traces["s_brian2"]
    theta = float(traces.get("theta", 1.0))
    n_l = len(vc)
    k = min(neurons, min(v.shape[1] for v in vc))
    fig = Figure(figsize=(4.2 * n_l, 1.9 * k + 0.6), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(k, n_l, squeeze=False, sharex=True)
    for l in range(n_l):
        T = vc[l].shape[0]
        t = np.arange(1, T + 1)
        for i in range(k):
            ax = axes[i, l]
            ax.plot(t, vc[l][:, i], "-", color="tab:blue", lw=1.4, label="chipsim")
            ax.plot(t, vb[l][:, i], "--", color="tab:orange", lw=1.2, label="Brian2")
            ax.axhline(theta, color="0.6", lw=0.6, ls=":")
            tc = t[sc[l][:, i]]
            tb = t[sb[l][:, i]]
            ax.plot(tc, np.full(tc.shape, theta * 1.08), "v", color="tab:blue", ms=4, ls="none")
            ax.plot(tb, np.full(tb.shape, theta * 0.94), "^", color="tab:orange", ms=4, ls="none")
            ax.set_ylabel(f"L{l + 1} n{i}  v")
            if i == 0:
                ax.set_title(f"LIF layer {l + 1}", fontsize=9)
            if i == k - 1:
                ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    from chipsim.report.outputs import VALIDATE_SOURCE
    from chipsim.report.plots import _write_figure
    out = Path(out)
    _write_figure(fig, out, VALIDATE_SOURCE)      # atomic, marked as chipsim's figure
    return out
