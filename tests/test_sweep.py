"""Design-space sweeps (chipsim/config/sweep.py, chipsim/sweep/): the points a sweep file
names, their keys and shared simulations, and real runs on a dask.distributed LocalCluster of 2
worker processes: results equal serial runs bit for bit, a worker killed mid-point, a sweep
stopped and resumed, an edited sweep, a failed point, a profile-only sweep priced from one
simulation (checked against the closed form of its energy)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from chipsim import engine
from chipsim.cli import main
from chipsim.config.profile import load_profile
from chipsim.config.sweep import expand, load_sweep
from chipsim.config.workload import load_workload
from chipsim.counts import Action, Phase
from chipsim.errors import ChipsimError
from chipsim.hardware.cost import cost
from chipsim.report.h5 import read_result
from chipsim.report.sweep_index import read_index
from chipsim.sweep.execute import finished_keys, point_file, run_plan
from chipsim.sweep.plan import make_plan

ROOT = Path(__file__).resolve().parents[1]
NMNIST = ROOT / "workloads" / "nmnist.yaml"
#: small points: 12 training and 6 test samples, 2 epochs, 17x17 input
SMALL = {"dataset.train_samples": 12, "dataset.test_samples": 6, "training.epochs": 2,
         "dataset.downscale": 2}


def write_sweep(d: Path, axes: str, name="s", extra="", small=SMALL) -> Path:
    sets = "\n".join(f"  {k}: {v}" for k, v in small.items())
    p = d / f"{name}.yaml"
    p.write_text(f"name: {name}\nworkload: {NMNIST}\nprofile: anp_i\nset:\n{sets}\naxes:\n{axes}\n{extra}",
                 encoding="utf-8")
    return p


# ---------------------------------------------------------------------------------------
# the sweep file and its points
# ---------------------------------------------------------------------------------------
def test_grid_points_in_order_with_aliases_and_profile_fields(tmp_path):
    p = write_sweep(tmp_path, "  rule: [ottt_o, sltt]\n  seed: [1, 2]\n"
                              "  profile.precision.weight_bits: [4, 8]\n")
    points, dropped = expand(load_sweep(p))
    assert dropped == 0 and len(points) == 8
    assert [pt.values["rule"] for pt in points] == ["ottt_o"] * 4 + ["sltt"] * 4
    assert [pt.values["seed"] for pt in points[:4]] == [1, 1, 2, 2]
    pt = points[5]            # sltt, seed 1, 8 bits
    assert pt.workload.rule.name == "sltt" and pt.workload.training.seed == 1
    assert pt.workload.dataset.downscale == 2 and pt.workload.training.epochs == 2
    q = pt.profile.precision["weight_bits"]
    assert q.value == 8 and q.provenance == "assumed" and "sweep" in q.reason
    assert "precision.weight_bits" in q.source


def test_random_sampling_draws_a_budget_of_distinct_points_from_its_seed(tmp_path):
    axes = "  rule: [ottt_o, ottt_a, sltt, bptt]\n  seed: [1, 2, 3]\n"
    draw = "sampling: {method: random, budget: 5, seed: 3}\n"
    a, _ = expand(load_sweep(write_sweep(tmp_path, axes, "a", draw)))
    b, _ = expand(load_sweep(write_sweep(tmp_path, axes, "b", draw)))
    c, _ = expand(load_sweep(write_sweep(tmp_path, axes, "c", draw.replace("seed: 3", "seed: 4"))))
    key = [(p.values["rule"], p.values["seed"]) for p in a]
    assert len(key) == 5 == len(set(key))
    assert key == [(p.values["rule"], p.values["seed"]) for p in b]          # same seed
    assert key != [(p.values["rule"], p.values["seed"]) for p in c]          # another seed
    # the budget is drawn from the points the exclusions keep
    ex = draw + "exclude:\n  - {rule: [bptt, sltt]}\n"
    d, dropped = expand(load_sweep(write_sweep(tmp_path, axes, "d", ex)))
    assert dropped == 6 and len(d) == 5
    assert {p.values["rule"] for p in d} <= {"ottt_o", "ottt_a"}


def test_exclusions_match_axes_and_resolved_profile_fields(tmp_path):
    axes = "  rule: [bptt, ottt_o]\n  profile: [anp_i, truenorth]\n"
    ex = "exclude:\n  - {rule: bptt, profile.learning.on_chip: false}\n"
    points, dropped = expand(load_sweep(write_sweep(tmp_path, axes, extra=ex)))
    assert dropped == 1
    assert sorted((p.values["rule"], p.values["profile"]) for p in points) == [
        ("bptt", "anp_i"), ("ottt_o", "anp_i"), ("ottt_o", "truenorth")]


@pytest.mark.parametrize("axes,extra,field", [
    ("  training.epoch: [1]\n", "", "axes.training.epoch"),
    ("  rule: []\n", "", "axes.rule"),
    ("  profile.precision.weight_bitz: [4]\n", "", "axes.profile.precision.weight_bitz"),
    ("  rule: [sltt]\n", "sampling: {method: random}\n", "sampling.budget"),
    ("  rule: [sltt]\n", "exclude:\n  - {color: red}\n", "exclude.0.color"),
])
def test_a_bad_sweep_file_is_one_error_naming_its_file_and_field(tmp_path, axes, extra, field):
    p = write_sweep(tmp_path, axes, extra=extra)
    with pytest.raises(ChipsimError) as e:
        make_plan(load_sweep(p))
    assert e.value.file == str(p) and e.value.field == field


def test_a_bad_value_fails_its_point_only(tmp_path):
    p = write_sweep(tmp_path, "  rule.target_window: [2, 50]\n")
    plan = make_plan(load_sweep(p))
    ok, bad = plan.points
    assert not ok.point.error and ok.sim
    assert "target_window" in bad.point.error and not bad.sim
    assert plan.failed == [bad]


def test_profile_only_points_share_one_simulation_unless_the_chip_format_trains(tmp_path):
    axes = "  profile: [anp_i, loihi, reckon]\n  profile.precision.weight_bits: [6, 8]\n"
    plan = make_plan(load_sweep(write_sweep(tmp_path, axes)))
    assert len(plan.points) == 6 and len(plan.groups) == 1
    assert len({p.key for p in plan.points}) == 6
    chip = dict(SMALL, **{"training.number_format": "chip"})
    plan = make_plan(load_sweep(write_sweep(tmp_path, axes, "chip", small=chip)))
    # the simulation trains in the chip's widths: profiles with the same widths still share
    sims = {}
    for p in plan.points:
        w = p.point.profile.precision
        sims.setdefault((w["weight_bits"].value, w["state_bits"].value, w["trace_bits"].value),
                        set()).add(p.sim)
    assert len(plan.groups) == len(sims) and all(len(s) == 1 for s in sims.values())


def test_keys_follow_what_runs_not_the_file(tmp_path):
    a = make_plan(load_sweep(write_sweep(tmp_path, "  rule: [ottt_o, sltt]\n", "a")))
    b = make_plan(load_sweep(write_sweep(tmp_path, "  rule: [sltt, ottt_a, ottt_o]\n", "b")))
    ka = {p.values["rule"]: p.key for p in a.points}
    kb = {p.values["rule"]: p.key for p in b.points}
    assert ka["ottt_o"] == kb["ottt_o"] and ka["sltt"] == kb["sltt"]
    assert kb["ottt_a"] not in ka.values()


def test_two_points_that_run_the_same_thing_are_refused(tmp_path):
    p = write_sweep(tmp_path, "  rule: [sltt, sltt]\n")
    with pytest.raises(ChipsimError, match="same workload on the same profile"):
        make_plan(load_sweep(p))


def test_repricing_feeds_the_runs_batches_so_costs_equal_a_run_bit_for_bit():
    w = load_workload(NMNIST, {"dataset.train_samples": "5", "dataset.test_samples": "3",
                               "training.epochs": "2", "training.batch_size": "2",
                               "dataset.downscale": "2"})
    anp, loihi = load_profile("anp_i"), load_profile("loihi")
    direct = engine.run(w, loihi)
    moved = cost(engine.run(w, anp).sim, loihi, dict(w.mapping), w.path)
    for k in ("step_latency_train", "step_latency_test", "router_hops", "chip_messages"):
        np.testing.assert_array_equal(getattr(moved, k), getattr(direct.cost, k), err_msg=k)
    np.testing.assert_array_equal(moved.pricing.sample_energy, direct.cost.pricing.sample_energy)
    np.testing.assert_array_equal(moved.pricing.sample_time, direct.cost.pricing.sample_time)


# ---------------------------------------------------------------------------------------
# on a real dask.distributed cluster
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=40,
                           env={"CHIPSIM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def same_run(a, b) -> None:
    """Two results are the same run: counts, losses, predictions, energies, times (and the
    final weights when both hold them; a results file does not)."""
    sa, sb = a.sim, b.sim
    np.testing.assert_array_equal(sa.sample_counts, sb.sample_counts)
    np.testing.assert_array_equal(sa.step_counts, sb.step_counts)
    np.testing.assert_array_equal(sa.sample_loss, sb.sample_loss)
    np.testing.assert_array_equal(sa.sample_pred, sb.sample_pred)
    for (wa, ba), (wb, bb) in zip(sa.weights or (), sb.weights or ()):   # files keep none
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
    np.testing.assert_array_equal(a.pricing.sample_energy, b.pricing.sample_energy)
    np.testing.assert_array_equal(a.pricing.sample_time, b.pricing.sample_time)
    np.testing.assert_array_equal(a.cost.step_latency_train, b.cost.step_latency_train)
    assert a.cost.profile_text == b.cost.profile_text
    assert sa.workload_text == sb.workload_text and sa.overrides == sb.overrides


def serial(p):
    """The point run alone, as ``chipsim run`` runs it."""
    return engine.run(p.point.workload, p.point.profile)


def test_a_sweep_on_two_workers_equals_serial_runs(tmp_path, client):
    sw = write_sweep(tmp_path, "  rule: [ottt_o, sltt]\n  profile: [anp_i, loihi]\n")
    plan = make_plan(load_sweep(sw))
    assert len(plan.groups) == 2
    out = run_plan(plan, tmp_path / "out", client=client, quiet=True)
    assert (out.done, out.failed, out.simulations) == (4, 0, 2)
    cols, rows = read_index(tmp_path / "out")
    assert [r["point"] for r in rows] == [p.key for p in plan.points]
    assert {r["status"] for r in rows} == {"done"}
    for p, r in zip(plan.points, rows):
        got = read_result(tmp_path / "out" / r["results"])
        ref = serial(p)
        same_run(got, ref)
        assert r["rule_name"] == p.values["rule"] and r["profile_name"] == p.values["profile"]
        acc = 100 * np.mean((ref.sim.sample_pred == ref.sim.sample_label)[ref.sim.sample_split == 1]
                            [-6:])
        assert r["test_accuracy_pct"] == pytest.approx(acc)
    # the HDF5 table holds the same rows
    import h5py
    with h5py.File(tmp_path / "out" / "index.h5") as f:
        t = f["index"][:]
    assert [x.decode() for x in t["point"]] == [r["point"] for r in rows]
    np.testing.assert_array_equal(t["learning_energy_per_sample_J"],
                                  [r["learning_energy_per_sample_J"] for r in rows])


def test_a_profile_only_sweep_is_one_simulation_priced_by_the_closed_form(tmp_path, client):
    # the weight-update energy of ANP-I doubled and tripled: learning energy per training
    # sample rises by exactly (issued updates per sample) x the added energy
    sw = write_sweep(tmp_path, "  profile.actions.weight_update_issued: ['0.288 pJ', '0.576 pJ', '0.864 pJ']\n")
    plan = make_plan(load_sweep(sw))
    out = run_plan(plan, tmp_path / "out", client=client, quiet=True)
    assert (out.done, out.simulations) == (3, 1)
    res = [read_result(point_file(tmp_path / "out", p.key)) for p in plan.points]
    train = res[0].sim.sample_split == 0
    issued = res[0].sim.sample_counts[train][:, :, int(Phase.LEARNING),
                                             int(Action.WEIGHT_UPDATE_ISSUED)].sum(axis=1)
    assert issued.sum() > 0
    for r, extra in zip(res[1:], (0.288e-12, 0.576e-12)):
        same = np.array_equal(r.sim.sample_counts, res[0].sim.sample_counts)
        assert same
        d = r.pricing.sample_energy[train] - res[0].pricing.sample_energy[train]
        np.testing.assert_allclose(d, issued * extra, rtol=1e-9, atol=1e-24)


def test_a_worker_killed_mid_point_is_retried_and_its_point_equals_a_serial_run(tmp_path, client):
    small = dict(SMALL, **{"dataset.train_samples": 60, "dataset.test_samples": 20,
                           "training.epochs": 3})
    sw = write_sweep(tmp_path, "  rule: [ottt_o, ottt_a, sltt, bptt]\n", small=small)
    plan = make_plan(load_sweep(sw))
    pids = client.run(os.getpid)
    box = {}
    t = threading.Thread(target=lambda: box.update(out=run_plan(plan, tmp_path / "out",
                                                                 client=client, quiet=True)))
    t.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and t.is_alive():
        busy = {w: ts for w, ts in client.processing().items() if ts}
        for w, ts in busy.items():
            if any(str(k).startswith(("simulate-", "price-")) for k in ts) and w in pids:
                os.kill(pids[w], signal.SIGKILL)
                killed = (w, list(ts))
                break
        time.sleep(0.005)
    t.join(300)
    assert killed is not None, "no point was seen running"
    out = box["out"]
    assert (out.done, out.failed, out.pending) == (4, 0, 0)
    for p in plan.points:
        same_run(read_result(point_file(tmp_path / "out", p.key)), serial(p))
    assert not list((tmp_path / "out" / "points").glob("*.tmp"))      # no half-written file
    client.wait_for_workers(2, timeout=60)


def test_a_stopped_sweep_resumes_with_only_its_missing_points_and_an_edit_adds_only_new_ones(
        tmp_path, client):
    small = dict(SMALL, **{"dataset.train_samples": 60, "dataset.test_samples": 20,
                           "training.epochs": 3})
    axes = "  rule: [ottt_o, ottt_a, sltt]\n  seed: [1, 2, 3]\n"
    sw = write_sweep(tmp_path, axes, small=small)
    d = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "chipsim", "sweep", str(sw), "--out", str(d),
                             "--workers", "2", "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((d / "points").glob("*.h5"))) >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "sweep stopped" in err and "Traceback" not in err, err
    plan = make_plan(load_sweep(sw))
    cols, rows = read_index(d)                  # a whole index
    assert [r["point"] for r in rows] == [p.key for p in plan.points]
    finished = finished_keys(plan, d)
    assert 2 <= len(finished) < 9
    assert {r["point"] for r in rows if r["status"] == "done"} <= finished
    assert all(r["status"] in ("done", "pending") for r in rows)
    out = run_plan(plan, d, client=client, quiet=True)
    assert sorted(out.ran) == sorted(p.key for p in plan.points if p.key not in finished)
    assert out.skipped == len(finished) and out.done == 9
    # the finished points' figures, taken from the earlier index or (without one) from their
    # results files, are the same
    first = {r["point"]: r for r in read_index(d)[1]}
    (d / "index.csv").unlink()
    assert run_plan(plan, d, client=client, quiet=True).skipped == 9
    again = {r["point"]: r for r in read_index(d)[1]}
    for k, r in first.items():
        for c in ("test_accuracy_pct", "learning_energy_per_sample_J", "learning_memory_bytes",
                  "test_latency_per_sample_s", "rule", "seed", "status"):
            assert again[k][c] == r[c], (k, c)
    # an edited sweep: one more seed adds three points, and only those run
    sw2 = write_sweep(tmp_path, axes.replace("[1, 2, 3]", "[1, 2, 3, 4]"), small=small)
    plan2 = make_plan(load_sweep(sw2))
    out2 = run_plan(plan2, d, client=client, quiet=True)
    assert sorted(out2.ran) == sorted(p.key for p in plan2.points if p.values["seed"] == 4)
    assert out2.skipped == 9 and out2.done == 12


def test_a_failed_point_is_recorded_and_the_sweep_goes_on(tmp_path, client, capsys):
    from chipsim.sweep.command import sweep
    # target_window 50 > 10 steps: invalid before it runs; the chip 'odin' cannot hold the
    # network: refused when it is priced
    sw = write_sweep(tmp_path, "  rule.target_window: [2, 50]\n  profile: [anp_i, odin]\n")
    rc = sweep(sw, tmp_path / "out", client=client, quiet=True)
    assert rc == 1
    cols, rows = read_index(tmp_path / "out")
    by = {(r["rule.target_window"], r["profile"]): r for r in rows}
    assert by[("2", "anp_i")]["status"] == "done"
    for k in (("50", "anp_i"), ("50", "odin")):
        assert by[k]["status"] == "failed" and "target_window" in by[k]["message"]
    odin = by[("2", "odin")]
    assert odin["status"] == "failed" and "\n" not in odin["message"]
    assert "odin" in odin["message"], odin["message"]


def test_dry_run_lists_points_simulations_and_an_estimate(tmp_path, capsys):
    sw = write_sweep(tmp_path, "  rule: [ottt_o, sltt]\n  profile: [anp_i, loihi, reckon]\n")
    assert main(["sweep", str(sw), "--dry-run", "--out", str(tmp_path / "o")]) == 0
    text = capsys.readouterr().out
    assert "6 points" in text and "2 simulation(s) and 6 pricing(s)" in text
    assert "estimated time on" in text and not (tmp_path / "o").exists()


def test_cli_refuses_a_bad_sweep_and_a_foreign_directory(tmp_path, capsys):
    bad = write_sweep(tmp_path, "  rule: [nope, sltt]\n")
    assert main(["sweep", str(bad), "--dry-run"]) == 0      # a bad value fails its point only
    out = capsys.readouterr().out
    assert "failed: " in out and "rule.name" in out and "1 invalid" in out
    sw = write_sweep(tmp_path, "  training.epoch: [1]\n", "bad2")
    assert main(["sweep", str(sw)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "axes.training.epoch" in err and str(sw) in err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    ok = write_sweep(tmp_path, "  rule: [sltt]\n", "ok")
    assert main(["sweep", str(ok), "--out", str(foreign), "--quiet"]) == 2
    assert "holds files but no sweep" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]


def test_report_and_compare_take_a_sweep_directory_and_a_second_sweep_is_refused(
        tmp_path, client, capsys):
    from chipsim.report.h5 import output_lock
    from chipsim.sweep.command import sweep
    sw = write_sweep(tmp_path, "  rule: [ottt_o, sltt]\n  profile: [anp_i, loihi]\n")
    d = tmp_path / "out"
    assert sweep(sw, d, client=client, quiet=True) == 0
    capsys.readouterr()
    assert main(["report", str(d)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "4 done" in out
    for f in ("pareto.png", "front_energy.png", "sensitivity_rule.png", "sensitivity_profile.png"):
        assert (d / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f
    assert main(["compare", str(d)]) == 0
    table = capsys.readouterr().out
    assert (d / "compare.png").is_file()
    assert table.count("anp_i") >= 2 and table.count("loihi") >= 2
    assert "sltt, loihi " in table and "ottt_o, anp_i " in table     # rows named by their axes
    with output_lock(d / "index.csv"):          # a sweep writing this directory now
        assert main(["sweep", str(sw), "--out", str(d), "--quiet"]) == 2
    assert "being written" in capsys.readouterr().err


def test_results_sent_back_to_the_client_are_the_same_files(tmp_path, client):
    """--no-shared (workers that do not see the sweep directory): the results come back and
    the client writes them; the files equal those the workers write."""
    sw = write_sweep(tmp_path, "  profile: [anp_i, generic_45nm]\n")
    plan = make_plan(load_sweep(sw))
    a = run_plan(plan, tmp_path / "a", client=client, quiet=True, shared=True)
    b = run_plan(plan, tmp_path / "b", client=client, quiet=True, shared=False)
    assert (a.done, b.done, b.simulations) == (2, 2, 1)
    for p in plan.points:
        same_run(read_result(point_file(tmp_path / "b", p.key)),
                 read_result(point_file(tmp_path / "a", p.key)))


def test_an_existing_cluster_by_address_receives_the_sweep(tmp_path, client, monkeypatch):
    """--scheduler / DASK_SCHEDULER_ADDRESS: the sweep connects to a running cluster (here the
    fixture's) instead of starting one; its results come back and are written here."""
    sw = write_sweep(tmp_path, "  rule: [ottt_o, sltt]\n")
    plan = make_plan(load_sweep(sw))
    address = client.scheduler.address
    a = run_plan(plan, tmp_path / "a", scheduler=address, quiet=True)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    b = run_plan(plan, tmp_path / "b", quiet=True)
    assert (a.done, b.done) == (2, 2)
    for p in plan.points:
        same_run(read_result(point_file(tmp_path / "a", p.key)), serial(p))
        same_run(read_result(point_file(tmp_path / "b", p.key)), serial(p))
    assert client.scheduler_info()["workers"]       # the fixture's cluster is still up


@pytest.mark.parametrize("name,points,sims", [("anp_i_mechanisms", 24, 24), ("weight_bits", 8, 4),
                                              ("all_rules_all_profiles", 56, 7)])
def test_the_shipped_sweeps_plan_as_documented(name, points, sims):
    plan = make_plan(load_sweep(ROOT / "workloads" / "sweeps" / f"{name}.yaml"))
    assert (len(plan.points), len(plan.groups), plan.failed, plan.dropped) == (points, sims, [], 0)


@pytest.mark.parametrize("text,field", [
    ("- a\n- b\n", None),
    ("name: x\naxes: {rule: [sltt]}\n", "workload"),
    ("workload: nothere.yaml\naxes: {rule: [sltt]}\n", "workload"),
    ("workload: {W}\naxes: [rule, sltt]\n", "axes"),
    ("workload: {W}\naxes: {rule: sltt}\n", "axes.rule"),
    ("workload: {W}\naxes: {rule: [sltt]}\nsampling: {method: random, budget: 0}\n", "sampling.budget"),
    ("workload: {W}\naxes: {rule: [sltt]}\nexclude: {rule: sltt}\n", "exclude"),
    ("workload: {W}\naxes: {rule: [sltt]}\ncolour: red\n", "colour"),
    ("workload: {W}\naxes: {rule: [sltt]\n", None),
])
def test_a_hostile_sweep_file_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, text, field):
    p = tmp_path / "bad.yaml"
    p.write_text(text.replace("{W}", str(NMNIST)), encoding="utf-8")
    out = tmp_path / "out"
    for args in (["--dry-run"], ["--out", str(out)]):
        assert main(["sweep", str(p), *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("chipsim: error: ") and str(p) in err
        if field:
            assert f"field '{field}'" in err
    assert not out.exists()
