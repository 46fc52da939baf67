"""Workload description: data set, network, neuron, learning rule, loss and training settings.

``load_workload(path, overrides)`` reads a workload YAML (see ``workloads/nmnist.yaml`` for a
commented example), applies command-line overrides (dotted key -> YAML literal, e.g.
``{'training.epochs': '1', 'rule.name': 'sltt'}``) and validates everything. The result is a
frozen :class:`Workload`; the engine consumes exactly these field names.

Every mistake (unknown or missing field, wrong type, value out of range, a rule-specific field
given to another rule, ``rule.k`` larger than ``dataset.time_steps``, a layer field that does not
belong to the layer's kind, a conv layer after a dense one, a kernel larger than its input map,
a ``dataset.size`` or ``dataset.downscale`` the data set's frames cannot take, malformed YAML) is
one :class:`~chipsim.errors.ChipsimError` naming the file, the dotted field and
what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from chipsim.config.yamlio import Section, apply_overrides, load_yaml, parse_yaml_text
# The data sets, their sensors and the side of their frames come from the data-set registry;
# they are used here to check that the network's conv/pool layers fit the input.
from chipsim.data.registry import DATASETS, SENSORS, input_side
from chipsim.errors import ChipsimError

RULES = ("bptt", "sltt", "ottt_a", "ottt_o", "tbptt_local")
OTTT_RULES = ("ottt_a", "ottt_o")

# Layer kinds of network.hidden and the fields each takes (besides 'kind').
LIF_KINDS = ("conv", "dense")                 # the layers that hold LIF neurons and weights
LAYER_KINDS = ("dense", "conv", "avgpool", "maxpool", "flatten", "dropout")
LAYER_REQUIRED: dict[str, tuple[str, ...]] = {
    "dense": ("units",), "conv": ("channels", "kernel"), "avgpool": ("size",),
    "maxpool": ("size",), "flatten": (), "dropout": ("p",)}
LAYER_OPTIONAL: dict[str, tuple[str, ...]] = {
    "dense": ("bias",), "conv": ("stride", "padding", "bias"), "avgpool": (), "maxpool": (),
    "flatten": (), "dropout": ()}

# network.normalization (algorithms.md §3.2 quirk 2, line 134; §4.3, line 213):
#   none      the weights are used as they are.
#   ws_folded OTTT's scaled weight standardisation, W_hat = (W - mean) / sqrt(var * fan_in + 1e-4)
#             per output channel (ScaledWSConv2d, gain 1), and its fixed x2.74 scale on every
#             neuron's output (Scale(2.74)), folded into the effective weights ONCE at
#             initialisation; the chip then learns the effective weights directly (the code's
#             update through the standardisation Jacobian is not local, so it is not simulated).
#   bn_folded SLTT's per-step batch normalisation, which a chip cannot run while learning:
#             folded as the identity at initialisation (gamma = 1, beta = 0), i.e. not simulated;
#             results must say so.
NORMALIZATIONS = ("none", "ws_folded", "bn_folded")

# loss.kind: 'ce_mse' = ((1 - a) CE(o[t], y) + a MSE(o[t], target)) / T per step (OTTT, SLTT;
# §3.1 lines 94-98); 'tet' = (1 - lam) (1/T) sum_t CE(o[t], y) + lam (1/T) sum_t MSE(o[t], phi)
# with lam = tet_lambda (default 1e-3) and phi = tet_phi (default 1.0), as TET's official code
# (main_training_parallel.py:71, functions.py:39-51; §5.1 lines 242-251).
LOSSES = ("ce_mse", "tet")

# rule 'tbptt_local' (Guo et al., Front. Neurosci. 2023). The paper body could not be read; this
# is the working definition of algorithms.md §6.2 (lines 300-302), marked there as ours:
#   window = T_L: BPTT inside consecutive windows of T_L steps; the neuron state is carried into
#            the next window but detached; one loss and one weight update per window.
#   block  = B_L: the conv/dense (LIF) layers are grouped into consecutive blocks of B_L; every
#            block but the last has an auxiliary classifier (global average pooling over space,
#            then a linear layer to the classes) and its own local loss; the input to the next
#            block is detached. The last block ends in the network's readout.

# ----------------------------------------------------------------------------------------
# neuron presets: each paper's LIF neuron as its official code runs it.
# Source: docs/reference/algorithms.md §1 (table at lines 36-45, code evidence 48-50).
# ----------------------------------------------------------------------------------------
NEURON_PRESETS: dict[str, dict] = {
    # OTTT (pkuxmq/OTTT-SNN c15d5da): modules/neuron.py:63-65 defaults tau=2 (lambda = 1-1/2 =
    # 0.5), decay_input=False, v_threshold=1, v_reset=None (soft), detach_reset=True;
    # surrogate.py:46 fires on x >= 0 (H(0)=1); train_cifar10dvs.py:73 Sigmoid(alpha=4).
    "ottt": dict(leak=0.5, threshold=1.0, reset="soft", detach_reset=True,
                 heaviside_at_zero=1.0, decay_input=False, surrogate="sigmoid",
                 surrogate_alpha=4.0),
    # SLTT (qymeng94/SLTT 0758ecd): train_SLTT.py:37 tau=1.1 (lambda = 1-1/1.1 ~ 0.0909),
    # modules/neuron.py:5-26 decay_input=False, v_reset=None (soft), detach_reset=False;
    # SpikingJelly heaviside x >= 0 (H(0)=1); train_SLTT.py:44,175-182 'triangle' =
    # PiecewiseQuadratic(alpha=1) = max(0, 1-|x|).
    "sltt": dict(leak=1.0 - 1.0 / 1.1, threshold=1.0, reset="soft", detach_reset=False,
                 heaviside_at_zero=1.0, decay_input=False, surrogate="triangle",
                 surrogate_alpha=1.0),
    # TET (Gus-Lab/temporal_efficient_training f9bde41): models/layers.py:87-107 LIFSpike
    # (thresh=1, tau=0.5 which is lambda), mem = mem*tau + x (102), spike = mem - thresh > 0
    # (H(0)=0, 103), hard reset mem = (1-spike)*mem not detached (105); ZIF gamma=1 at :82 =
    # max(0, 1-|x|).
    "tet": dict(leak=0.5, threshold=1.0, reset="hard", detach_reset=False,
                heaviside_at_zero=0.0, decay_input=False, surrogate="triangle",
                surrogate_alpha=1.0),
}

NEURON_FIELDS = ("leak", "threshold", "reset", "detach_reset", "heaviside_at_zero",
                 "decay_input", "surrogate", "surrogate_alpha")

# Known fields of every section (also the schema for overrides).
_TOP = ("name", "description", "dataset", "network", "neuron", "rule", "loss", "training",
        "mapping")
_DATASET = ("name", "root", "time_steps", "framing", "downscale", "size", "train_samples",
            "test_samples", "cache", "skip_bad")
_NETWORK = ("hidden", "readout_bias", "normalization")
_LAYER = ("kind", "units", "channels", "kernel", "stride", "padding", "size", "p", "bias")
_NEURON = ("preset",) + NEURON_FIELDS
_RULE = ("name", "k", "trace_decay", "first_layer_input", "window", "block", "target_window",
         "update_skip")
_LOSS = ("kind", "mse_weight", "mse_target", "tet_lambda", "tet_phi")
_TRAINING = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "seed",
             "dtype", "init", "init_gain", "number_format")

OVERRIDE_SCHEMA = {
    "name": None,
    "description": None,
    "dataset": dict.fromkeys(_DATASET),
    "network": {"hidden": [dict.fromkeys(_LAYER)], "readout_bias": None, "normalization": None},
    "neuron": dict.fromkeys(_NEURON),
    "rule": dict.fromkeys(_RULE),
    "loss": dict.fromkeys(_LOSS),
    "training": dict.fromkeys(_TRAINING),
    "mapping": None,
}


# ----------------------------------------------------------------------------------------
# the dataclasses
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    name: str                       # 'nmnist' | 'cifar10dvs' | 'dvsgesture' | 'shd'
    root: str | None                # None: the embedded real samples shipped with chipsim
    time_steps: int                 # T >= 1
    framing: str                    # 'binary' | 'count'
    downscale: int                  # spatial pooling factor >= 1
    train_samples: int | None       # None: all
    test_samples: int | None        # None: all
    size: int | None = None         # downscale to size x size (e.g. 48); None: use `downscale`
    cache: bool = True              # keep framed data sets in the frame cache (data/cache.py)
    skip_bad: bool = False          # leave unreadable recordings out (listed in the results)


@dataclass(frozen=True)
class LayerSpec:
    """One op of ``network.hidden``. Fields that do not apply to ``kind`` keep their defaults
    (None for the sizes); a layer read from YAML never carries a field of another kind."""

    kind: str                       # 'dense' | 'conv' | 'avgpool' | 'maxpool' | 'flatten' | 'dropout'
    units: int | None = None        # dense: number of LIF neurons >= 1
    bias: bool = False              # dense, conv: a bias on the LIF layer's input current
    channels: int | None = None     # conv: output channels >= 1 (input channels are inferred)
    kernel: int | None = None       # conv: square kernel side >= 1
    stride: int = 1                 # conv: >= 1
    padding: int = 0                # conv: zero padding, 0 <= padding <= kernel // 2
    size: int | None = None         # avgpool, maxpool: kernel = stride = size >= 1
    p: float | None = None          # dropout: drop probability in [0, 1), one mask per sample

    @property
    def is_lif(self) -> bool:
        """True for the layers that hold LIF neurons and learned weights (conv, dense)."""
        return self.kind in LIF_KINDS


@dataclass(frozen=True)
class NetworkSpec:
    hidden: tuple                   # tuple[LayerSpec, ...], ops in order, input side first
    readout_bias: bool              # bias of the non-spiking linear readout (appended)
    normalization: str = "none"     # 'none' | 'ws_folded' | 'bn_folded'

    @property
    def lif_layers(self) -> int:
        """Number of LIF (conv and dense) layers in ``hidden``, the readout not counted."""
        return sum(1 for ls in self.hidden if ls.is_lif)


@dataclass(frozen=True)
class NeuronSpec:
    preset: str | None
    leak: float                     # lambda in [0, 1]
    threshold: float                # theta > 0
    reset: str                      # 'soft' | 'hard'
    detach_reset: bool
    heaviside_at_zero: float        # H(0): 0.0 or 1.0
    decay_input: bool               # u = lam*v + (1-lam)*I when true
    surrogate: str                  # 'sigmoid' | 'triangle'
    surrogate_alpha: float          # > 0


@dataclass(frozen=True)
class RuleSpec:
    name: str                       # 'bptt' | 'sltt' | 'ottt_a' | 'ottt_o' | 'tbptt_local'
    k: int | None = None            # sltt only: backward at K random steps (1 <= K <= T)
    trace_decay: float | None = None  # ottt_* only; None means neuron.leak
    first_layer_input: str = "raw"  # ottt_*: 'raw' (official code) | 'trace' (paper formula)
    window: int | None = None       # tbptt_local only: T_L in [1, T]; resolved (default T)
    block: int | None = None        # tbptt_local only: B_L LIF layers per block, in [1, number
                                    #   of conv/dense layers]; resolved (default: all of them)
    target_window: int | None = None  # sltt/ottt_*: learn only in a random window of this many
                                    #   consecutive steps per sample (ANP-I's target-window
                                    #   selection, hardware.md §1.3); None = every step
    update_skip: bool = True        # a weight update whose Delta W is zero is skipped (ANP-I's
                                    #   hierarchical update skip); false: the chip performs the
                                    #   read-modify-write anyway (counted as issued)


@dataclass(frozen=True)
class LossSpec:
    kind: str = "ce_mse"            # 'ce_mse': ((1-a) CE + a MSE(o, target)) / T per step
                                    # 'tet': (1-lam) mean_t CE + lam mean_t MSE(o, phi)
    mse_weight: float | None = 0.05   # ce_mse: a in [0, 1]; None for tet
    mse_target: object = "onehot"   # ce_mse: 'onehot' or a float constant; None for tet
    tet_lambda: float | None = None   # tet: lam in [0, 1] (default 1e-3); None for ce_mse
    tet_phi: float | None = None      # tet: phi, the constant MSE target (default 1.0)

    @property
    def mse_mix(self) -> tuple:
        """``(weight, target)`` of the per-step MSE term for either kind.

        TET's loss ``(1-lam)(1/T) sum_t CE(o[t]) + lam (1/T) sum_t MSE(o[t], phi)`` is, term for
        term, the per-step mix with ``a = lam`` and the constant target ``phi`` (both MSEs are
        means over the outputs; algorithms.md §5.1, line 251): ``(tet_lambda, tet_phi)`` for
        'tet', ``(mse_weight, mse_target)`` for 'ce_mse'.
        """
        if self.kind == "tet":
            return self.tet_lambda, self.tet_phi
        return self.mse_weight, self.mse_target


@dataclass(frozen=True)
class TrainingSpec:
    epochs: int
    batch_size: int
    optimizer: str                  # 'sgd'
    lr: float
    momentum: float
    weight_decay: float
    seed: int
    dtype: str = "float64"          # 'float64' | 'float32'
    init: str = "uniform"           # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) x init_gain
    init_gain: float = 1.0
    number_format: str = "float"    # 'float': the simulator's dtype; 'chip': weights, membrane
                                    #   state and traces held in the profile's fixed-point widths
                                    #   (precision.*_bits), weight updates stochastically rounded


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    text: str                       # the YAML text as read (before overrides)
    description: str
    dataset: DatasetSpec
    network: NetworkSpec
    neuron: NeuronSpec
    rule: RuleSpec
    loss: LossSpec
    training: TrainingSpec
    overrides: tuple = ()           # ((dotted key, YAML literal), ...) applied on top of `text`
    mapping: tuple = ()             # ((layer name, (core, ...)), ...): an explicit placement
                                    #   overriding the automatic one (empty: automatic)


# ----------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------
def load_workload(path, overrides: Mapping[str, str] | None = None) -> Workload:
    """Load and validate a workload YAML file, with optional dotted-key overrides."""
    doc = load_yaml(path)
    return _build(doc, overrides)


def workload_from_text(text: str, path: str = "<text>",
                       overrides: Mapping[str, str] | None = None) -> Workload:
    """Like :func:`load_workload` for YAML text already in memory (e.g. read from a result)."""
    doc = parse_yaml_text(text, file=path)
    if not isinstance(doc.data, dict):
        raise ChipsimError("the top level is not a mapping", file=path,
                           expected="a YAML mapping of field: value")
    return _build(doc, overrides)


def _build(doc, overrides) -> Workload:
    data = apply_overrides(doc.data, overrides, OVERRIDE_SCHEMA, file=doc.path)
    doc_o = type(doc)(path=doc.path, text=doc.text, data=data, lines=doc.lines,
                      overrides={str(k): str(v) for k, v in (overrides or {}).items()})
    top = Section(doc_o, data, "", _TOP)

    name = top.str("name")
    description = top.str("description", "", nonempty=False)
    dataset = _dataset(top.section("dataset", _DATASET))
    network = _network(top.section("network", _NETWORK), dataset)
    neuron = _neuron(top.section("neuron", _NEURON))
    rule = _rule(top.section("rule", _RULE), dataset.time_steps, network.lif_layers)
    loss = _loss(top.section("loss", _LOSS, {}))
    training = _training(top.section("training", _TRAINING))
    mapping = _mapping(top.raw("mapping", None), doc.path)
    return Workload(name=name, path=doc.path, text=doc.text, description=description,
                    dataset=dataset, network=network, neuron=neuron, rule=rule, loss=loss,
                    training=training, mapping=mapping,
                    overrides=tuple((str(k), str(v)) for k, v in (overrides or {}).items()))


def _dataset(s: Section) -> DatasetSpec:
    name = s.str("name", choices=DATASETS)
    downscale = s.int("downscale", 1, lo=1)
    _, height, width = SENSORS[name]
    side = min(height, width)
    size = s.int("size", None, lo=1, allow_none=True)
    if size is not None and size > side:
        raise s.error("size", f"got {size} but the {name} sensor is {height}x{width}",
                      f"an integer in [1, {side}] (size only downscales) or null")
    if size is not None and downscale > 1:
        raise s.error("size", f"is {size} and dataset.downscale is {downscale}: both shrink "
                      "the input", "either size (the side to downscale to) or downscale (a "
                      "pooling factor), not both; remove one")
    try:
        input_side(name, size, downscale)      # a side the data set's frames can have
    except ChipsimError as e:
        raise s.error(e.field.removeprefix("dataset."), e.detail, e.expected) from None
    return DatasetSpec(
        name=name,
        root=s.str("root", None, allow_none=True),
        time_steps=s.int("time_steps", lo=1),
        framing=s.str("framing", choices=("binary", "count")),
        downscale=downscale,
        train_samples=s.int("train_samples", None, lo=1, allow_none=True),
        test_samples=s.int("test_samples", None, lo=1, allow_none=True),
        size=size,
        cache=s.bool("cache", True),
        skip_bad=s.bool("skip_bad", False),
    )


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _layer(s: Section, index: int, item) -> LayerSpec:
    ls = Section(s.doc, item, s.path(f"hidden.{index}"), _LAYER)
    kind = ls.str("kind", choices=LAYER_KINDS)
    allowed = LAYER_REQUIRED[kind] + LAYER_OPTIONAL[kind]
    foreign = [k for k in ls.data if k != "kind" and k not in allowed]
    if foreign:
        owners = " or ".join(o for o in LAYER_KINDS
                             if any(f in LAYER_REQUIRED[o] + LAYER_OPTIONAL[o] for f in foreign))
        takes = ", ".join(LAYER_REQUIRED[kind]) if LAYER_REQUIRED[kind] else "no other field"
        if LAYER_OPTIONAL[kind]:
            takes += f" (optional: {', '.join(LAYER_OPTIONAL[kind])})"
        if any(not ls.has(k) for k in LAYER_REQUIRED[kind]):
            # e.g. {kind: conv, units: 32}: the fields say another kind, so the kind is wrong
            raise ls.error("kind", f"got {kind!r} but the layer gives {', '.join(foreign)}, "
                           f"field(s) of kind {owners}",
                           f"kind {owners}, or {_a(kind)} layer with {takes}")
        raise ls.error(foreign[0], f"is not a field of {_a(kind)} layer (it belongs to kind "
                       f"{owners})", f"{_a(kind)} layer with {takes}; remove '{foreign[0]}'")
    kw: dict = {"kind": kind}
    if kind == "dense":
        kw.update(units=ls.int("units", lo=1), bias=ls.bool("bias", False))
    elif kind == "conv":
        kw.update(channels=ls.int("channels", lo=1), kernel=ls.int("kernel", lo=1),
                  stride=ls.int("stride", 1, lo=1), bias=ls.bool("bias", False))
        kw["padding"] = ls.int("padding", 0, lo=0)
        if kw["padding"] > kw["kernel"] // 2:
            raise ls.error("padding", f"got {kw['padding']} for a {kw['kernel']}x{kw['kernel']} "
                           "kernel", f"an integer in [0, {kw['kernel'] // 2}] (at most half the "
                           "kernel, as PyTorch; 1 for a 3x3 'same' conv)")
    elif kind in ("avgpool", "maxpool"):
        kw["size"] = ls.int("size", lo=1)
    elif kind == "dropout":
        kw["p"] = ls.float("p", lo=0.0, hi=1.0, hi_open=True)
    return LayerSpec(**kw)


def _network(s: Section, dataset: DatasetSpec) -> NetworkSpec:
    items = s.list("hidden", min_len=1)
    layers = [_layer(s, i, item) for i, item in enumerate(items)]
    height, width = input_side(dataset.name, dataset.size, dataset.downscale)
    channels = SENSORS[dataset.name][0]
    where = (f"{dataset.name} frames of {channels}x{height}x{width}"
             + (f" (dataset.size {dataset.size})" if dataset.size is not None else "")
             + (f" (dataset.downscale {dataset.downscale})" if dataset.downscale > 1 else ""))
    flat_at = None                 # index of the first dense or flatten: no space after it
    for i, ls in enumerate(layers):
        f = f"hidden.{i}"
        if ls.kind in ("conv", "avgpool", "maxpool"):
            if flat_at is not None:
                raise s.error(f"{f}.kind", f"{_a(ls.kind)} layer after the {layers[flat_at].kind} "
                              f"layer network.hidden.{flat_at} needs a spatial input; put "
                              "conv/pool layers before dense ones",
                              "conv/pool layers before any dense or flatten layer")
            if ls.kind == "conv":
                if ls.kernel > min(height, width) + 2 * ls.padding:
                    raise s.error(f"{f}.kernel", f"a {ls.kernel}x{ls.kernel} kernel does not fit "
                                  f"its {height}x{width} input (padding {ls.padding})",
                                  f"kernel <= {min(height, width) + 2 * ls.padding} for the "
                                  f"input map at this layer, from {where}")
                height = (height + 2 * ls.padding - ls.kernel) // ls.stride + 1
                width = (width + 2 * ls.padding - ls.kernel) // ls.stride + 1
            else:
                if ls.size > min(height, width):
                    raise s.error(f"{f}.size", f"{ls.kind} {ls.size} does not fit its "
                                  f"{height}x{width} input map",
                                  f"size <= {min(height, width)} for the input map at this "
                                  f"layer, from {where}")
                height, width = height // ls.size, width // ls.size
        elif ls.kind in ("dense", "flatten") and flat_at is None:
            flat_at = i
        if ls.kind == "dropout" and (i == 0 or not layers[i - 1].is_lif):
            after = "is the first layer" if i == 0 else \
                f"follows {_a(layers[i - 1].kind)} layer (network.hidden.{i - 1})"
            raise s.error(f"{f}.kind", f"dropout {after}",
                          "dropout directly after a conv or dense layer (it masks that "
                          "layer's neurons, one mask per sample for all time steps)")
    if not any(ls.is_lif for ls in layers):
        raise s.error("hidden", "has no conv or dense layer",
                      "at least one conv or dense (LIF) layer")
    return NetworkSpec(hidden=tuple(layers), readout_bias=s.bool("readout_bias", True),
                       normalization=s.str("normalization", "none", choices=NORMALIZATIONS))


def _neuron(s: Section) -> NeuronSpec:
    preset = s.str("preset", None, choices=tuple(NEURON_PRESETS), allow_none=True)
    base = NEURON_PRESETS[preset] if preset else {}
    if not preset:
        missing = [f for f in NEURON_FIELDS if not s.has(f)]
        if missing:
            raise ChipsimError(
                f"missing field(s) {', '.join(missing)}: without a preset every neuron field "
                f"is required", file=s.doc.path, field=s.path(missing[0]),
                expected=f"a 'preset' ({', '.join(NEURON_PRESETS)}) or all of "
                         f"{', '.join(NEURON_FIELDS)}")

    def pick(key, reader, **kw):
        default = base[key] if preset else None
        if not s.has(key):
            return default
        return reader(key, **kw)

    h0 = pick("heaviside_at_zero", s.float)
    if s.has("heaviside_at_zero") and h0 not in (0.0, 1.0):
        raise s.error("heaviside_at_zero", f"got {h0:g}", "0 (strict >, as TET) or 1 "
                      "(fire on equality, as OTTT/SLTT)")
    return NeuronSpec(
        preset=preset,
        leak=pick("leak", s.float, lo=0.0, hi=1.0),
        threshold=pick("threshold", s.float, lo=0.0, lo_open=True),
        reset=pick("reset", s.str, choices=("soft", "hard")),
        detach_reset=pick("detach_reset", s.bool),
        heaviside_at_zero=float(h0),
        decay_input=pick("decay_input", s.bool),
        surrogate=pick("surrogate", s.str, choices=("sigmoid", "triangle")),
        surrogate_alpha=pick("surrogate_alpha", s.float, lo=0.0, lo_open=True),
    )


def _rule(s: Section, time_steps: int, lif_layers: int) -> RuleSpec:
    name = s.str("name", choices=RULES)
    only = {"k": ("sltt",), "trace_decay": OTTT_RULES, "first_layer_input": OTTT_RULES,
            "window": ("tbptt_local",), "block": ("tbptt_local",),
            "target_window": ("sltt",) + OTTT_RULES}
    for key, rules in only.items():
        if s.has(key) and name not in rules:
            raise s.error(key, f"is not a field of rule '{name}'",
                          f"'{key}' only with rule {' or '.join(rules)}; remove it")
    k = s.int("k", None, lo=1, allow_none=True)
    if k is not None and k > time_steps:
        raise s.error("k", f"got {k} but dataset.time_steps is {time_steps}",
                      f"an integer in [1, {time_steps}] (1 <= k <= time_steps)")
    window = block = None
    if name == "tbptt_local":
        window = s.int("window", time_steps, lo=1)
        if window > time_steps:
            raise s.error("window", f"got {window} but dataset.time_steps is {time_steps}",
                          f"an integer in [1, {time_steps}] (1 <= window <= time_steps)")
        block = s.int("block", lif_layers, lo=1)
        if block > lif_layers:
            raise s.error("block", f"got {block} but the network has {lif_layers} conv/dense "
                          f"layer(s)", f"an integer in [1, {lif_layers}] (LIF layers per block)")
    tw = s.int("target_window", None, lo=1, allow_none=True)
    if tw is not None and tw > time_steps:
        raise s.error("target_window", f"got {tw} but dataset.time_steps is {time_steps}",
                      f"an integer in [1, {time_steps}]")
    if tw is not None and k is not None:
        raise s.error("target_window", "cannot be combined with k",
                      "either k (K random steps) or target_window (a random window of steps)")
    return RuleSpec(
        name=name,
        k=k,
        target_window=tw,
        update_skip=s.bool("update_skip", True),
        trace_decay=s.float("trace_decay", None, lo=0.0, hi=1.0, allow_none=True),
        first_layer_input=s.str("first_layer_input", "raw", choices=("raw", "trace")),
        window=window,
        block=block,
    )


def _loss(s: Section) -> LossSpec:
    kind = s.str("kind", "ce_mse", choices=LOSSES)
    only = {"mse_weight": "ce_mse", "mse_target": "ce_mse", "tet_lambda": "tet",
            "tet_phi": "tet"}
    for key, owner in only.items():
        if s.has(key) and kind != owner:
            raise s.error(key, f"is not a field of loss '{kind}'",
                          f"'{key}' only with loss kind {owner}; remove it (from the command "
                          f"line, replace the whole section, e.g. loss={{kind: {kind}}})")
    if kind == "tet":
        return LossSpec(kind=kind, mse_weight=None, mse_target=None,
                        tet_lambda=s.float("tet_lambda", 1e-3, lo=0.0, hi=1.0),
                        tet_phi=s.float("tet_phi", 1.0))
    weight = s.float("mse_weight", 0.05, lo=0.0, hi=1.0)
    target = s.raw("mse_target", "onehot")
    expected = "'onehot' or a number (a constant target for every output)"
    if isinstance(target, str):
        if target != "onehot":
            raise s.error("mse_target", f"got {target!r}", expected)
    elif isinstance(target, bool) or not isinstance(target, (int, float)):
        raise s.error("mse_target", f"got {target!r}", expected)
    else:
        target = s.float("mse_target")
    return LossSpec(kind=kind, mse_weight=weight, mse_target=target)


def _mapping(raw, path) -> tuple:
    """``mapping: {layer name: [core, ...]}`` -> ((name, (cores...)), ...); checked against the
    network's layers and the chip's capacities when the run maps it."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ChipsimError(f"got {raw!r}", file=path, field="mapping",
                           expected="a mapping of layer name to a list of core indices, "
                                    "e.g. {dense1: [0, 1], readout: [1]}")
    out = []
    for name, cores in raw.items():
        if isinstance(cores, int) and not isinstance(cores, bool):
            cores = [cores]
        if not isinstance(cores, list) or not cores or not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in cores):
            raise ChipsimError(f"got {cores!r}", file=path, field=f"mapping.{name}",
                               expected="a non-empty list of core indices >= 0")
        out.append((str(name), tuple(cores)))
    return tuple(out)


def _training(s: Section) -> TrainingSpec:
    return TrainingSpec(
        epochs=s.int("epochs", lo=1),
        batch_size=s.int("batch_size", 1, lo=1),
        optimizer=s.str("optimizer", choices=("sgd",)),
        lr=s.float("lr", lo=0.0, lo_open=True),
        momentum=s.float("momentum", 0.0, lo=0.0, hi=1.0, hi_open=True),
        weight_decay=s.float("weight_decay", 0.0, lo=0.0),
        seed=s.int("seed", lo=0),
        dtype=s.str("dtype", "float64", choices=("float64", "float32")),
        init=s.str("init", "uniform", choices=("uniform",)),
        init_gain=s.float("init_gain", 1.0, lo=0.0, lo_open=True),
        number_format=s.str("number_format", "float", choices=("float", "chip")),
    )

