"""How a chip delivers the error to hidden layers, and what that costs beyond the counts.

BPTT, SLTT, OTTT and TBPTT-local carry the error backwards across a weight matrix: the error
of layer l reaches the population it reads through ``W_l^T`` (counted as
``mem_read_weight_transposed``, one read per error MAC; chipsim/kernels/error.py). DFA and
e-prop never do: the output error reaches every hidden layer through a fixed feedback matrix
(``mem_read_feedback``). A profile states its chip's route (``learning.error_delivery.route``,
chipsim/config/profile.py):

- ``transposable``: the synapse memory reads a column in place. Nothing added; the transposed
  read is priced at its own figure, or as a row read.
- ``transposed_copy``: the chip keeps a second, transposed copy of every weight matrix the
  error crosses. A column read is a row read of the copy (priced as ``mem_read_weight``); every
  issued update is applied to both copies, the new value computed once and written into each
  (the learning phase's ``weight_update_issued`` and ``mem_write_weight`` of those layers
  counted twice, by the cost stage: chipsim/counts.py, ``add_copy_updates``); and the copies
  double those layers' weight memory (:func:`copy_bytes`).
- ``readout_only``: only the readout's weights are read for the error (ReckOn keeps its output
  weights presynaptic-major, one word per hidden neuron holding its weights to every output, so
  the learning signal is a row read); the error cannot cross a hidden weight matrix.
- ``none``: no error crosses any weight matrix.

A run whose rule reads a W^T the chip cannot read is refused before it starts (:func:`refuse`);
re-pricing a finished run on such a chip is refused the same way, from its counts.
"""

from __future__ import annotations

import numpy as np

from chipsim.errors import ChipsimError

_WHAT = {"readout_only": "the readout's weights only", "none": "no weight matrix"}


def crossing(layers, through_time: bool = False) -> np.ndarray:
    """(L,) bool: the layers whose error reaches a spiking population (the layer reads a LIF
    layer's output and does not detach it), i.e. would be read through W^T by a rule that
    carries the error backwards; a recurrent layer's W_rec only when the error also goes back
    in time (``through_time``: BPTT's route; the spatial rules detach the recurrence)."""
    return np.array([l.src > 0 and not l.detach and (l.kind != "recurrent" or through_time)
                     for l in layers], dtype=bool)


def _route(profile) -> str:
    return getattr(profile, "error_route", "transposable")


def allowed(profile, layers) -> np.ndarray:
    """(L,) bool: the layers whose W^T the chip can read for the error."""
    route = _route(profile)
    if route in ("transposable", "transposed_copy"):
        return np.ones(len(layers), dtype=bool)
    if route == "readout_only":
        return np.array([l.kind == "readout" for l in layers], dtype=bool)
    return np.zeros(len(layers), dtype=bool)


def refuse(profile, layers, transposed: np.ndarray, rule: str, file: str | None = None) -> None:
    """Raise ChipsimError when ``transposed`` (L,) bool, the layers a run reads through W^T,
    holds a layer the chip cannot read that way."""
    bad = np.asarray(transposed, bool) & ~allowed(profile, layers)
    if not bad.any():
        return
    names = ", ".join(l.name for l, b in zip(layers, bad) if b)
    raise ChipsimError(
        f"rule '{rule}' carries the error back through the transposed weights of {names}, but "
        f"'{profile.name}' reads {_WHAT.get(profile.error_route, profile.error_route)} for the "
        f"error (its learning.error_delivery.route is {profile.error_route}; "
        f"'chipsim profiles {profile.name}' gives the source)",
        file=file, field="rule.name",
        expected="a rule that delivers the error through fixed feedback (dfa, eprop), or none, "
                 "or a network whose error crosses only the weights this chip can read, or "
                 "another profile")


def copy_layers(profile, layers, transposed: np.ndarray) -> np.ndarray:
    """(L,) bool: the layers whose weights a ``transposed_copy`` chip keeps twice (those the run
    reads through W^T); all False on the other routes."""
    if _route(profile) != "transposed_copy":
        return np.zeros(len(layers), dtype=bool)
    return np.asarray(transposed, bool).copy()


def copy_bytes(layers, copies, weight_bits: int) -> int:
    """Bytes of the transposed copies (one weight word per synapse of each copied layer)."""
    n = sum(int(l.synapses) for l, c in zip(layers, np.asarray(copies, bool)) if c)
    return (n * int(weight_bits) + 7) // 8
