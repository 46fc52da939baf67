"""Terminal summary: every number recomputed here independently with plain numpy."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from chipsim.report.summary import format_summary, scale_si, summary_dict
from report_fixtures import make_result

# Column indices written out by hand, so a wrong index in chipsim.counts use is caught.
SYNOP, SYN_MAC, NU_ACTIVE, NU_IDLE, SPIKE = 0, 1, 2, 3, 4
NB_EFF, NB_DENSE = 24, 25
INF, LEARN = 0, 1
TRAIN, TEST = 0, 1
REL = 1e-12


@pytest.fixture(scope="module")
def result():
    return make_result(seed=11, n_epochs=3, n_train=5, n_test=4)


@pytest.fixture(scope="module")
def d(result):
    return summary_dict(result)


def _masks(r):
    last = r.sim.sample_epoch.max()
    test = (r.sim.sample_split == TEST) & (r.sim.sample_epoch == last)
    train = r.sim.sample_split == TRAIN
    train_last = train & (r.sim.sample_epoch == last)
    return test, train, train_last


def test_accuracies(result, d):
    test, _, train_last = _masks(result)
    ok = result.sim.sample_pred == result.sim.sample_label
    assert d["test_accuracy_pct"] == pytest.approx(100 * ok[test].sum() / test.sum(), rel=REL)
    assert d["train_accuracy_pct"] == pytest.approx(
        100 * ok[train_last].sum() / train_last.sum(), rel=REL)
    # last epoch only: the fixture's epoch_test_acc says the same
    assert d["test_accuracy_pct"] == pytest.approx(100 * result.sim.epoch_test_acc[-1], rel=REL)
    assert d["n_test_samples"] == 4 and d["n_train_samples"] == 15 and d["test_epoch"] == 2


def test_sops_energy_latency_per_sample(result, d):
    test, train, _ = _masks(result)
    c, p = result.counts_priced, result.pricing
    sops = c[:, :, :, SYNOP].sum(axis=(1, 2)) + c[:, :, :, SYN_MAC].sum(axis=(1, 2))
    energy = p.sample_dynamic_energy + p.sample_static_energy
    assert d["test_sops_per_sample"] == pytest.approx(sops[test].mean(), rel=REL)
    assert d["train_sops_per_sample"] == pytest.approx(sops[train].mean(), rel=REL)
    assert d["test_energy_per_sample_J"] == pytest.approx(energy[test].mean(), rel=REL)
    assert d["train_energy_per_sample_J"] == pytest.approx(energy[train].mean(), rel=REL)
    assert d["test_latency_per_sample_s"] == pytest.approx(p.sample_time[test].mean(), rel=REL)
    # energy per SOP = total energy / total SOPs
    assert d["energy_per_sop_J"] == pytest.approx(energy.sum() / sops.sum(), rel=REL)
    # the test figure is the last epoch's, not all epochs' (the fixture makes them differ)
    all_test = result.sim.sample_split == TEST
    assert energy[all_test].mean() != pytest.approx(energy[test].mean(), rel=1e-6)


def test_learning_inference_static_shares(result, d):
    _, train, _ = _masks(result)
    c, p = result.counts_priced, result.pricing
    price = p.energy_per_action * ~p.included_in_sop           # the fixture's charged prices
    learn = (c[train][:, :, LEARN, :] * price).sum()
    inf = (c[train][:, :, INF, :] * price).sum()
    static = p.sample_static_energy[train].sum()
    total = (p.sample_dynamic_energy[train] + p.sample_static_energy[train]).sum()
    assert d["learning_share_pct"] == pytest.approx(100 * learn / total, rel=REL)
    assert d["inference_share_pct"] == pytest.approx(100 * inf / total, rel=REL)
    assert d["static_share_pct"] == pytest.approx(100 * static / total, rel=REL)
    assert d["train_learning_energy_per_sample_J"] == pytest.approx(learn / train.sum(), rel=REL)


def test_assumed_share(result, d):
    p = result.pricing
    price = p.energy_per_action * ~p.included_in_sop
    counts = result.counts_priced.sum(axis=0)
    assumed = (counts[..., p.assumed] * price[p.assumed]).sum()
    static = p.sample_static_energy.sum()
    total = p.sample_dynamic_energy.sum() + static
    expected = 100 * (assumed + (static if p.static_assumed else 0.0)) / total
    assert 0 < expected < 100
    assert d["assumed_share_pct"] == pytest.approx(expected, rel=REL)


def test_neurobench_figures(result, d):
    test, _, _ = _masks(result)
    c = result.counts_priced[test][:, :, INF, :]                 # (n, L, A)
    n = test.sum()
    binary = result.sim.layer_binary_input
    assert binary.any() and (~binary).any()
    assert d["nb_effective_acs_per_sample"] == pytest.approx(c[:, binary, NB_EFF].sum() / n, rel=REL)
    assert d["nb_effective_macs_per_sample"] == pytest.approx(c[:, ~binary, NB_EFF].sum() / n, rel=REL)
    assert d["nb_dense_ops_per_sample"] == pytest.approx(c[:, :, NB_DENSE].sum() / n, rel=REL)
    lif = slice(0, c.shape[1] - 1)                              # the fixture's fc layers
    spikes = c[:, lif, SPIKE].sum()
    steps = c[:, lif, NU_ACTIVE].sum() + c[:, lif, NU_IDLE].sum()
    assert d["nb_activation_sparsity"] == pytest.approx(1 - spikes / steps, rel=REL)
    # the readout is excluded: including it would give another number
    steps_all = c[:, :, NU_ACTIVE].sum() + c[:, :, NU_IDLE].sum()
    assert d["nb_activation_sparsity"] != pytest.approx(1 - spikes / steps_all, rel=1e-9)


def test_metadata_and_memory(result, d):
    assert d["workload"] == "synthetic" and d["rule"] == "ottt_a"
    assert d["profile"] == "synthetic_chip" and d["time_steps"] == result.sim.time_steps
    assert d["learning_memory_bytes"] == result.sim.learning_memory_bytes
    assert d["footprint_bytes"] == result.sim.footprint_bytes
    assert d["wall_time_s"] == result.sim.wall_time_s


def test_no_test_samples_gives_none_not_crash():
    r = make_result(seed=2, n_test=0)
    d = summary_dict(r)
    assert d["test_accuracy_pct"] is None and d["test_energy_per_sample_J"] is None
    assert d["nb_basis"].startswith("training")
    assert d["nb_dense_ops_per_sample"] is not None
    assert "n/a" in format_summary(r)


def test_format_summary_plain_and_aligned(result, d):
    text = format_summary(result)
    assert "\x1b" not in text                                   # no colour codes
    for needle in ("synthetic", "ottt_a", "synthetic_chip", "nmnist", "per SOP",
                   "activation sparsity", "KiB", "assumed", "learning-phase energy"):
        assert needle in text, needle
    assert f"{d['test_accuracy_pct']:.2f} %" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("  ")]
    starts = {re.search(r"\S+(?: \S+)*\s{2,}", ln).end() for ln in rows}
    assert len(starts) == 1, "values do not start in one column"
    f, unit = scale_si(d["energy_per_sop_J"], "J")
    assert unit == "pJ" and f"{d['energy_per_sop_J'] / f:.4g} pJ" in text


def test_scale_si():
    assert scale_si(3.2e-6, "J") == (1e-6, "µJ")
    assert scale_si(999e-12, "J") == (1e-12, "pJ")
    assert scale_si(1e-9, "J") == (1e-9, "nJ")
    assert scale_si(0.0, "J") == (1.0, "J")


def test_summary_reacts_to_the_data(result):
    """A changed prediction moves the accuracy: the summary reads the arrays."""
    test, _, _ = _masks(result)
    pred = result.sim.sample_pred.copy()
    i = np.flatnonzero(test)[0]
    pred[i] = (result.sim.sample_label[i] + 1) if pred[i] == result.sim.sample_label[i] else result.sim.sample_label[i]
    other = dataclasses.replace(result, sim=dataclasses.replace(result.sim, sample_pred=pred))
    assert summary_dict(other)["test_accuracy_pct"] != summary_dict(result)["test_accuracy_pct"]


def test_activation_sparsity_counts_lif_layers_only_with_auxiliary_heads():
    """tbptt_local appends auxiliary classifiers after the readout: the sparsity is over the
    LIF layers, whichever position the non-spiking layers have (it used to drop only the last
    layer, so it counted the readout and left out an auxiliary head)."""
    r = make_result(seed=5, neurons=(20, 16, 10, 10))
    ls = list(r.sim.layers)
    ls[2] = dataclasses.replace(ls[2], name="readout", kind="readout")
    ls[3] = dataclasses.replace(ls[3], name="aux1", kind="aux", src=2)
    counts = r.sim.sample_counts.copy()
    counts[:, 2:, INF, SPIKE] = 0                  # the classifiers do not spike
    sim = dataclasses.replace(r.sim, layers=tuple(ls), sample_counts=counts)
    r = dataclasses.replace(r, sim=sim)
    d = summary_dict(r)
    test, _, _ = _masks(r)
    c = counts[test][:, :, INF, :]
    spikes = c[:, :2, SPIKE].sum()                 # fc1, fc2: the LIF layers
    steps = c[:, :2, NU_ACTIVE].sum() + c[:, :2, NU_IDLE].sum()
    assert d["nb_activation_sparsity"] == pytest.approx(1 - spikes / steps, rel=REL)
    old = 1 - c[:, :-1, SPIKE].sum() / (c[:, :-1, NU_ACTIVE].sum() + c[:, :-1, NU_IDLE].sum())
    assert d["nb_activation_sparsity"] != pytest.approx(old, rel=1e-9)


def test_an_interrupted_run_says_so(result):
    """The terminal summary says a run was interrupted (before, only the file knew)."""
    assert "interrupted" not in format_summary(result)
    assert summary_dict(result)["interrupted"] is False
    cut = dataclasses.replace(result, sim=dataclasses.replace(result.sim, interrupted=True))
    text = format_summary(cut)
    n = len(result.sim.sample_split)
    planned = result.sim.epochs * (result.sim.train_samples + result.sim.test_samples)
    line = next(ln for ln in text.splitlines() if "interrupted" in ln)
    assert line.split()[0] == "status" and f"after {n} of {planned} samples" in line
    assert text.splitlines().index(line) == 1             # the first line under "run"


def test_a_run_whose_training_diverged_says_why(result):
    """The status row of a run stopped by NaN or inf says so and why (the engine's note); any
    other note of the file (e.g. reading an older schema) gets a row of its own."""
    n = len(result.sim.sample_split)
    planned = result.sim.epochs * (result.sim.train_samples + result.sim.test_samples)
    why = "training diverged: epoch 2, training sample 3 (data set index 1): its loss is nan"
    cut = dataclasses.replace(result, sim=dataclasses.replace(result.sim, interrupted=True),
                              notes=("read from a schema-version-1 file (chipsim 0.1)", why))
    lines = format_summary(cut).splitlines()
    assert lines[1].split(None, 1) == ["status", f"stopped after {n} of {planned} samples: {why}; "
                                                 "the figures below cover those"]
    assert lines[2].split(None, 1) == ["note", "read from a schema-version-1 file (chipsim 0.1)"]
    d = summary_dict(cut)
    assert d["diverged"] == why and d["notes"] == list(cut.notes)
    assert summary_dict(result)["diverged"] is None
    # the same note on a run that was not stopped is a note, not a stop
    kept = dataclasses.replace(result, notes=(why,))
    assert "stopped" not in format_summary(kept) and summary_dict(kept)["diverged"] is None
