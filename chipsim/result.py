"""What a run produces: the records that flow from the engine to the report.

Plain dataclasses of numpy arrays and strings (no h5py, no YAML here). ``report/h5.py``
writes and reads them; ``hardware/ledger.py`` fills :class:`Pricing`.

Sample axis ``N``: every sample the run processed, in order (training samples of every
epoch, then each epoch's test samples, as the engine ran them). ``L`` layers, phases and
actions as in :mod:`chipsim.counts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SPLIT_TRAIN = 0
SPLIT_TEST = 1


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


@dataclass
class RunResult:
    """Everything one ``chipsim run`` measured."""

    version: str
    seed: int
    rule: str
    workload_name: str
    workload_path: str
    workload_text: str
    profile_name: str
    profile_path: str
    profile_text: str
    dataset: str                        # data set actually used (e.g. "nmnist (embedded 200 samples)")
    time_steps: int
    layer_names: tuple                  # (L,) str
    layer_binary_input: np.ndarray      # (L,) bool: input is spikes (ACs) or graded (MACs)
    layer_neurons: np.ndarray           # (L,) int
    layer_synapses: np.ndarray          # (L,) int
    sample_counts: np.ndarray           # (N, L, P, A) int64
    sample_split: np.ndarray            # (N,) int8: SPLIT_TRAIN / SPLIT_TEST
    sample_epoch: np.ndarray            # (N,) int32
    sample_index: np.ndarray            # (N,) int32, index within its split
    sample_label: np.ndarray            # (N,) int32
    sample_pred: np.ndarray             # (N,) int32
    sample_loss: np.ndarray             # (N,) float64 (sum over t of the per-step loss)
    epoch_train_loss: np.ndarray        # (E,)
    epoch_train_acc: np.ndarray         # (E,)
    epoch_test_loss: np.ndarray         # (E,)
    epoch_test_acc: np.ndarray          # (E,)
    learning_memory_bytes: int          # state held for learning by the rule, peak (bytes)
    footprint_bytes: int                # NeuroBench footprint: parameters and buffers (bytes)
    wall_time_s: float
    pricing: Pricing
    created: str = ""                   # ISO 8601 time stamp
    command: str = ""                   # the command line that produced it
    extra: dict = field(default_factory=dict)   # str -> str|int|float, free-form metadata
    step_counts: np.ndarray | None = None       # (N, T, L, P, A) int64: counts per time step
                                                # (what re-pricing latency on another chip needs)
    input_events: np.ndarray | None = None      # (N, T) int64: input events of each step

    @property
    def counts(self) -> np.ndarray:
        """(L, P, A) totals over the whole run."""
        return self.sample_counts.sum(axis=0)

    def split_mask(self, split: int) -> np.ndarray:
        return self.sample_split == split
