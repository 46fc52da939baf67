"""Small builders shared by the kernel and learning tests (no YAML involved)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np

from chipsim.learning import make_trainer
from chipsim.model.inputs import encode_frames
from chipsim.model.network import Network
from chipsim.model.neuron import NeuronParams

PRESETS = {
    # algorithms.md §1: OTTT, SLTT (and its BPTT baseline), TET
    "ottt": dict(leak=0.5, threshold=1.0, reset="soft", detach_reset=True, heaviside_at_zero=1.0,
                 decay_input=False, surrogate="sigmoid", surrogate_alpha=4.0),
    "sltt": dict(leak=1 - 1 / 1.1, threshold=1.0, reset="soft", detach_reset=False,
                 heaviside_at_zero=1.0, decay_input=False, surrogate="triangle", surrogate_alpha=1.0),
    "tet": dict(leak=0.5, threshold=1.0, reset="hard", detach_reset=False, heaviside_at_zero=0.0,
                decay_input=False, surrogate="triangle", surrogate_alpha=1.0),
}


def neuron(preset="ottt", **over):
    spec = dict(PRESETS[preset])
    spec.update(over)
    return NeuronParams.from_spec(NS(**spec)), ref_neuron(spec)


def ref_neuron(spec):
    """The same neuron as the dict tests/reference.py takes."""
    return dict(lam=spec["leak"], theta=spec["threshold"], reset=spec["reset"],
                detach=spec["detach_reset"], h0=int(spec["heaviside_at_zero"]),
                decay_input=spec["decay_input"], sg=spec["surrogate"], alpha=spec["surrogate_alpha"])


def small_problem(seed=0, n_in=30, hidden=(16, 12), C=5, T=6, density=0.3, N=3, gain=4.0,
                  bias=False, binary=True):
    rng = np.random.default_rng(seed)
    if binary:
        frames = (rng.random((N, T, n_in)) < density).astype(np.uint8)
    else:
        frames = rng.integers(0, 4, size=(N, T, n_in)) * (rng.random((N, T, n_in)) < density)
    labels = rng.integers(0, C, size=N)
    net = Network.build_dense(n_in, binary, [(h, bias) for h in hidden], C, bias,
                              np.random.default_rng(seed + 1), gain=gain)
    return frames, labels, net, encode_frames(frames, binary)


def trainer(rule, net, nrn, *, T, B=1, lr=0.5, momentum=0.0, wd=0.0, a=0.05, k=None,
            trace_decay=None, first_layer_input="raw", seed=0, window=None, block=None,
            target_window=None, update_skip=True, bits=None, workers=None):
    """The trainer every test builds (one place to adapt when the constructor changes).

    ``block``: tbptt_local's B_L, as the workload's ``rule.block`` states it; the network's
    auxiliary classifiers come from ``Network.build(..., block=)`` (pass the same value there).
    ``bits``: dict(weight_bits, state_bits, trace_bits) puts the trainer in the chip's
    fixed-point number format (``Trainer.set_number_format``; rounds the net's weights in place).
    ``workers``: threads a batch is split over (default: chipsim.threads.count()).
    """
    tr = make_trainer(rule, net, nrn, NS(kind="ce_mse", mse_weight=a, mse_target="onehot"),
                      NS(lr=lr, momentum=momentum, weight_decay=wd),
                      NS(k=k, trace_decay=trace_decay, first_layer_input=first_layer_input,
                         window=window, block=block, target_window=target_window,
                         update_skip=update_skip),
                      T, B, np.random.default_rng(seed), workers)
    if bits is not None:
        tr.set_number_format(bits)
    return tr


def sgd_steps(before, after, lr):
    """The gradients a plain SGD step applied: ((W - W') / lr per layer, (b - b') / lr)."""
    return ([(a - b) / lr for a, b in zip(before.weights, after.weights)],
            [(a - b) / lr for a, b in zip(before.biases, after.biases)])


def feedback_matrices(tr, net):
    """Every LIF layer's fixed feedback matrix B_l (n_l, classes) from the trainer's Params.fb
    (DFA's, and e-prop's random B), copied."""
    C = net.n_classes
    out, o = [], 0
    for ls in net.lif_layers:
        out.append(tr.params.fb[o:o + ls.n_out * C].reshape(ls.n_out, C).copy())
        o += ls.n_out * C
    return out


def assert_sgd_step(before, after, lr, gW, gb):
    """The plain SGD step from ``before`` to ``after`` applied exactly the gradients (gW, gb)
    of a reference (to 1e-12)."""
    dW, db = sgd_steps(before, after, lr)
    for x, y in zip(dW + db, gW + gb):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    return dW, db

