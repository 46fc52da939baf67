"""The Brian2 overlay figure (chipsim validate brian2) as a paper reads it, checked on the drawn
Figure (fake traces: no Brian2 run needed)."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from chipsim.report import validation_plot
from test_report_figures import INTERNAL_IDS


def _traces(T=30, shift=0.0):
    rng = np.random.default_rng(1)
    v = [rng.uniform(-0.5, 0.95, (T, 4)), rng.uniform(-0.5, 0.95, (T, 3))]
    s = [rng.random((T, 4)) < 0.2, rng.random((T, 3)) < 0.2]
    return dict(v_chipsim=v, v_brian2=[a + shift for a in v], s_chipsim=s, s_brian2=s, theta=1.0)


def test_validation_overlay_reads_as_a_figure():
    fig = validation_plot.overlay(_traces(), title="chipsim vs Brian2 (numpy): soft lam=1-1/1.1 H(0)=0 decay_in=on")
    title = fig.get_suptitle()
    assert title.startswith("chipsim vs Brian2 (numpy): soft reset, λ = 1 − 1/1.1, H(0) = 0, "
                            "input scaled by 1 − λ")
    assert not any(i in title for i in INTERNAL_IDS)
    assert "spike rasters identical, max |Δv| = 0 over all 7 neurons" in title
    # one legend for the figure, outside every panel, naming the spike markers too
    assert all(ax.get_legend() is None for ax in fig.get_axes())
    (leg,) = fig.legends
    assert [t.get_text() for t in leg.get_texts()] == [
        "chipsim v", "Brian2 v", "threshold θ", "chipsim spike", "Brian2 spike"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = leg.get_window_extent(renderer)
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.get_axes())
    # the spike markers stay inside their panels
    for ax in fig.get_axes():
        lo, hi = ax.get_ylim()
        for line in ax.lines:
            if isinstance(line, Line2D) and len(line.get_ydata()):
                assert lo <= np.min(line.get_ydata()) and np.max(line.get_ydata()) <= hi
    fig.clear()
    differ = validation_plot.overlay(_traces(shift=1e-3), title="x")
    assert "max |Δv| = 0.001" in differ.get_suptitle()
    differ.clear()
    assert validation_plot.readable("hard lam=0.9 H(0)=1 decay_in=off") == "hard reset, λ = 0.9, H(0) = 1, no input decay"




def test_overlay_is_written_atomically_as_png_or_pdf(tmp_path):
    out = validation_plot.overlay_figure(_traces(), tmp_path / "o.pdf", title="t")
    assert out == tmp_path / "o.pdf" and out.read_bytes()[:5] == b"%PDF-"
    assert (tmp_path / "o.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.pdf", "o.png"]
