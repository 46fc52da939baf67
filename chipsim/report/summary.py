"""The terminal summary of one run, and the same numbers as a dict.

Definitions (all sums are over layers; "SOPs" are ``synop + syn_mac`` over both phases):

* *test* figures: mean over the test samples of the **last epoch that has test samples**;
  *training* figures: mean over the training samples of **all epochs**; the accuracies use
  the last epoch of each split (the training accuracy is the on-line accuracy while learning).
* per-sample energy = ``pricing.sample_energy`` (dynamic + static).
* per-phase dynamic energy of a sample: its counts times the effective price of each
  (layer, phase, action), ``pricing.energy / run-total counts``. The ledger prices linearly,
  so this splits ``pricing.sample_dynamic_energy`` exactly by phase.
* learning / inference / static shares: over all training samples, learning-phase dynamic,
  inference-phase dynamic and static energy as percentages of their sum.
* energy per SOP = total energy of the run (dynamic + static) / total SOPs of the run.
* assumed share = ``pricing.assumed_energy_share`` (the ledger's figure for the whole run).
* NeuroBench figures: inference phase, over the test samples of the last test epoch (or,
  if the run has no test samples, over all training samples; ``nb_basis`` says which).
  Effective ACs / MACs = ``nb_eff_ops`` of layers with binary / graded input; dense ops =
  ``nb_dense_ops``; activation sparsity = ``1 - spikes / neuron-steps`` over the LIF layers
  (not the non-spiking readout or tbptt_local's auxiliary classifiers), neuron-steps =
  ``neuron_update_active + neuron_update_idle``.

No h5py or matplotlib here; :mod:`chipsim.report.plots` reuses the helpers below.
"""

from __future__ import annotations

import math

import numpy as np

from chipsim.counts import (NB_DENSE_OPS, NB_EFF_OPS, NEURON_UPDATE_ACTIVE,
                            NEURON_UPDATE_IDLE, SPIKE, SYN_MAC, SYNOP, Phase)
from chipsim.result import SPLIT_TEST, SPLIT_TRAIN, RunResult

_PREFIXES = ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, ""),
             (1e3, "k"), (1e6, "M"))


# ----------------------------------------------------------------------------------------
# helpers shared with plots.py
# ----------------------------------------------------------------------------------------

def scale_si(value: float, unit: str) -> tuple[float, str]:
    """``(factor, prefixed unit)`` so that ``value / factor`` lies in [1, 1000) where
    possible, e.g. ``scale_si(3.2e-6, 'J') == (1e-6, 'µJ')``."""
    v = abs(float(value)) if value is not None else 0.0
    if not math.isfinite(v) or v == 0.0:
        return 1.0, unit
    factor, prefix = _PREFIXES[0]
    for f, p in _PREFIXES:
        if v >= f * (1 - 1e-12):
            factor, prefix = f, p
    return factor, prefix + unit


def format_si(value: float | None, unit: str, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    factor, u = scale_si(value, unit)
    return f"{value / factor:.{digits}g} {u}"


def effective_prices(result: RunResult) -> np.ndarray:
    """(L, P, A) J per count: ``pricing.energy / run-total counts`` (0 where nothing ran)."""
    total = result.counts_priced.sum(axis=0).astype(np.float64)
    energy = np.asarray(result.pricing.energy, dtype=np.float64)
    return np.divide(energy, total, out=np.zeros_like(energy), where=total > 0)


def sample_phase_energy(result: RunResult, prices: np.ndarray | None = None) -> np.ndarray:
    """(N, P) dynamic energy of each sample in each phase, J."""
    prices = effective_prices(result) if prices is None else prices
    return np.einsum("nlpa,lpa->np", result.counts_priced.astype(np.float64), prices)


def sample_assumed_energy(result: RunResult, prices: np.ndarray | None = None) -> np.ndarray:
    """(N,) energy of each sample priced by `assumed` figures (dynamic + static if the
    static power is assumed), J."""
    prices = effective_prices(result) if prices is None else prices
    p = result.pricing
    masked = prices * np.asarray(p.assumed, dtype=bool)[None, None, :]
    e = np.einsum("nlpa,lpa->n", result.counts_priced.astype(np.float64), masked)
    if p.static_assumed:
        e = e + np.asarray(p.sample_static_energy, dtype=np.float64)
    return e


def selections(result: RunResult) -> dict:
    """Boolean sample masks used by the summary and the plots."""
    split, epoch = result.sim.sample_split, result.sim.sample_epoch
    train, test_all = split == SPLIT_TRAIN, split == SPLIT_TEST
    test_epoch = int(epoch[test_all].max()) if test_all.any() else None
    train_epoch = int(epoch[train].max()) if train.any() else None
    test = test_all & (epoch == test_epoch) if test_epoch is not None else test_all
    train_last = train & (epoch == train_epoch) if train_epoch is not None else train
    return {"train": train, "train_last": train_last, "test": test,
            "test_epoch": test_epoch, "train_epoch": train_epoch,
            "n_epochs": int(len(np.unique(epoch[train]))) if train.any() else 0}


def _mean(x: np.ndarray, mask: np.ndarray) -> float | None:
    return float(np.mean(x[mask])) if mask.any() else None


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return float(scale * num / den) if den else None


# ----------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------

def summary_dict(result: RunResult) -> dict:
    """The summary's numbers, machine-readable, in SI units (J, s, bytes; shares in %).

    ``None`` where a figure is undefined (e.g. no test samples). See the module docstring
    for the definitions."""
    r, p = result, result.pricing
    m = r.cost.mapping
    c = np.asarray(r.counts_priced)
    sel = selections(r)
    train, test, train_last = sel["train"], sel["test"], sel["train_last"]
    inf, learn = int(Phase.INFERENCE), int(Phase.LEARNING)

    sops = c[..., SYNOP].sum(axis=(1, 2)) + c[..., SYN_MAC].sum(axis=(1, 2))     # (N,)
    energy = np.asarray(p.sample_energy, dtype=np.float64)
    static = np.asarray(p.sample_static_energy, dtype=np.float64)
    phase_e = sample_phase_energy(r)
    correct = (r.sim.sample_pred == r.sim.sample_label).astype(np.float64)

    e_inf = float(phase_e[train, inf].sum())
    e_learn = float(phase_e[train, learn].sum())
    e_static = float(static[train].sum())
    e_train = e_inf + e_learn + e_static

    nb = test if test.any() else train
    if test.any():
        nb_basis = f"test samples of epoch {sel['test_epoch'] + 1}"
    elif train.any():
        nb_basis = "training samples of all epochs"
    else:
        nb_basis = "none"
    n_nb = int(nb.sum())
    binary = np.asarray(r.sim.layer_binary_input, dtype=bool)
    ci = c[nb, :, inf, :]                                     # (n_nb, L, A)
    spiking = np.array([ls.spiking for ls in r.sim.layers], dtype=bool)   # LIF layers only
    spikes = float(ci[:, spiking, SPIKE].sum())
    steps = float(ci[:, spiking, NEURON_UPDATE_ACTIVE].sum() + ci[:, spiking, NEURON_UPDATE_IDLE].sum())

    total_sops = int(sops.sum())
    return {
        "interrupted": bool(r.sim.interrupted),
        "samples_done": int(len(r.sim.sample_split)),
        "samples_planned": int(r.sim.epochs * (r.sim.train_samples + r.sim.test_samples)),
        "workload": r.sim.workload_name,
        "rule": r.sim.rule,
        "profile": r.cost.profile_name,
        "dataset": r.sim.dataset,
        "time_steps": int(r.sim.time_steps),
        "seed": int(r.sim.seed),
        "sop_energy_kind": p.sop_energy_kind,
        "n_epochs": sel["n_epochs"],
        "test_epoch": sel["test_epoch"],
        "train_epoch": sel["train_epoch"],
        "n_test_samples": int(test.sum()),
        "n_train_samples": int(train.sum()),
        "test_accuracy_pct": _mean(100.0 * correct, test),
        "train_accuracy_pct": _mean(100.0 * correct, train_last),
        "test_sops_per_sample": _mean(sops.astype(np.float64), test),
        "test_energy_per_sample_J": _mean(energy, test),
        "test_latency_per_sample_s": _mean(np.asarray(p.sample_time, dtype=np.float64), test),
        "train_sops_per_sample": _mean(sops.astype(np.float64), train),
        "train_energy_per_sample_J": _mean(energy, train),
        "train_inference_energy_per_sample_J": _mean(phase_e[:, inf], train),
        "train_learning_energy_per_sample_J": _mean(phase_e[:, learn], train),
        "train_static_energy_per_sample_J": _mean(static, train),
        "train_latency_per_sample_s": _mean(np.asarray(p.sample_time, dtype=np.float64), train),
        "total_energy_J": float(p.total_energy),
        "total_sops": total_sops,
        "energy_per_sop_J": _ratio(p.total_energy, total_sops),
        "learning_share_pct": _ratio(e_learn, e_train, 100.0),
        "inference_share_pct": _ratio(e_inf, e_train, 100.0),
        "static_share_pct": _ratio(e_static, e_train, 100.0),
        "assumed_share_pct": float(100.0 * p.assumed_energy_share),
        "learning_memory_bytes": int(r.sim.learning_memory_bytes),
        "footprint_bytes": int(r.sim.footprint_bytes),
        "transposed_copy_bytes": int(r.cost.copy_bytes),
        "nb_basis": nb_basis,
        "nb_effective_acs_per_sample": _ratio(float(ci[:, binary, NB_EFF_OPS].sum()), n_nb),
        "nb_effective_macs_per_sample": _ratio(float(ci[:, ~binary, NB_EFF_OPS].sum()), n_nb),
        "nb_dense_ops_per_sample": _ratio(float(ci[:, :, NB_DENSE_OPS].sum()), n_nb),
        "nb_activation_sparsity": (1.0 - spikes / steps) if steps else None,
        "wall_time_s": float(r.sim.wall_time_s),
        "mapping": (f"{m.cores_used} core(s) on {m.chips_used} chip(s) ({m.cores_per_layer()})"
                    if m is not None else "none (the profile gives no architecture)"),
        "time_model": r.cost.time_model,
        "test_throughput_samples_per_s": r.cost.throughput_test,
        "test_real_time_factor": r.cost.real_time_factor_test,
        "number_format": r.sim.number_format,
        "diverged": diverged(result),
        "notes": list(r.notes),
    }


def diverged(result: RunResult) -> str | None:
    """Why training stopped when its numbers went NaN or inf (the engine's note), else None."""
    if not result.sim.interrupted:
        return None
    return next((n for n in result.notes if n.startswith("training diverged")), None)


def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    if float(x).is_integer() or abs(x) >= 100:
        return f"{x:,.0f}" if abs(x) < 1e15 else f"{x:.4g}"
    return f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} %"


def _bytes(b: int) -> str:
    return f"{b:,} B ({b / 1024:,.1f} KiB)"


def format_summary(result: RunResult) -> str:
    """A compact, aligned plain-text table of :func:`summary_dict` (no colour codes)."""
    d = summary_dict(result)
    te, ne = d["test_epoch"], d["n_epochs"]
    test_hdr = (f"per test sample (epoch {None if te is None else te + 1}, mean of {d['n_test_samples']})"
                if te is not None else "per test sample (no test samples)")
    epochs = f"all {ne} epochs" if ne != 1 else f"epoch {d['train_epoch'] + 1}"
    train_hdr = (f"per training sample ({epochs}, mean of {d['n_train_samples']})"
                 if d["n_train_samples"] else "per training sample (no training samples)")
    shares = ("n/a" if d["learning_share_pct"] is None else
              f"{d['learning_share_pct']:.1f} % / {d['inference_share_pct']:.1f} % / "
              f"{d['static_share_pct']:.1f} %")
    done = f"after {d['samples_done']} of {d['samples_planned']} samples"
    status = ([("status", f"stopped {done}: {d['diverged']}; the figures below cover those")]
              if d["diverged"] else
              [("status", f"interrupted {done}; the figures below cover those")]
              if d["interrupted"] else [])
    status += [("note", n) for n in d["notes"] if n != d["diverged"]]
    sections = [
        ("run", status + [
            ("workload", d["workload"]),
            ("rule", d["rule"]),
            ("profile", f"{d['profile']} (SOP energy: {d['sop_energy_kind']})"),
            ("dataset", d["dataset"]),
            ("time steps T", str(d["time_steps"])),
            ("seed", str(d["seed"])),
        ]),
        ("accuracy", [
            (f"test, epoch {te + 1}" if te is not None else "test", _pct(d["test_accuracy_pct"])),
            (f"train (on-line), epoch {d['train_epoch'] + 1}" if d["train_epoch"] is not None
             else "train", _pct(d["train_accuracy_pct"])),
        ]),
        (test_hdr, [
            ("SOPs (synop + syn_mac)", _num(d["test_sops_per_sample"])),
            ("energy (dynamic + static)", format_si(d["test_energy_per_sample_J"], "J")),
            ("latency (modelled)", format_si(d["test_latency_per_sample_s"], "s")),
        ]),
        (train_hdr, [
            ("SOPs (synop + syn_mac)", _num(d["train_sops_per_sample"])),
            ("energy (dynamic + static)", format_si(d["train_energy_per_sample_J"], "J")),
            ("learning-phase energy", format_si(d["train_learning_energy_per_sample_J"], "J")),
            ("latency (modelled)", format_si(d["train_latency_per_sample_s"], "s")),
        ]),
        ("energy", [
            ("per SOP (run energy / run SOPs)", format_si(d["energy_per_sop_J"], "J")),
            ("learning/inference/static (training)", shares),
            ("on assumed figures (run)", _pct(d["assumed_share_pct"])),
        ]),
        ("chip", [
            ("mapping", d["mapping"]),
            ("time model", d["time_model"]),
            ("throughput (test, modelled)", "n/a" if d["test_throughput_samples_per_s"] is None
             else f"{d['test_throughput_samples_per_s']:.4g} samples/s"),
            ("real-time factor (test: model / recording)", "n/a" if d["test_real_time_factor"] is None
             else f"{d['test_real_time_factor']:.4g}"),
            ("number format", d["number_format"]),
        ]),
        ("memory", [
            ("learning memory (peak)", _bytes(d["learning_memory_bytes"])),
            ("footprint (NeuroBench)", _bytes(d["footprint_bytes"])),
        ] + ([("transposed weight copy (error delivery)", _bytes(d["transposed_copy_bytes"]))]
             if d.get("transposed_copy_bytes") else [])),
        (f"NeuroBench, per sample ({d['nb_basis']}, inference phase)", [
            ("effective ACs", _num(d["nb_effective_acs_per_sample"])),
            ("effective MACs", _num(d["nb_effective_macs_per_sample"])),
            ("dense ops", _num(d["nb_dense_ops_per_sample"])),
            ("activation sparsity (LIF layers)",
             "n/a" if d["nb_activation_sparsity"] is None else f"{d['nb_activation_sparsity']:.4f}"),
        ]),
        ("time", [
            ("wall time", f"{d['wall_time_s']:.2f} s"),
        ]),
    ]
    width = max(len(label) for _, rows in sections for label, _ in rows)
    lines = []
    for header, rows in sections:
        lines.append(header)
        for label, value in rows:
            lines.append(f"  {label:<{width}}  {value}")
    return "\n".join(lines)
