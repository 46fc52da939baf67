"""What each error route costs and loses, on one chip and one data set (README, "Error delivery").

One network (workloads/nmnist_dfa.yaml: N-MNIST's 200 embedded real recordings, 2x9x9 -> 128
LIF -> 10, 10 epochs), trained with bptt, sltt, ottt_o, dfa and eprop on three seeds, each run
priced on anp_i and re-priced on reckon (the same simulation: a profile changes only the price).
Prints a Markdown table:

- test accuracy on the 100 test recordings after the last epoch: mean and range over the seeds;
- learning-phase energy per training sample (mean over the run's training samples and seeds);
- the share of that energy spent delivering the error to the hidden layer: the error's MACs
  (through W^T, through B, back through time), the reads of W^T (``mem_read_weight_transposed``)
  or of B (``mem_read_feedback``), and a transposed copy's extra updates where the chip keeps one;
- learning memory (chipsim's peak learning state, in the simulator's float64 words), and the
  bytes of B where the rule keeps one.

    python benchmarks/error_routes.py [--seeds 2022 2023 2024] [--epochs 10] [--recurrent]

``--recurrent``: the hidden layer is a recurrent LIF layer (W_in and W_rec, 128 neurons), the
rest unchanged.

A chip that cannot deliver a rule's error prints the refusal instead of numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chipsim import counts as K  # noqa: E402
from chipsim import engine  # noqa: E402
from chipsim.config.profile import load_profile  # noqa: E402
from chipsim.config.workload import load_workload  # noqa: E402
from chipsim.errors import ChipsimError  # noqa: E402
from chipsim.hardware.cost import reprice  # noqa: E402
from chipsim.hardware.ledger import price_tables  # noqa: E402
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN  # noqa: E402

#: (label, the workload's rule section)
RULES = (("bptt", "{name: bptt}"), ("sltt", "{name: sltt}"), ("ottt_o", "{name: ottt_o}"),
         ("dfa", "{name: dfa}"), ("eprop", "{name: eprop}"),
         ("eprop, symmetric", "{name: eprop, feedback: symmetric}"))
PROFILES = ("anp_i", "reckon")
#: the actions that carry the error to the hidden layers
DELIVERY = (K.ERROR_MAC, K.TEMPORAL_MAC, K.MEM_READ_WEIGHT_TRANSPOSED, K.MEM_READ_FEEDBACK)


def _figures(r, profile):
    """(learning J per training sample, delivery share)."""
    phase_e = price_tables(profile)[1]
    train = r.sim.sample_split == SPLIT_TRAIN
    c = r.counts_priced[train][:, :, K.LEARN].sum(axis=(0, 1)).astype(np.float64)
    e = c * phase_e[K.LEARN]
    total = float(e.sum())
    deliver = float(e[list(DELIVERY)].sum())
    # a transposed copy's extra updates are spent on delivering the error too
    extra = (r.counts_priced[train] - r.sim.sample_counts[train])[:, :, K.LEARN]
    deliver += float(extra.sum(axis=(0, 1))[[K.WEIGHT_UPDATE_ISSUED, K.MEM_WRITE_WEIGHT]]
                     @ phase_e[K.LEARN, [K.WEIGHT_UPDATE_ISSUED, K.MEM_WRITE_WEIGHT]])
    return total / train.sum(), deliver / total if total else 0.0


def _si(x, unit):
    for f, p in ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")):
        if abs(x) >= f:
            return f"{x / f:.3g} {p}{unit}"
    return f"{x:.3g} {unit}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[2022, 2023, 2024])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--recurrent", action="store_true",
                    help="a recurrent hidden layer (W_in and W_rec) instead of a dense one")
    a = ap.parse_args(argv)
    extra = {"network.hidden": "[{kind: recurrent, units: 128}]"} if a.recurrent else {}
    profiles = {p: load_profile(p) for p in PROFILES}
    rows = {}
    t0 = time.perf_counter()
    for rule, section in RULES:
        acc, mem = [], []
        fig = {p: [] for p in PROFILES}
        refused = {}
        for seed in a.seeds:
            w = load_workload(ROOT / "workloads" / "nmnist_dfa.yaml",
                              {"rule": section, "training.seed": str(seed),
                               "training.epochs": str(a.epochs), **extra})
            r = engine.run(w, profiles["anp_i"])
            test = (r.sim.sample_split == SPLIT_TEST) & (r.sim.sample_epoch == r.sim.sample_epoch.max())
            acc.append(float(np.mean(r.sim.sample_pred[test] == r.sim.sample_label[test])))
            mem.append(int(r.sim.learning_memory_bytes))
            for p in PROFILES:
                try:
                    rp = r if p == "anp_i" else reprice(r, profiles[p])
                except ChipsimError as e:
                    what = e.detail.split("weights of ")[-1].split(", but")[0]
                    refused[p] = f"refused: cannot read W^T of {what}"
                    continue
                fig[p].append(_figures(rp, profiles[p]))
            print(f"  {rule} seed {seed}: test {acc[-1]:.2f} ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr)
        rows[rule] = (acc, mem, fig, refused)
    kind = "recurrent LIF (W_in, W_rec)" if a.recurrent else "LIF"
    print(f"N-MNIST 2x9x9 -> 128 {kind} -> 10, {a.epochs} epochs, seeds {a.seeds}; "
          f"{time.perf_counter() - t0:.0f} s in all\n")
    head = "| rule | test accuracy, mean (range) |"
    for p in PROFILES:
        head += f" {p}: learning energy / training sample | {p}: share delivering the error |"
    head += " learning memory |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for rule, (acc, mem, fig, refused) in rows.items():
        line = (f"| {rule} | {100 * np.mean(acc):.1f} % ({100 * min(acc):.0f}-{100 * max(acc):.0f}) |")
        for p in PROFILES:
            if p in refused:
                line += f" {refused[p]} | - |"
                continue
            e = np.mean([f[0] for f in fig[p]])
            s = np.mean([f[1] for f in fig[p]])
            line += f" {_si(e, 'J')} | {100 * s:.1f} % |"
        line += f" {np.mean(mem) / 1024:.1f} KiB |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
