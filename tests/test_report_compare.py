"""chipsim compare: table rows, labels and numbers (one recomputed independently), figure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from chipsim.cli import main as cli_main
from chipsim.errors import ChipsimError
from chipsim.report.compare import (compare, compare_figure, compare_rows, dataset_tag, row,
                                    run_label)
from chipsim.report.h5 import read_result
from test_report_figures import INTERNAL_IDS, _inference_only, covered

RULES = ("ottt_o", "sltt")
PROFILES = ("loihi", "anp_i")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare_runs")
    paths = []
    for rule in RULES:
        for prof in PROFILES:
            out = d / f"{rule}_{prof}.h5"
            assert cli_main(["run", "workloads/nmnist.yaml", "--rule", rule,
                             "--set", "training.epochs=2", "--set", "dataset.train_samples=6",
                             "--set", "dataset.test_samples=4", "--profile", prof,
                             "--out", str(out), "--quiet", "--no-plot"]) == 0
            paths.append(out)
    return paths


def test_cli_table_and_figure(runs, capsys):
    assert cli_main(["compare", *map(str, runs)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    body = [ln for ln in lines[2:] if " · " in ln]
    assert len(body) == 4
    expected = {f"{r} · {p} · T10 · N-MNIST" for r in RULES for p in PROFILES}
    assert {ln.split("  ")[0].strip() for ln in body} == expected
    fig = runs[0].with_name("compare.png")
    assert fig.exists() and fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.stat().st_size > 20_000
    assert f"figure: {fig}" in out


def test_row_numbers_recomputed(runs, tmp_path):
    table, rows, written = compare(runs, tmp_path / "cmp.pdf")
    assert [w.suffix for w in written] == [".png", ".pdf"] and all(w.exists() for w in written)
    assert [r["label"] for r in rows] == [f"{r} · {p} · T10 · N-MNIST" for r in RULES
                                         for p in PROFILES]
    # independent recomputation of the sltt · loihi row from the file's arrays
    res = read_result(runs[2])
    row = rows[2]
    assert row["label"] == "sltt · loihi · T10 · N-MNIST" == run_label(res)
    p = res.pricing
    e = p.sample_dynamic_energy + p.sample_static_energy
    tr = res.sim.sample_split == 0
    te = (res.sim.sample_split == 1) & (res.sim.sample_epoch == 1)
    acc = 100.0 * np.mean(res.sim.sample_pred[te] == res.sim.sample_label[te])
    assert row["test_acc_pct"] == pytest.approx(acc)
    assert row["train_energy_J"] == pytest.approx(e[tr].mean(), rel=1e-12)
    assert row["test_energy_J"] == pytest.approx(e[te].mean(), rel=1e-12)
    c = res.counts_priced
    sops = c[..., 0].sum() + c[..., 1].sum()                       # synop + syn_mac
    assert row["energy_per_sop_J"] == pytest.approx(e.sum() / sops, rel=1e-12)
    # learning share: learning-phase dynamic energy of training samples / their total energy
    price = np.stack([p.energy_per_action * ~p.included_in_sop, p.energy_per_action])
    learn = (c[tr][:, :, 1, :].sum(axis=1) * price[1]).sum()
    assert row["learning_share_pct"] == pytest.approx(100.0 * learn / e[tr].sum(), rel=1e-9)
    assert row["latency_per_step_s"] == pytest.approx(p.sample_time[te].mean() / 10, rel=1e-12)
    assert row["assumed_share_pct"] == pytest.approx(100.0 * p.assumed_energy_share)
    # the table prints that row's numbers
    line = next(ln for ln in table.splitlines() if ln.startswith("sltt · loihi"))
    assert f"{row['learning_share_pct']:.1f} %" in line
    assert f"{row['assumed_share_pct']:.1f} %" in line


def test_figure_axes(runs):
    fig = compare_figure(compare_rows(runs))
    axes = fig.get_axes()
    assert len(axes) == 3
    assert [ax.get_title(loc="left")[:3] for ax in axes] == ["(a)", "(b)", "(c)"]
    assert len(axes[1].get_yticklabels()) == 4
    fig.clear()


def test_bad_file(runs, tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ChipsimError, match="bad.h5"):
        compare([runs[0], bad], tmp_path / "x.png")
    assert cli_main(["compare", str(runs[0]), str(bad), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.h5" in err
    assert not (tmp_path / "x.png").exists()
    assert cli_main(["compare", str(runs[0]), "--out", str(tmp_path / "x.jpg")]) == 2


@pytest.mark.parametrize("description, name", [
    ("N-MNIST, embedded 200-sample subset (100 train / 100 test), train split", "N-MNIST"),
    ("CIFAR10-DVS STAND-IN (emulated; not CIFAR10-DVS): train split, 20 samples", "CIFAR10-DVS stand-in"),
    ("CIFAR10-DVS (/data/cifar), train split (first 90 % / last 10 %)", "CIFAR10-DVS"),
    ("DVS128 Gesture (/data/gesture), test split: 288 gestures", "DVS128 Gesture"),
    ("SHD (/data/shd_train.h5), 100 samples, 10 count steps", "SHD"),
])
def test_compare_labels_name_the_data_set(runs, description, name):
    assert dataset_tag(description) == name
    r = read_result(runs[0])                              # ottt_o on loihi
    r = dataclasses.replace(r, sim=dataclasses.replace(r.sim, dataset=description))
    assert run_label(r) == f"ottt_o · loihi · T10 · {name}"
    fig = compare_figure([row(r)])
    labels = [t.get_text() for ax in fig.get_axes() for t in ax.get_yticklabels() + ax.texts]
    assert any(name in t for t in labels)
    assert not any(i in t for t in labels for i in INTERNAL_IDS)
    fig.clear()


def test_compare_figure_clears_its_legends_and_frame(runs):
    loihi, anp_i = read_result(runs[0]), read_result(runs[1])
    rows = [row(r) for r in (anp_i, loihi, _inference_only(loihi))]
    rows[2]["test_acc_pct"] = 100.0                       # a label at the very top
    rows[2]["label"] += " (no learning)"
    fig = compare_figure(rows)
    axes = fig.get_axes()
    assert covered(fig, [(ax,) for ax in axes]) == []
    # each legend inside its axes, so none can meet a title
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in axes:
        if ax.get_legend() is not None:
            leg, frame = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
            assert frame.y0 <= leg.y0 and leg.y1 <= frame.y1 + 0.5
    # per-bar latency in its own unit (not '0.0357 ms')
    latency = " ".join(t.get_text() for t in axes[2].texts)
    assert "µs (cycle model)" in latency and "ms (serial time)" in latency
    assert not any(t.get_text().startswith("0.0") for t in axes[2].texts)
    fig.clear()
