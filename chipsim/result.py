"""What a run produces: the records that flow from the engine to the report, in one direction.

- :class:`Simulation` is what ran: the hardware-independent output of the engine's
  ``simulate`` stage (counts per sample and per time step, losses, predictions, the layer
  geometry that ran, memory figures, the workload as it was given).
- :class:`Costs` is that simulation on one chip: the output of chipsim/hardware/cost.py
  (the mapping onto cores and chips, the communication it implies, latency and energy).
  Communication (router hops, chip messages) is kept here, apart from the simulation's
  counts, because it depends on where the layers sit.
- :class:`RunResult` is both, with when and how the run was made. ``chipsim price`` makes a
  new RunResult from the same Simulation and another chip's Costs.

Plain dataclasses of numpy arrays and strings (no h5py, no YAML): ``report/h5.py`` writes and
reads them. Sample axis ``N``: every sample the run processed, in order (training samples of
every epoch, then each epoch's test samples, as the engine ran them); ``T`` time steps; ``L``
layers; phases and actions as in :mod:`chipsim.counts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from chipsim import counts as K
from chipsim.model.network import LayerShape

SPLIT_TRAIN = 0
SPLIT_TEST = 1


@dataclass(frozen=True)
class Simulation:
    """Everything the simulation produced; never depends on a chip profile (the chip number
    format, when chosen, is the bit widths ``prepare`` read from the run's profile)."""

    workload_name: str
    workload_path: str
    workload_text: str                  # the workload YAML as given, before overrides
    overrides: tuple                    # ((dotted key, value), ...) from the command line
    rule: str
    dataset: str                        # the data set actually used, described
    dataset_standin: bool               # the emulated CIFAR10-DVS stand-in replaced the data
    skipped_samples: tuple              # recordings left out as unreadable (dataset.skip_bad)
    time_steps: int
    seed: int
    batch_size: int
    epochs: int
    train_samples: int
    test_samples: int
    framing: str                        # 'binary' | 'count'
    dtype: str                          # the simulator's float type
    neuron: str                         # the neuron's parameters, as the kernels took them
    loss: str                           # loss kind
    normalization: str                  # what the workload's normalisation did
    number_format: str                  # floating point, or the chip's fixed-point widths
    layers: tuple                       # (L,) LayerShape: the geometry that ran
    requested_mapping: tuple            # the workload's explicit placement ((layer, (cores...)), ...)
    sample_counts: np.ndarray           # (N, L, P, A) int64; communication actions are 0 here
    step_counts: np.ndarray | None      # (N, T, L, P, A) int64, or None when too large to keep
    step_counts_note: str               # 'kept', or why not
    input_events: np.ndarray            # (N, T) int64: input events of each step
    sample_split: np.ndarray            # (N,) int8: SPLIT_TRAIN / SPLIT_TEST
    sample_epoch: np.ndarray            # (N,) int32
    sample_index: np.ndarray            # (N,) int32, index within its split
    sample_label: np.ndarray            # (N,) int32
    sample_pred: np.ndarray             # (N,) int32
    sample_loss: np.ndarray             # (N,) float64 (sum over t of the per-step loss)
    sample_duration: np.ndarray         # (N,) float64 s: real time the recording spans (NaN: unknown)
    epoch_train_loss: np.ndarray        # (E,)
    epoch_train_acc: np.ndarray         # (E,)
    epoch_test_loss: np.ndarray         # (E,) NaN for an epoch without test
    epoch_test_acc: np.ndarray          # (E,)
    learning_memory_bytes: int          # state held for learning by the rule, peak
    gradient_buffer_bytes: int          # weight-sized accumulators and momentum buffers
    footprint_bytes: int                # NeuroBench footprint: parameters and neuron state
    wall_time_s: float
    interrupted: bool                   # Ctrl-C or SIGTERM: the samples that finished are kept
    weights: tuple | None = None        # the final weights and biases ((W, b) per layer);
                                        #   written to the results file up to a size limit
                                        #   (report/h5.py WEIGHTS_MAX_BYTES)
    neurons: tuple | None = None        # every LIF layer's neurons as they ran: dict(lam, theta,
                                        #   cin, vr: float64 per neuron in chipsim's order;
                                        #   soft, h0: the layer's reset and H(0)); kept with
                                        #   the weights
    readout_li: tuple | None = None     # an LI readout's (lam, cin) per output; None: linear

    @property
    def layer_names(self) -> tuple:
        return tuple(ls.name for ls in self.layers)

    @property
    def layer_binary_input(self) -> np.ndarray:
        return np.array([ls.binary_input for ls in self.layers], np.bool_)

    @property
    def layer_neurons(self) -> np.ndarray:
        return np.array([ls.n_out for ls in self.layers], np.int64)

    @property
    def layer_synapses(self) -> np.ndarray:
        return np.array([ls.synapses for ls in self.layers], np.int64)

    def split_mask(self, split: int) -> np.ndarray:
        return self.sample_split == split


@dataclass(frozen=True)
class LayerPlacement:
    name: str
    segments: tuple              # ((core, neurons), ...): the cores holding this layer's neurons
    neurons: int
    stored_weights: int          # weight words this layer stores (over all its cores)
    hops_per_spike: int          # router hops of one spike of this layer's *input* population
    chip_msgs_per_spike: int     # chip-to-chip messages of one such spike
    max_route: int               # longest X-Y path (hops) of such a spike

    @property
    def cores(self) -> int:
        return len(self.segments)

    @property
    def first_core(self) -> int:
        return self.segments[0][0]


@dataclass(frozen=True)
class Mapping:
    """Layers placed on a chip's cores (chipsim/hardware/mapping.py)."""

    profile: str
    layers: tuple                # LayerPlacement per weight layer, network order
    cores_used: int              # cores that hold neurons
    chips_used: int
    cores_per_chip: int
    neuron_utilisation: float    # neurons placed / neuron capacity of the cores used
    synapse_utilisation: float   # stored weights / synapse capacity of the cores used
    core_ids: tuple = ()         # the cores that hold neurons (an explicit mapping may skip some)

    def share(self) -> np.ndarray:
        """(L, cores): the fraction of layer l's neurons (and work) on each core index."""
        n = max((c for p in self.layers for c, _ in p.segments), default=-1) + 1
        f = np.zeros((len(self.layers), n))
        for i, p in enumerate(self.layers):
            for core, k in p.segments:
                f[i, core] = k / p.neurons
        return f

    def cores_per_layer(self) -> str:
        return " ".join(f"{p.name}:{p.cores}" for p in self.layers)


@dataclass
class Pricing:
    """Counts priced against one hardware profile (all SI: J, s, W)."""

    profile_name: str
    sop_energy_kind: str                # 'incremental' | 'global_at_operating_point'
    energy_per_action: np.ndarray       # (A,) J per action; 0 where not priced
    time_per_action: np.ndarray         # (A,) s per action (simple serial time model)
    included_in_sop: np.ndarray         # (A,) bool: cost already inside an all-in SOP figure
    assumed: np.ndarray                 # (A,) bool: priced by an `assumed` profile figure
    static_power: float                 # W; 0 when the SOP figure is an all-in average
    static_assumed: bool
    sources: dict                       # action name -> "value; source; provenance"
    energy: np.ndarray                  # (L, P, A) J, dynamic energy over the whole run
    sample_dynamic_energy: np.ndarray   # (N,) J
    sample_static_energy: np.ndarray    # (N,) J
    sample_time: np.ndarray             # (N,) s modelled time
    assumed_energy_share: float         # fraction of total energy priced by assumed figures

    @property
    def sample_energy(self) -> np.ndarray:
        return self.sample_dynamic_energy + self.sample_static_energy

    @property
    def total_energy(self) -> float:
        return float(self.sample_energy.sum())


@dataclass(frozen=True)
class Costs:
    """A simulation on one chip (chipsim/hardware/cost.py)."""

    profile_name: str
    profile_path: str
    profile_text: str                   # the profile YAML as read
    mapping: Mapping | None             # None: the profile publishes no core architecture
    time_model: str                     # how latency was modelled, and why
    router_hops: np.ndarray             # (N, T, L) int64: spike packets x router hops, counted on
                                        #   the layer that reads the spikes
    chip_messages: np.ndarray           # (N, T, L) int64: chip-to-chip messages, likewise
    pricing: Pricing
    step_latency_train: np.ndarray      # (T,) s: mean over training samples (empty: no cycle model)
    step_latency_test: np.ndarray       # (T,) s
    throughput_train: float | None      # samples/s, modelled
    throughput_test: float | None
    real_time_factor_train: float | None   # modelled time / recording span
    real_time_factor_test: float | None
    communication_note: str = "counted on this chip's mapping"
    repriced_from: str = ""             # the profile of the run this was re-priced from
    spike_messages: np.ndarray | None = None   # (N, T, L) int64: spike messages, one per
                                        #   (spike, destination core), counted on the layer that
                                        #   reads them; each is also received once; None: not
                                        #   counted (files of chipsim 0.2.0)
    transposed_copy: np.ndarray | None = None   # (L,) bool: layers whose weights the chip keeps
                                        #   a transposed copy of (error_delivery transposed_copy):
                                        #   their learning-phase weight updates issued and weight
                                        #   writes are counted twice
    copy_bytes: int = 0                 # bytes of those copies, in the chip's weight width


@dataclass(frozen=True)
class RunResult:
    """Everything one ``chipsim run`` (or ``chipsim price``) measured."""

    version: str
    created: str                        # ISO 8601 time stamp
    command: str                        # the command line that produced it
    sim: Simulation
    cost: Costs
    missing_actions: tuple = ()         # actions this chipsim knows that the file lacked (zeros)
    dropped_actions: tuple = ()         # actions in the file this chipsim does not know
    notes: tuple = ()                   # what reading an older file had to assume

    @cached_property
    def counts_priced(self) -> np.ndarray:
        """(N, L, P, A): the simulation's counts with the chip's communication added (router
        hops and chip messages in the inference phase), as the ledger priced them."""
        c = self.sim.sample_counts.copy()
        c[:, :, K.INFER, K.ROUTER_HOP] += self.cost.router_hops.sum(axis=1)
        c[:, :, K.INFER, K.CHIP_MESSAGE] += self.cost.chip_messages.sum(axis=1)
        if self.cost.spike_messages is not None:
            m = self.cost.spike_messages.sum(axis=1)
            c[:, :, K.INFER, K.SPIKE_MESSAGE] += m
            c[:, :, K.INFER, K.MESSAGE_RECEIVE] += m
        return K.add_copy_updates(c, self.cost.transposed_copy)

    @cached_property
    def step_counts_priced(self) -> np.ndarray | None:
        """(N, T, L, P, A): per step, as :attr:`counts_priced` (None when not kept)."""
        if self.sim.step_counts is None:
            return None
        c = self.sim.step_counts.copy()
        c[..., K.INFER, K.ROUTER_HOP] += self.cost.router_hops
        c[..., K.INFER, K.CHIP_MESSAGE] += self.cost.chip_messages
        if self.cost.spike_messages is not None:
            c[..., K.INFER, K.SPIKE_MESSAGE] += self.cost.spike_messages
            c[..., K.INFER, K.MESSAGE_RECEIVE] += self.cost.spike_messages
        return K.add_copy_updates(c, self.cost.transposed_copy)

    @property
    def pricing(self) -> Pricing:
        return self.cost.pricing
