"""Workload description: data set, network, neuron, learning rule, loss and training settings.

``load_workload(path, overrides)`` reads a workload YAML (see ``workloads/nmnist.yaml`` for a
commented example), applies command-line overrides (dotted key -> YAML literal, e.g.
``{'training.epochs': '1', 'rule.name': 'sltt'}``) and validates everything. The result is a
frozen :class:`Workload`; the engine consumes exactly these field names.

Every mistake (unknown or missing field, wrong type, value out of range, a rule-specific field
given to another rule, ``rule.k`` larger than ``dataset.time_steps``, malformed YAML) is one
:class:`~chipsim.errors.ChipsimError` naming the file, the dotted field and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from chipsim.config.yamlio import Section, apply_overrides, load_yaml, parse_yaml_text
from chipsim.errors import ChipsimError

RULES = ("bptt", "sltt", "ottt_a", "ottt_o")
OTTT_RULES = ("ottt_a", "ottt_o")
DATASETS = ("nmnist",)

# ----------------------------------------------------------------------------------------
# neuron presets: each paper's LIF neuron as its official code runs it.
# Source: /work/shared/reference/algorithms.md §1 (table at lines 36-45, code evidence 48-50).
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
_TOP = ("name", "description", "dataset", "network", "neuron", "rule", "loss", "training")
_DATASET = ("name", "root", "time_steps", "framing", "downscale", "train_samples",
            "test_samples")
_NETWORK = ("hidden", "readout_bias")
_LAYER = ("kind", "units", "bias")
_NEURON = ("preset",) + NEURON_FIELDS
_RULE = ("name", "k", "trace_decay", "first_layer_input")
_LOSS = ("kind", "mse_weight", "mse_target")
_TRAINING = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "seed",
             "dtype", "init", "init_gain")

OVERRIDE_SCHEMA = {
    "name": None,
    "description": None,
    "dataset": dict.fromkeys(_DATASET),
    "network": {"hidden": [dict.fromkeys(_LAYER)], "readout_bias": None},
    "neuron": dict.fromkeys(_NEURON),
    "rule": dict.fromkeys(_RULE),
    "loss": dict.fromkeys(_LOSS),
    "training": dict.fromkeys(_TRAINING),
}


# ----------------------------------------------------------------------------------------
# the dataclasses
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    name: str                       # 'nmnist'
    root: str | None                # None: the embedded real samples shipped with chipsim
    time_steps: int                 # T >= 1
    framing: str                    # 'binary' | 'count'
    downscale: int                  # spatial pooling factor >= 1
    train_samples: int | None       # None: all
    test_samples: int | None        # None: all


@dataclass(frozen=True)
class LayerSpec:
    kind: str                       # 'dense'
    units: int                      # >= 1
    bias: bool = False


@dataclass(frozen=True)
class NetworkSpec:
    hidden: tuple                   # tuple[LayerSpec, ...], LIF layers in order
    readout_bias: bool              # bias of the non-spiking linear readout


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
    name: str                       # 'bptt' | 'sltt' | 'ottt_a' | 'ottt_o'
    k: int | None = None            # sltt only: backward at K random steps (1 <= K <= T)
    trace_decay: float | None = None  # ottt_* only; None means neuron.leak
    first_layer_input: str = "raw"  # ottt_*: 'raw' (official code) | 'trace' (paper formula)


@dataclass(frozen=True)
class LossSpec:
    kind: str = "ce_mse"            # ((1-a) CE + a MSE) / T per step
    mse_weight: float = 0.05        # a in [0, 1]
    mse_target: object = "onehot"   # 'onehot' or a float constant


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
    network = _network(top.section("network", _NETWORK))
    neuron = _neuron(top.section("neuron", _NEURON))
    rule = _rule(top.section("rule", _RULE), dataset.time_steps)
    loss = _loss(top.section("loss", _LOSS, {}))
    training = _training(top.section("training", _TRAINING))
    return Workload(name=name, path=doc.path, text=doc.text, description=description,
                    dataset=dataset, network=network, neuron=neuron, rule=rule, loss=loss,
                    training=training,
                    overrides=tuple((str(k), str(v)) for k, v in (overrides or {}).items()))


def _dataset(s: Section) -> DatasetSpec:
    return DatasetSpec(
        name=s.str("name", choices=DATASETS),
        root=s.str("root", None, allow_none=True),
        time_steps=s.int("time_steps", lo=1),
        framing=s.str("framing", choices=("binary", "count")),
        downscale=s.int("downscale", 1, lo=1),
        train_samples=s.int("train_samples", None, lo=1, allow_none=True),
        test_samples=s.int("test_samples", None, lo=1, allow_none=True),
    )


def _network(s: Section) -> NetworkSpec:
    items = s.list("hidden", min_len=1)
    layers = []
    for i, item in enumerate(items):
        ls = Section(s.doc, item, s.path(f"hidden.{i}"), _LAYER)
        layers.append(LayerSpec(kind=ls.str("kind", choices=("dense",)),
                                units=ls.int("units", lo=1),
                                bias=ls.bool("bias", False)))
    return NetworkSpec(hidden=tuple(layers), readout_bias=s.bool("readout_bias", True))


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


def _rule(s: Section, time_steps: int) -> RuleSpec:
    name = s.str("name", choices=RULES)
    only = {"k": ("sltt",), "trace_decay": OTTT_RULES, "first_layer_input": OTTT_RULES}
    for key, rules in only.items():
        if s.has(key) and name not in rules:
            raise s.error(key, f"is not a field of rule '{name}'",
                          f"'{key}' only with rule {' or '.join(rules)}; remove it")
    k = s.int("k", None, lo=1, allow_none=True)
    if k is not None and k > time_steps:
        raise s.error("k", f"got {k} but dataset.time_steps is {time_steps}",
                      f"an integer in [1, {time_steps}] (1 <= k <= time_steps)")
    return RuleSpec(
        name=name,
        k=k,
        trace_decay=s.float("trace_decay", None, lo=0.0, hi=1.0, allow_none=True),
        first_layer_input=s.str("first_layer_input", "raw", choices=("raw", "trace")),
    )


def _loss(s: Section) -> LossSpec:
    kind = s.str("kind", "ce_mse", choices=("ce_mse",))
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
    )

