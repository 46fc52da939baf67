"""Figures a paper can use as they are (issue 11, part 6): the energy plot and the one-page
report, checked on the drawn Figure objects.

No legend or note covers a bar, a line, a point or a value label; the tallest bar clears the
frame; a log axis has at least three labelled ticks and no bar of 0 bytes; a panel without
latency says why; titles and labels read as names, not internal ids; a run that stopped early
says so. The overlap checks here are independent of chipsim's own (plots.make_room): bars and
labels by their drawn extents, lines by their drawn paths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from chipsim.cli import main
from chipsim.counts import Phase
from chipsim.report import plots
from chipsim.report.h5 import read_result
from chipsim.report.plots import REPORT_PANELS, energy_figure, report_figure
from report_fixtures import make_result

SMALL = ["--set", "training.epochs=2", "--set", "dataset.train_samples=6",
         "--set", "dataset.test_samples=4", "--quiet", "--no-plot"]
INTERNAL_IDS = ("global_at_operating_point", "cifar10dvsstandin", "lam=", "decay_in=")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("figures")
    out = {}
    for prof in ("anp_i", "loihi"):
        out[prof] = d / f"{prof}.h5"
        assert main(["run", "workloads/nmnist.yaml", "--profile", prof, "--out", str(out[prof]),
                     *SMALL]) == 0
    return {k: read_result(v) for k, v in out.items()}


def _inference_only(r):
    """A run whose training samples cost what its test samples cost (no learning work): the
    two bars of 'energy per sample' stand equally high, up into the legend's corner."""
    c = r.sim.sample_counts.copy()
    c[:, :, int(Phase.LEARNING)] = 0
    p = dataclasses.replace(r.pricing, energy=r.pricing.energy * np.array([1.0, 0.0])[None, :, None])
    return dataclasses.replace(r, sim=dataclasses.replace(r.sim, sample_counts=c),
                               cost=dataclasses.replace(r.cost, pricing=p))


def _zigzag(r):
    """Curves that visit every corner of panel (e), so no corner is free for a legend."""
    E = 8
    up = np.array([0.02, 0.98] * (E // 2))
    sim = dataclasses.replace(r.sim, epoch_train_acc=up, epoch_test_acc=1 - up,
                              epoch_train_loss=2.3 * up, epoch_test_loss=2.3 * (1 - up))
    return dataclasses.replace(r, sim=sim)


def _cases(runs):
    synthetic = make_result(seed=5)
    return {"anp_i": runs["anp_i"], "loihi": runs["loihi"], "synthetic": synthetic,
            "inference only": _inference_only(runs["loihi"]), "zigzag curves": _zigzag(synthetic)}


# ------------------------------------------------------------------------ overlap checks

def _data_boxes(ax, renderer):
    """(what, Bbox or Path in pixels) of every bar, line, point and data-anchored label."""
    out = []
    for p in ax.patches:
        if isinstance(p, Rectangle) and p.get_visible() and p.get_height() and p.get_width():
            out.append((f"bar {p.get_label()!r}", p.get_window_extent(renderer)))
    for line in ax.lines:
        if line.get_visible() and len(line.get_xydata()):
            path = line.get_transform().transform_path(line.get_path())
            out.append((f"line {line.get_label()!r}", path))
    for c in ax.collections:
        for xy in c.get_offset_transform().transform(c.get_offsets()):
            from matplotlib.transforms import Bbox
            out.append(("point", Bbox.from_bounds(xy[0] - 4, xy[1] - 4, 8, 8)))
    for t in ax.texts:
        if t.get_text() and t.get_transform() != ax.transAxes:
            out.append((f"label {t.get_text()!r}", t.get_window_extent(renderer)))
    return out


def _covers(box, thing) -> bool:
    if hasattr(thing, "intersects_bbox"):
        return bool(thing.intersects_bbox(box, filled=False))
    return box.overlaps(thing)


def covered(fig, groups):
    """Everything of ``groups`` (tuples: a panel's axes, the first holding legend and notes)
    that a legend or note of its panel covers, or that rises above the panel's frame."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for group in groups:
        first = group[0]
        shields = []
        if first.get_legend() is not None:
            shields.append(("legend", first.get_legend().get_window_extent(renderer)))
        shields += [(f"note {t.get_text()[:20]!r}", t.get_window_extent(renderer))
                    for t in first.texts if t.get_text() and t.get_transform() == first.transAxes]
        for ax in group:
            frame = ax.get_window_extent(renderer)
            for what, thing in _data_boxes(ax, renderer):
                for name, box in shields:
                    if _covers(box, thing):
                        found.append(f"{first.get_title(loc='left') or first.get_title()}: {name} covers {what}")
                top = thing.get_extents().y1 if hasattr(thing, "get_extents") else thing.y1
                if top > frame.y1 + 0.5:
                    found.append(f"{first.get_title(loc='left')}: {what} rises above the frame")
    return found


def _report_groups(fig):
    axes = fig.get_axes()
    panels = [ax for ax in axes if ax.get_title(loc="left")]
    twins = {id(p): [ax for ax in axes if ax is not p and ax.bbox.bounds == p.bbox.bounds]
             for p in panels}
    return [(p, *twins[id(p)]) for p in panels]


@pytest.mark.parametrize("case", ["anp_i", "loihi", "synthetic", "inference only", "zigzag curves"])
def test_report_no_legend_or_note_covers_data(runs, case):
    fig = report_figure(_cases(runs)[case])
    fig.canvas.draw()
    assert covered(fig, _report_groups(fig)) == []
    fig.clear()


@pytest.mark.parametrize("case", ["anp_i", "loihi", "synthetic", "inference only"])
def test_energy_plot_clears_its_legend_and_frame(runs, case):
    r = _cases(runs)[case]
    fig = energy_figure(r)
    a, b, c = fig.get_axes()
    assert covered(fig, [(a,), (b,), (c,)]) == []
    # the tallest stacked bar of (a)/(b) (shared y) stays clearly below the frame
    tops = [p.get_y() + p.get_height() for ax in (a, b) for p in ax.patches
            if isinstance(p, Rectangle)]
    assert a.get_ylim()[1] >= 1.05 * max(tops)
    fig.clear()


def test_memory_panel_has_three_ticks_and_no_zero_bar(runs):
    r = runs["anp_i"]
    assert r.sim.gradient_buffer_bytes == 0           # ottt_o writes its updates directly
    fig = report_figure(r)
    fig.canvas.draw()
    d = _report_groups(fig)[3][0]
    assert d.get_title(loc="left") == REPORT_PANELS[3] and d.get_xscale() == "log"
    lo, hi = d.get_xlim()
    ticks = [(t, lab.get_text()) for t, lab in zip(d.get_xticks(), d.get_xticklabels())
             if lo <= t <= hi and lab.get_text()]
    assert len(ticks) >= 3, ticks
    bars = [p for p in d.patches if isinstance(p, Rectangle)]
    assert len(bars) == 2 and all(p.get_width() > 0 for p in bars)
    texts = [t.get_text() for t in d.texts]
    assert not any(t.strip() == "0 B" for t in texts)
    assert any(t.startswith("none: each update is written") for t in texts)
    fig.clear()


def test_byte_ticks():
    assert [t for t, _ in plots.byte_ticks(1024, 80 * 1024)] == [1024, 3 * 1024, 10 * 1024, 30 * 1024]
    labels = [lab for _, lab in plots.byte_ticks(1024, 40 * 2**20)]
    assert labels == ["1 KiB", "10 KiB", "100 KiB", "1 MiB", "10 MiB"]
    assert len(plots.byte_ticks(1, 10)) >= 3


def test_step_panel_says_why_there_is_no_latency(runs):
    fig = report_figure(runs["anp_i"])
    c, c2 = _report_groups(fig)[2]
    assert c.get_title(loc="left") == "(c) energy and latency per time step"
    assert not c2.lines                                   # no latency drawn ...
    why = c.get_xlabel()                                  # ... and the panel says why
    assert "No latency per step: profile 'anp_i' publishes no core architecture" in why.replace("\n", " ")
    assert "serial sum of per-action times" in why.replace("\n", " ")
    assert "per test sample" in why and ("ms" in why or "µs" in why)
    assert "not modelled" in c2.get_ylabel()
    fig.clear()
    fig = report_figure(runs["loihi"])                   # a mapped chip: its latency, no excuse
    c, c2 = _report_groups(fig)[2]
    assert len(c2.lines) == 1 and "No latency" not in c.get_xlabel()
    fig.clear()


def _titles(fig):
    return [fig.get_suptitle()] + [ax.get_title(loc=k) for ax in fig.get_axes()
                                   for k in ("left", "center")]


def test_titles_read_as_names_not_internal_ids(runs):
    for r, phrase in ((runs["anp_i"], "pJ/SOP: all-in average at the operating point"),
                      (runs["loihi"], "pJ/SOP: incremental, static power added")):
        assert r.pricing.sop_energy_kind in ("global_at_operating_point", "incremental")
        for fig in (report_figure(r), energy_figure(r)):
            text = " ".join(_titles(fig))
            assert not any(i in text for i in INTERNAL_IDS), text
            fig.clear()
        fig = report_figure(r)
        assert phrase in fig.get_suptitle()
        fig.clear()


def test_a_run_that_stopped_early_says_so_in_its_figures(runs):
    r = runs["loihi"]
    n = len(r.sim.sample_split)
    cut = dataclasses.replace(r, sim=dataclasses.replace(r.sim, interrupted=True),
                              notes=("training diverged: epoch 2, training sample 3 (...)",))
    for fig in (report_figure(cut), energy_figure(cut)):
        assert f"STOPPED EARLY: {n} samples finished (training diverged" in fig.get_suptitle()
        fig.clear()
    for fig in (report_figure(r), energy_figure(r)):
        assert "STOPPED" not in fig.get_suptitle()
        fig.clear()


def test_a_run_with_no_samples_draws_no_empty_scales_or_legends():
    r = make_result(seed=4, n_epochs=0)
    assert r.sim.sample_counts.shape[0] == 0
    for fig in (report_figure(r), energy_figure(r)):
        fig.canvas.draw()
        for ax in fig.get_axes():
            assert ax.yaxis.get_offset_text().get_text() == "", ax.get_title(loc="left")
            assert ax.get_legend() is None, ax.get_title(loc="left")
        fig.clear()
