"""NIR through the command line: train, export, import, run inference (``rule: none``) and
fine-tune on-chip; the workload's ``network.nir``; bad input as one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chipsim import counts as K
from chipsim.cli import main
from chipsim.report.h5 import read_result

ROOT = Path(__file__).resolve().parents[1]
CONV = str(ROOT / "workloads" / "nmnist_conv.yaml")
SMALL = ["--set", "training.epochs=1", "--set", "dataset.train_samples=6",
         "--set", "dataset.test_samples=12", "--set", "dataset.downscale=2", "--quiet", "--no-plot"]

IMPORTED = """\
name: imported
dataset: {{name: nmnist, root: null, time_steps: 10, framing: binary, downscale: 2,
          train_samples: 6, test_samples: 12}}
network: {{nir: {nir}, dt: 1 ms}}
{neuron}rule: {{name: {rule}}}
training: {{epochs: 1, optimizer: sgd, lr: 0.05, seed: 5}}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A conv net trained in chipsim (OTTT's soft-reset neuron), and its export."""
    d = tmp_path_factory.mktemp("nir")
    out = d / "trained.h5"
    assert main(["run", CONV, "--profile", "anp_i", "--out", str(out), *SMALL]) == 0
    assert main(["export", str(out), "--nir", str(d / "trained.nir")]) == 0
    return d, read_result(out)


def _workload(d, rule="none", neuron="", nir="trained.nir"):
    p = d / f"imported_{rule}.yaml"
    p.write_text(IMPORTED.format(nir=nir, rule=rule, neuron=neuron))
    return str(p)


def test_exported_network_runs_with_the_same_test_counts(trained, capsys):
    """Train -> export -> import with rule none: the test samples' counts, predictions and
    losses are those of the trained run's test pass, bit for bit."""
    d, before = trained
    out = d / "inference.h5"
    assert main(["run", _workload(d), "--profile", "anp_i", "--out", str(out), "--quiet",
                 "--no-plot"]) == 0
    after = read_result(out)
    t0, t1 = before.sim.sample_split == 1, after.sim.sample_split == 1
    assert t1.all() and t1.sum() == t0.sum() == 12            # the test split only
    assert np.array_equal(before.sim.sample_counts[t0], after.sim.sample_counts[t1])
    assert np.array_equal(before.sim.sample_pred[t0], after.sim.sample_pred[t1])
    assert np.array_equal(before.sim.sample_loss[t0], after.sim.sample_loss[t1])
    # inference only: nothing learned, nothing kept for learning
    assert after.sim.train_samples == 0 and after.sim.epochs == 1
    assert after.counts_priced[:, :, K.Phase.LEARNING].sum() == 0
    assert after.sim.learning_memory_bytes == 0 and after.sim.gradient_buffer_bytes == 0
    for (W0, b0), (W1, b1) in zip(before.sim.weights, after.sim.weights):
        assert W0.tobytes() == W1.tobytes() and b0.tobytes() == b1.tobytes()


def test_imported_network_fine_tunes_on_chip(trained):
    """The same graph fine-tuned with a rule: the weights move from the imported ones, and the
    learning phase is counted."""
    d, before = trained
    out = d / "finetuned.h5"
    wl = _workload(d, rule="ottt_o", neuron="neuron: {surrogate: sigmoid, surrogate_alpha: 4}\n")
    assert main(["run", wl, "--profile", "anp_i", "--out", str(out), "--quiet", "--no-plot"]) == 0
    r = read_result(out)
    assert (r.sim.sample_split == 0).sum() == 6
    assert r.counts_priced[r.sim.sample_split == 0][:, :, K.Phase.LEARNING].sum() > 0
    changed = [not np.array_equal(W0, W1) for (W0, _), (W1, _) in zip(before.sim.weights, r.sim.weights)]
    assert any(changed)


def test_import_prints_the_network(trained, capsys):
    d, _ = trained
    assert main(["import", str(d / "trained.nir")]) == 0
    text = capsys.readouterr().out
    assert "kind: conv, channels: 16, kernel: 3" in text and "soft reset" in text
    assert "conv layer 1: LIF neurons" in text


@pytest.mark.parametrize("case, needle", [
    ("neuron: {leak: 0.5}\n", "field 'neuron.leak': line 5: is given with network.nir"),
    ("missing", "no such file"),
    ("shape", "the graph's Input is [2, 17, 17], the data set's frames are 2x34x34"),
])
def test_bad_nir_workloads_are_one_line_exit_2(trained, tmp_path, capsys, case, needle):
    d, _ = trained
    if case == "missing":
        wl = _workload(d, nir="nowhere.nir")
    elif case == "shape":
        wl = _workload(d)
        Path(wl).write_text(Path(wl).read_text().replace("downscale: 2", "downscale: 1"))
    else:
        wl = _workload(d, neuron=case)
    out = tmp_path / "x.h5"
    assert main(["run", wl, "--profile", "anp_i", "--out", str(out), "--quiet", "--no-plot"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_export_refuses_to_overwrite_and_needs_a_nir_name(trained, capsys):
    d, _ = trained
    res = str(d / "trained.h5")
    assert main(["export", res, "--nir", str(d / "trained.nir")]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["export", res, "--nir", str(d / "trained.txt")]) == 2
    assert "a file name ending in .nir" in capsys.readouterr().err
    assert main(["export", res, "--nir", str(d / "x.nir"), "--dt", "1"]) == 2
    assert "has no unit" in capsys.readouterr().err


def test_export_dt_sets_the_time_constants_only(trained, tmp_path):
    """--dt changes tau in the file, not what chipsim reads back (its exact parameters)."""
    import nir
    d, _ = trained
    a, b = tmp_path / "a.nir", tmp_path / "b.nir"
    assert main(["export", str(d / "trained.h5"), "--nir", str(a)]) == 0
    assert main(["export", str(d / "trained.h5"), "--nir", str(b), "--dt", "0.1 ms"]) == 0
    ga, gb = nir.read(str(a)), nir.read(str(b))
    lam = 0.5                                          # OTTT: tau = dt / (1 - lambda)
    assert np.allclose(ga.nodes["conv1_lif"].tau, 1e-3 / (1 - lam))
    assert np.allclose(gb.nodes["conv1_lif"].tau, 1e-4 / (1 - lam))
    assert np.all(ga.nodes["conv1_lif"].metadata["chipsim"]["lam"] == lam)


def test_a_sweep_keys_a_nir_network_by_the_graph_file(trained, tmp_path):
    """Sweep points over a NIR workload are keyed by the graph's bytes: a graph retrained
    under the same name is a new simulation, not a finished one."""
    import shutil

    from chipsim.config.workload import load_workload
    from chipsim.sweep.plan import sim_identity
    d, _ = trained
    shutil.copy(d / "trained.nir", tmp_path / "g.nir")
    wl = tmp_path / "w.yaml"
    wl.write_text(IMPORTED.format(nir="g.nir", rule="none", neuron=""))
    a = sim_identity(load_workload(wl), None)
    (tmp_path / "g.nir").write_bytes((tmp_path / "g.nir").read_bytes() + b"\0")
    b = sim_identity(load_workload(wl), None)
    assert a["workload"] == b["workload"] and a["nir"] != b["nir"]


def test_per_neuron_graph_round_trips_through_a_run(tmp_path, capsys):
    """A graph whose neurons each have their own tau, r, threshold and v_reset, whose layers
    differ (LIF, then IF) and whose readout is a leaky integrator (LI): run with rule none,
    exported from the results file, read again: the same neurons bit for bit, and the same test
    counts."""
    import nir
    rng = np.random.default_rng(3)
    n_in, n1, n2 = 2 * 17 * 17, 40, 10
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2, 17, 17])}),
        "flat": nir.Flatten(input_type={"input": np.array([2, 17, 17])}, start_dim=0),
        "fc": nir.Linear(weight=rng.uniform(-0.05, 0.3, (n1, n_in))),
        "lif": nir.LIF(tau=rng.uniform(1.5e-3, 5e-3, n1), r=rng.uniform(0.8, 1.5, n1),
                       v_leak=np.zeros(n1), v_threshold=rng.uniform(0.7, 1.3, n1),
                       v_reset=rng.uniform(-0.3, 0.1, n1)),
        "fc2": nir.Affine(weight=rng.uniform(-0.2, 0.5, (n2, n1)), bias=np.zeros(n2)),
        "if": nir.IF(r=rng.uniform(800, 1200, n2), v_threshold=np.ones(n2), v_reset=np.zeros(n2)),
        "head": nir.Affine(weight=rng.normal(size=(10, n2)), bias=rng.normal(size=10)),
        "li": nir.LI(tau=rng.uniform(2e-3, 9e-3, 10), r=rng.uniform(0.5, 1.5, 10),
                     v_leak=np.zeros(10)),
        "output": nir.Output(output_type={"output": np.array([10])})},
        edges=[("input", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "fc2"), ("fc2", "if"),
               ("if", "head"), ("head", "li"), ("li", "output")])
    nir.write(str(tmp_path / "g.nir"), g)
    wl = tmp_path / "w.yaml"
    wl.write_text(IMPORTED.format(nir="g.nir", rule="none", neuron=""))
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    assert main(["run", str(wl), "--profile", "anp_i", "--out", str(a), "--quiet", "--no-plot"]) == 0
    ra = read_result(a)
    assert ra.sim.neurons is not None and not ra.sim.neurons[0]["soft"]
    assert np.ptp(ra.sim.neurons[0]["vr"]) > 0 and np.all(ra.sim.neurons[1]["lam"] == 1.0)
    assert int(ra.counts_priced[:, 1, K.Phase.INFERENCE, K.SPIKE].sum()) > 0   # layer 2 spikes
    assert main(["export", str(a), "--nir", str(tmp_path / "again.nir")]) == 0
    wl.write_text(IMPORTED.format(nir="again.nir", rule="none", neuron=""))
    assert main(["run", str(wl), "--profile", "anp_i", "--out", str(b), "--quiet", "--no-plot"]) == 0
    rb = read_result(b)
    assert ra.sim.readout_li is not None                       # an LI readout, kept
    for x, y in zip(ra.sim.readout_li, rb.sim.readout_li):
        assert x.tobytes() == y.tobytes()
    for x, y in zip(ra.sim.neurons, rb.sim.neurons):
        for k in ("lam", "theta", "cin", "vr"):
            assert x[k].tobytes() == y[k].tobytes(), k
        assert (x["soft"], x["h0"]) == (y["soft"], y["h0"])
    assert np.array_equal(ra.sim.sample_counts, rb.sim.sample_counts)
    assert np.array_equal(ra.sim.sample_loss, rb.sim.sample_loss)


SPIKING = """\
name: spiking_out
dataset: {name: nmnist, root: null, time_steps: 10, framing: binary, downscale: 2,
          train_samples: 6, test_samples: 12}
network:
  hidden: [{kind: dense, units: 32}, {kind: dense, units: 10}]
  output: OUTPUT
neuron: {preset: ottt}
rule: {name: sltt}
training: {epochs: 1, optimizer: sgd, lr: 0.1, seed: 1, init_gain: 3.0}
"""


@pytest.mark.parametrize("output", ["spike_count", "first_spike"])
def test_a_spiking_output_network_trains_exports_and_reads_back(tmp_path, output):
    """The last layer's spikes are the output (no readout layer): trained, exported (Linear ->
    LIF -> Output), read back with rule none: the same test counts and predictions."""
    wl = tmp_path / "w.yaml"
    wl.write_text(SPIKING.replace("OUTPUT", output))
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    assert main(["run", str(wl), "--profile", "loihi", "--out", str(a), "--quiet", "--no-plot"]) == 0
    ra = read_result(a)
    assert [ls.kind for ls in ra.sim.layers] == ["dense", "dense"]
    assert main(["export", str(a), "--nir", str(tmp_path / "g.nir")]) == 0
    wl2 = tmp_path / "imported.yaml"
    wl2.write_text(IMPORTED.format(nir="g.nir", rule="none", neuron="").replace(
        "dt: 1 ms}", f"dt: 1 ms, output: {output}}}"))
    assert main(["run", str(wl2), "--profile", "loihi", "--out", str(b), "--quiet", "--no-plot"]) == 0
    rb = read_result(b)
    t = ra.sim.sample_split == 1
    assert np.array_equal(ra.sim.sample_counts[t], rb.sim.sample_counts)
    assert np.array_equal(ra.sim.sample_pred[t], rb.sim.sample_pred)
    assert np.array_equal(ra.sim.sample_loss[t], rb.sim.sample_loss)
