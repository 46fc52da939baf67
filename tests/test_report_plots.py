"""Energy-breakdown plot: valid PNG/PDF, expected axes, redraw from the HDF5 file."""

from __future__ import annotations

import os

import matplotlib.image as mpimg
import numpy as np
import pytest

from chipsim.counts import PRICED_ACTIONS, Action, Phase
from chipsim.errors import ChipsimError
from chipsim.report.h5 import write_result
from chipsim.report.plots import (ACTION_GROUPS, N_AXES, energy_figure,
                                  group_energy_per_train_sample, plot_energy, redraw)
from report_fixtures import make_result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    return make_result(seed=5)


def _check_png(path):
    assert path.exists()
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 20_000, "suspiciously small figure"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 400 and img.shape[1] > 1000
    assert img.std() > 0.01, "blank image"


def test_plot_png(tmp_path, result):
    out = tmp_path / "energy.png"
    written = plot_energy(result, out)
    assert written == [out]
    _check_png(out)
    assert sorted(os.listdir(tmp_path)) == ["energy.png"]          # no temp files left


def test_plot_pdf_writes_png_too(tmp_path, result):
    out = tmp_path / "fig" / "energy.pdf"
    written = plot_energy(result, out)
    assert written == [out.with_suffix(".png"), out]
    assert out.read_bytes()[:5] == b"%PDF-"
    _check_png(out.with_suffix(".png"))


def test_figure_axes_and_titles(result):
    fig = energy_figure(result)
    axes = fig.get_axes()
    assert len(axes) == N_AXES == 3
    assert "synthetic" in fig.get_suptitle() and "ottt_a" in fig.get_suptitle()
    assert "synthetic_chip" in fig.get_suptitle()
    assert all(ax.get_ylabel() for ax in (axes[0], axes[2]))
    assert any(u in axes[0].get_ylabel() for u in ("pJ", "nJ", "µJ"))
    texts = " ".join(t.get_text() for t in axes[2].texts)
    assert "assumed" in texts


def test_unsupported_suffix(tmp_path, result):
    with pytest.raises(ChipsimError, match=r"\.png or \.pdf"):
        plot_energy(result, tmp_path / "energy.jpg")


def test_groups_cover_priced_actions_once():
    grouped = [a for acts in ACTION_GROUPS.values() for a in acts]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == set(PRICED_ACTIONS)


def test_group_energy_sums_to_phase_energy(result):
    """The stacked bars add up to the mean dynamic energy per training sample, by phase."""
    _, ge = group_energy_per_train_sample(result)
    p = result.pricing
    train = result.sim.sample_split == 0
    price = p.energy_per_action * ~p.included_in_sop
    for phase in Phase:
        expected = (result.counts_priced[train][:, :, int(phase), :] * price).sum() / train.sum()
        assert ge[:, :, int(phase)].sum() == pytest.approx(expected, rel=1e-12)
    syn = list(ACTION_GROUPS).index("synaptic ops")
    layer0 = result.counts_priced[train][:, 0, 0, int(Action.SYN_MAC)].mean() * price[Action.SYN_MAC]
    assert ge[syn, 0, 0] == pytest.approx(layer0, rel=1e-12)
    assert np.all(ge[:, :, int(Phase.LEARNING)].sum(axis=0) > 0)


def test_redraw_from_file(tmp_path, result):
    h5path = tmp_path / "results.h5"
    write_result(result, h5path)
    out = redraw(h5path)
    assert out == tmp_path / "results_energy.png"
    _check_png(out)
    other = redraw(h5path, tmp_path / "custom.png")
    assert other == tmp_path / "custom.png" and other.exists()


def test_redraw_bad_file(tmp_path):
    bad = tmp_path / "results.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ChipsimError, match="results.h5"):
        redraw(bad)


# ----------------------------------------------------------------------------------------
# the one-page report (chipsim report), drawn from a real results file
# ----------------------------------------------------------------------------------------

from chipsim.cli import main as cli_main                                   # noqa: E402
from chipsim.report.h5 import read_result                                  # noqa: E402
from chipsim.report.plots import (N_REPORT_AXES, REPORT_PANELS,            # noqa: E402
                                  report_figure, step_energy)

_UNITS = {"pJ": 1e-12, "nJ": 1e-9, "µJ": 1e-6, "mJ": 1e-3, "J": 1.0}


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_run")
    out = d / "run.h5"
    assert cli_main(["run", "workloads/nmnist.yaml", "--set", "training.epochs=2",
                     "--set", "dataset.train_samples=6", "--set", "dataset.test_samples=4",
                     "--profile", "loihi", "--out", str(out), "--quiet", "--no-plot"]) == 0
    return out


@pytest.fixture(scope="module")
def run_result(run_file):
    return read_result(run_file)


def _titled(fig):
    return [ax for ax in fig.get_axes() if ax.get_title(loc="left")]


def test_report_cli_png_and_pdf(run_file, tmp_path, capsys):
    assert cli_main(["report", str(run_file), "--out", str(tmp_path / "rep.pdf")]) == 0
    assert (tmp_path / "rep.pdf").read_bytes()[:5] == b"%PDF-"
    _check_png(tmp_path / "rep.png")
    img = mpimg.imread(tmp_path / "rep.png")
    assert img.shape[0] > 1200 and img.shape[1] > 2000          # a full page, not one panel
    assert sorted(os.listdir(tmp_path)) == ["rep.pdf", "rep.png"]
    out = capsys.readouterr().out
    assert "report:" in out and "rep.pdf" in out


def test_report_cli_default_name(run_file, capsys):
    assert cli_main(["report", str(run_file)]) == 0
    _check_png(run_file.with_name("run_report.png"))
    assert run_file.with_name("run_energy.png").exists()        # the detailed energy figure too


def test_report_panels_and_titles(run_result):
    r = run_result
    fig = report_figure(r)
    axes = fig.get_axes()
    assert len(axes) == N_REPORT_AXES == 8
    titles = [ax.get_title(loc="left") for ax in _titled(fig)]
    assert titles == list(REPORT_PANELS) and len(titles) == 6
    for letter, t in zip("abcdef", titles):
        assert t.startswith(f"({letter})")
    sup = fig.get_suptitle()
    for part in (r.sim.workload_name, r.sim.rule, r.cost.profile_name, "N-MNIST", f"T = {r.sim.time_steps}"):
        assert part in sup
    a, b, c, d, e, f = _titled(fig)
    for ax in (a, b, c):
        assert any(u in ax.get_ylabel() for u in ("pJ", "nJ", "µJ", "mJ")), ax.get_ylabel()
    assert "accuracy" in e.get_ylabel() and e.get_xlabel() == "epoch"
    # (c) has the cycle model's latency (loihi maps the network) on its right-hand axis
    twin_c = [ax for ax in axes if ax is not c and ax.bbox.bounds == c.bbox.bounds]
    assert twin_c and any(u in twin_c[0].get_ylabel() for u in ("µs", "ms", "ns"))
    # (d) the three memory figures, in bytes
    labels = " ".join(t.get_text() for t in d.get_yticklabels())
    assert "learning state" in labels and "gradient" in labels and "footprint" in labels
    # (f) the run's total assumed share is written on the panel
    texts = " ".join(t.get_text() for t in f.texts)
    assert f"{100 * r.pricing.assumed_energy_share:.1f} %" in texts
    fig.clear()


def test_report_step_energy_sums_to_sample_energy(run_result):
    """Panel (c): per-step energy summed over steps = dynamic energy of those samples,
    recomputed here from the counts and the file's per-action prices."""
    r = run_result
    p = r.pricing
    test = (r.sim.sample_split == 1) & (r.sim.sample_epoch == r.sim.sample_epoch[r.sim.sample_split == 1].max())
    assert test.sum() == 4 and r.step_counts_priced is not None
    # independent: phase-aware prices (an included action is free in inference)
    price = np.stack([p.energy_per_action * ~p.included_in_sop, p.energy_per_action])   # (P, A)
    per_sample = np.array([(r.step_counts_priced[n].sum(axis=(0, 1)) * price).sum()
                           for n in np.flatnonzero(test)])
    assert per_sample == pytest.approx(p.sample_dynamic_energy[test], rel=1e-9)
    data = step_energy(r)
    assert (data["inference"] + data["learning"]).sum() == pytest.approx(per_sample.mean(),
                                                                         rel=1e-9)
    # the bars drawn in panel (c) carry the same numbers (in the axis's unit)
    fig = report_figure(r)
    c = _titled(fig)[2]
    unit = c.get_ylabel().split("(")[-1].rstrip(")")
    heights = np.zeros(r.sim.time_steps)
    for cont in c.containers:
        heights += np.array([bar.get_height() for bar in cont])
    assert heights.sum() * _UNITS[unit] == pytest.approx(per_sample.mean(), rel=1e-9)
    assert np.allclose(data["latency"], r.cost.step_latency_test)
    fig.clear()


def test_report_without_step_counts_or_cycle_model(result):
    """The synthetic result has no per-step counts and no cycle model: panels still drawn."""
    fig = report_figure(result)
    assert len(_titled(fig)) == 6
    c = _titled(fig)[2]
    assert "no per-step counts" in " ".join(t.get_text() for t in c.texts)
    fig.clear()
    steps = np.repeat(result.sim.sample_counts[:, None], 2, axis=1) // 2    # (N, 2, L, P, A)
    import dataclasses
    N, L = steps.shape[0], steps.shape[2]
    sim = dataclasses.replace(result.sim, step_counts=steps, time_steps=2,
                              input_events=np.zeros((N, 2), np.int64))
    cost = dataclasses.replace(result.cost, router_hops=np.zeros((N, 2, L), np.int64),
                               chip_messages=np.zeros((N, 2, L), np.int64))
    r2 = dataclasses.replace(result, sim=sim, cost=cost)
    fig = report_figure(r2)
    c = _titled(fig)[2]
    assert "no cycle model" in " ".join(t.get_text() for t in c.texts)
    fig.clear()


def test_report_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("nope")
    assert cli_main(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.h5" in err
