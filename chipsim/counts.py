"""The closed vocabulary of actions and the counts container.

Counts are exact integers, incremented by the kernels where the work is done. They are
hardware-independent facts about what ran: a profile prices them later (hardware/ledger.py).

Layout of a counts array: ``(..., n_layers, N_PHASES, N_ACTIONS)`` int64, where the leading
axes (if any) are samples or time steps. ``Phase.INFERENCE`` holds the forward pass (what an
inference-only chip would also execute); ``Phase.LEARNING`` holds everything done only
because the network learns (traces, surrogate evaluations, error propagation, weight-gradient
work, weight updates, the memory traffic of each).

Kernels import the module-level integer constants (``SYNOP`` …) so that Numba sees them as
compile-time constants.

:data:`ACTION_INFO` says what one count of each action is (the field reference of a profile's
``actions`` is generated from it), the group the energy plots draw it in, and, for some
actions, a documented default price: an ``assumed`` energy and time with their reason and
source, used when a hardware profile omits the action (chipsim/config/profile.py); a profile
that gives its own figure overrides it. A new action is one member of :class:`Action`, its
constant below, its :data:`ACTION_INFO` entry (description and group) and, if no profile
should have to change for it, a default price.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Phase(IntEnum):
    INFERENCE = 0
    LEARNING = 1


class Action(IntEnum):
    # --- forward (inference) work -------------------------------------------------------
    SYNOP = 0                  # accumulate one weight into a membrane on a binary input spike (AC)
    SYN_MAC = 1                # multiply-accumulate of one weight by a graded (non-binary) input
    NEURON_UPDATE_ACTIVE = 2   # neuron update in a step where the neuron received input
    NEURON_UPDATE_IDLE = 3     # neuron update (leak only) in a step with no input to that neuron
    SPIKE = 4                  # spike emitted
    # --- learning work ------------------------------------------------------------------
    TRACE_UPDATE = 5           # presynaptic eligibility-trace update a <- lambda*a + s
    SURROGATE_EVAL = 6         # one surrogate-derivative evaluation sigma'(u - theta)
    OUTPUT_ERROR = 7           # one output unit's loss-gradient evaluation dL[t]/do[t]
    ERROR_MAC = 8              # one multiply-accumulate of backward error through a weight (W^T g)
    TEMPORAL_MAC = 9           # one neuron's temporal-route recursion step (BPTT: lambda*delta[t+1])
    GRAD_AC = 10               # weight-gradient contribution with a binary presynaptic factor
    GRAD_MAC = 11              # weight-gradient contribution with a real presynaptic factor (trace)
    WEIGHT_UPDATE_ISSUED = 12  # weight read-modify-write applied (its Delta W was non-zero)
    WEIGHT_UPDATE_SKIPPED = 13 # weight update not issued because a factor of Delta W was zero
    # --- memory traffic, one access = one word of the memory's width ---------------------
    MEM_READ_WEIGHT = 14
    MEM_WRITE_WEIGHT = 15
    MEM_READ_STATE = 16        # neuron state (membrane potential; readout accumulators)
    MEM_WRITE_STATE = 17
    MEM_READ_TRACE = 18
    MEM_WRITE_TRACE = 19
    MEM_READ_GRAD = 20         # gradient accumulator and optimiser (momentum) buffers
    MEM_WRITE_GRAD = 21
    MEM_READ_HIST = 22         # activations kept for the backward pass (BPTT: u[t], s[t] for all t)
    MEM_WRITE_HIST = 23
    # --- NeuroBench metrics (counted, never priced) ----------------------------------------
    NB_EFF_OPS = 24            # non-zero input x non-zero weight pairs (NeuroBench effective ops)
    NB_DENSE_OPS = 25          # every input x every weight (NeuroBench dense ops)
    # --- communication, counted from the mapping of layers onto cores and chips --------------
    ROUTER_HOP = 26            # one spike packet crossing one router hop of the on-chip mesh
    CHIP_MESSAGE = 27          # one spike packet sent from one chip to another
    SPIKE_MESSAGE = 28         # one spike message sent to one destination core (axon out)
    MESSAGE_RECEIVE = 29       # one spike message taken in by its destination core (axon in)
    # --- current-based neurons ------------------------------------------------------------
    SYN_CURRENT_UPDATE = 30    # one synaptic-current update i <- alpha*i + I of a CubaLIF neuron
    # --- error delivery -------------------------------------------------------------------
    MEM_READ_FEEDBACK = 31     # one word of a fixed feedback matrix read (DFA's B, e-prop's B)
    MEM_READ_WEIGHT_TRANSPOSED = 32  # one weight word read for the error pass through W^T


N_ACTIONS = len(Action)
N_PHASES = len(Phase)
ACTION_NAMES = tuple(a.name.lower() for a in Action)
PHASE_NAMES = tuple(p.name.lower() for p in Phase)
#: Actions a hardware profile must price (the NeuroBench metrics are not chip work).
PRICED_ACTIONS = tuple(a for a in Action if not a.name.startswith("NB_"))


@dataclass(frozen=True)
class DefaultPrice:
    """A documented price for an action a profile may leave out: always ``assumed``, with the
    reason and the source of the assumption. SI values (J, s), as everywhere in the code."""

    energy: float           # J per count
    time: float             # s per count
    source: str
    reason: str


@dataclass(frozen=True)
class ActionInfo:
    """What one count of an action is, the group it is drawn in (the energy plots stack
    groups), and its default price (None: every profile prices it)."""

    description: str
    group: str
    default: DefaultPrice | None = None
    #: a profile that leaves the action out prices it as this other action of its own (an
    #: assumed figure that says so); None: no such rule
    priced_as: str | None = None


#: One entry per action, in the order of :class:`Action`.
ACTION_INFO: dict[Action, ActionInfo] = {
    Action.SYNOP: ActionInfo(
        "accumulate one weight into a membrane on a binary input spike (AC)", "synaptic ops"),
    Action.SYN_MAC: ActionInfo(
        "multiply-accumulate of one weight by a graded (non-binary) input", "synaptic ops"),
    Action.NEURON_UPDATE_ACTIVE: ActionInfo(
        "one neuron update in a time step where the neuron received input", "neuron updates"),
    Action.NEURON_UPDATE_IDLE: ActionInfo(
        "one neuron update (leak only) in a time step with no input to that neuron",
        "neuron updates"),
    Action.SPIKE: ActionInfo("one spike emitted", "spikes"),
    Action.TRACE_UPDATE: ActionInfo(
        "one presynaptic eligibility-trace update a <- lambda*a + s", "learn: traces"),
    Action.SURROGATE_EVAL: ActionInfo(
        "one surrogate-derivative evaluation sigma'(u - theta)", "learn: surrogate"),
    Action.OUTPUT_ERROR: ActionInfo(
        "one output unit's loss-gradient evaluation dL[t]/do[t]", "learn: error"),
    Action.ERROR_MAC: ActionInfo(
        "one multiply-accumulate of backward error through a weight (W^T g)", "learn: error"),
    Action.TEMPORAL_MAC: ActionInfo(
        "one neuron's temporal-route recursion step (BPTT: lambda*delta[t+1])", "learn: temporal"),
    Action.GRAD_AC: ActionInfo(
        "one weight-gradient contribution with a binary presynaptic factor", "learn: gradient"),
    Action.GRAD_MAC: ActionInfo(
        "one weight-gradient contribution with a real presynaptic factor (a trace)",
        "learn: gradient"),
    Action.WEIGHT_UPDATE_ISSUED: ActionInfo(
        "one weight read-modify-write applied (its Delta W was non-zero)", "weight updates"),
    Action.WEIGHT_UPDATE_SKIPPED: ActionInfo(
        "one weight update not issued because a factor of its Delta W was zero", "weight updates",
        DefaultPrice(0.0, 0.0, source="chipsim team (the price every shipped profile gives)",
                     reason="an update whose factor is zero is skipped by one zero test per row "
                            "or column of the weight matrix: negligible per synapse")),
    Action.MEM_READ_WEIGHT: ActionInfo("one weight word read", "mem: weights"),
    Action.MEM_WRITE_WEIGHT: ActionInfo("one weight word written", "mem: weights"),
    Action.MEM_READ_STATE: ActionInfo(
        "one neuron-state word read (membrane potential; readout accumulators)",
        "mem: neuron state"),
    Action.MEM_WRITE_STATE: ActionInfo("one neuron-state word written", "mem: neuron state"),
    Action.MEM_READ_TRACE: ActionInfo("one trace word read", "mem: traces"),
    Action.MEM_WRITE_TRACE: ActionInfo("one trace word written", "mem: traces"),
    Action.MEM_READ_GRAD: ActionInfo(
        "one gradient-accumulator or optimiser (momentum) word read", "mem: gradients"),
    Action.MEM_WRITE_GRAD: ActionInfo(
        "one gradient-accumulator or optimiser (momentum) word written", "mem: gradients"),
    Action.MEM_READ_HIST: ActionInfo(
        "one word of the activations kept for the backward pass read (BPTT: u[t], s[t])",
        "mem: history"),
    Action.MEM_WRITE_HIST: ActionInfo(
        "one word of the activations kept for the backward pass written", "mem: history"),
    Action.NB_EFF_OPS: ActionInfo(
        "NeuroBench effective operations: non-zero input x non-zero weight pairs (counted, "
        "never priced)", "NeuroBench"),
    Action.NB_DENSE_OPS: ActionInfo(
        "NeuroBench dense operations: every input x every weight (counted, never priced)",
        "NeuroBench"),
    Action.ROUTER_HOP: ActionInfo(
        "one spike packet crossing one router hop of the on-chip mesh (counted from the mapping)",
        "routing"),
    Action.CHIP_MESSAGE: ActionInfo(
        "one spike packet sent from one chip to another (counted from the mapping)", "routing",
        DefaultPrice(832e-12, 1e-6,
                     source="TrueNorth's chip-to-chip 26 pJ/bit (P. Merolla et al., Science "
                            "345(6197):668-673, 2014, Suppl. S5) x one 32-bit spike message; "
                            "time: chipsim team",
                     reason="a chip's inter-chip link energy is rarely published; TrueNorth's "
                            "is the one published per-bit figure of a neuromorphic chip's link "
                            "(most shipped profiles borrow it); 1 us per off-chip message is a "
                            "guess")),
    Action.SPIKE_MESSAGE: ActionInfo(
        "one spike message sent to one destination core that holds neurons reading the spike "
        "(a spike read on n cores sends n; the network input's events included; counted from "
        "the mapping, on the layer that reads them, and timed on the sending core)", "routing",
        DefaultPrice(0.0, 0.0, source="chipsim team",
                     reason="a profile without message figures prices a spike's messages inside "
                            "its spike action (one message per spike), as chipsim did before "
                            "messages were counted")),
    Action.MESSAGE_RECEIVE: ActionInfo(
        "one spike message taken in by its destination core (timed on the receiving core; "
        "counted from the mapping, on the layer that reads it)", "routing",
        DefaultPrice(0.0, 0.0, source="chipsim team",
                     reason="receiving a message is priced inside the synaptic operations it "
                            "starts unless the profile gives it (e.g. Loihi's axon-in time)")),
    Action.SYN_CURRENT_UPDATE: ActionInfo(
        "one synaptic-current update i <- alpha*i + I of a current-based (CubaLIF) neuron, in "
        "every step, apart from its membrane update", "neuron updates",
        DefaultPrice(0.0, 0.0, source="chipsim team",
                     reason="inside the neuron update on a chip whose neurons are current-based "
                            "(Loihi's compartment: SANA-FE's soma update covers current and "
                            "voltage); a profile of a chip that does it apart gives its price")),
    Action.MEM_READ_FEEDBACK: ActionInfo(
        "one word of a fixed random feedback matrix read to deliver the output error to a hidden "
        "layer (DFA's B_l; counted apart from the forward weights' reads)", "mem: weights",
        priced_as="mem_read_weight"),
    Action.MEM_READ_WEIGHT_TRANSPOSED: ActionInfo(
        "one weight word read to carry the error backwards through the forward weights (W^T g: "
        "a column of synapse memory laid out row-wise for the forward pass; counted apart from "
        "the forward reads, one per error MAC through a weight)", "mem: weights",
        priced_as="mem_read_weight"),
}

# Module-level constants for the kernels (Numba treats globals as compile-time constants).
INFER = int(Phase.INFERENCE)
LEARN = int(Phase.LEARNING)
SYNOP = int(Action.SYNOP)
SYN_MAC = int(Action.SYN_MAC)
NEURON_UPDATE_ACTIVE = int(Action.NEURON_UPDATE_ACTIVE)
NEURON_UPDATE_IDLE = int(Action.NEURON_UPDATE_IDLE)
SPIKE = int(Action.SPIKE)
TRACE_UPDATE = int(Action.TRACE_UPDATE)
SURROGATE_EVAL = int(Action.SURROGATE_EVAL)
OUTPUT_ERROR = int(Action.OUTPUT_ERROR)
ERROR_MAC = int(Action.ERROR_MAC)
TEMPORAL_MAC = int(Action.TEMPORAL_MAC)
GRAD_AC = int(Action.GRAD_AC)
GRAD_MAC = int(Action.GRAD_MAC)
WEIGHT_UPDATE_ISSUED = int(Action.WEIGHT_UPDATE_ISSUED)
WEIGHT_UPDATE_SKIPPED = int(Action.WEIGHT_UPDATE_SKIPPED)
MEM_READ_WEIGHT = int(Action.MEM_READ_WEIGHT)
MEM_WRITE_WEIGHT = int(Action.MEM_WRITE_WEIGHT)
MEM_READ_STATE = int(Action.MEM_READ_STATE)
MEM_WRITE_STATE = int(Action.MEM_WRITE_STATE)
MEM_READ_TRACE = int(Action.MEM_READ_TRACE)
MEM_WRITE_TRACE = int(Action.MEM_WRITE_TRACE)
MEM_READ_GRAD = int(Action.MEM_READ_GRAD)
MEM_WRITE_GRAD = int(Action.MEM_WRITE_GRAD)
MEM_READ_HIST = int(Action.MEM_READ_HIST)
MEM_WRITE_HIST = int(Action.MEM_WRITE_HIST)
NB_EFF_OPS = int(Action.NB_EFF_OPS)
NB_DENSE_OPS = int(Action.NB_DENSE_OPS)
ROUTER_HOP = int(Action.ROUTER_HOP)
SPIKE_MESSAGE = int(Action.SPIKE_MESSAGE)
MESSAGE_RECEIVE = int(Action.MESSAGE_RECEIVE)
SYN_CURRENT_UPDATE = int(Action.SYN_CURRENT_UPDATE)
MEM_READ_FEEDBACK = int(Action.MEM_READ_FEEDBACK)
MEM_READ_WEIGHT_TRANSPOSED = int(Action.MEM_READ_WEIGHT_TRANSPOSED)
CHIP_MESSAGE = int(Action.CHIP_MESSAGE)


#: the learning-phase actions a chip repeats on a transposed copy of its weights (every issued
#: update is applied, and written, in both copies; chipsim/hardware/delivery.py)
COPY_ACTIONS = (WEIGHT_UPDATE_ISSUED, MEM_WRITE_WEIGHT)


def add_copy_updates(counts: np.ndarray, copies) -> np.ndarray:
    """``counts`` (..., L, P, A) with a transposed copy's updates added, in place: the layers
    of ``copies`` ((L,) bool, or None: none) have their learning-phase COPY_ACTIONS doubled."""
    if copies is not None and np.any(copies):
        m = np.asarray(copies, bool)
        for a in COPY_ACTIONS:
            counts[..., m, LEARN, a] *= 2
    return counts


def zeros(n_layers: int, *lead: int) -> np.ndarray:
    """A zeroed counts array of shape ``(*lead, n_layers, N_PHASES, N_ACTIONS)``."""
    return np.zeros((*lead, n_layers, N_PHASES, N_ACTIONS), dtype=np.int64)
