"""Workload description: data set, network, neuron, learning rule, loss and training settings.

``load_workload(path, overrides)`` reads a workload YAML (see ``workloads/nmnist.yaml`` for a
commented example), applies command-line overrides (dotted key -> YAML literal, e.g.
``{'training.epochs': '1', 'rule.name': 'sltt'}``) and validates everything. The result is a
frozen :class:`Workload`; the engine consumes exactly these field names.

The workload is assembled from the registries that own its parts, not declared again here:

* ``rule`` is the ``Options`` model of the rule named ``rule.name`` in
  :data:`chipsim.learning.RULES` (each rule declares its fields in its own module); after the
  workload is read, the rule's ``problems(dataset.time_steps, conv/dense layers)`` are refused;
* ``loss`` is the model of ``loss.kind`` in :data:`chipsim.learning.losses.LOSSES`;
* ``network.hidden`` is a tuple of the layer ops of :data:`chipsim.model.layers.LAYER_KINDS`;
* ``neuron.preset`` names one of :data:`chipsim.model.neuron.PRESETS`, whose values fill the
  neuron fields (:data:`~chipsim.model.neuron.NEURON_FIELDS`) the workload does not give;
* ``dataset.name`` is one of :data:`chipsim.data.registry.DATASETS`, whose sensor and resize rule
  decide which ``size`` and ``downscale`` are possible, and the side of the input map the
  network's conv and pool layers must fit.

Every mistake (unknown or missing field, wrong type, value out of range, a field of another rule,
loss or layer kind, ``rule.k`` larger than ``dataset.time_steps``, a conv layer after a dense
one, a kernel larger than its input map, a ``dataset.size`` the data set's frames cannot take,
malformed YAML) is one :class:`~chipsim.errors.ChipsimError` naming the file, the dotted field,
its line (or the override that set it) and what was expected (chipsim/config/schema.py).
"""

from __future__ import annotations

from typing import Annotated, Literal, Mapping, Union

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from chipsim.config.schema import FieldProblem, Section, Text, apply_overrides, as_tuple, validate
from chipsim.config.yamlio import load_yaml, parse_yaml_text
# The data sets, their sensors and the side of their frames come from the data-set registry;
# they are used here to check that the network's conv/pool layers fit the input.
from chipsim.data.registry import DATASETS, SENSORS, input_side
from chipsim.errors import ChipsimError
from chipsim.learning import RULES
from chipsim.learning.losses import LOSSES
from chipsim.model.layers import LAYER_KINDS, LIF_KINDS
from chipsim.model.neuron import NEURON_FIELDS, PRESETS, SURROGATES

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

#: the neuron fields a NIR graph gives (network.nir): its dynamics
NIR_NEURON_FIELDS = ("leak", "threshold", "reset", "heaviside_at_zero", "decay_input")

#: The loss of a workload that gives no ``loss.kind`` (or no ``loss`` section).
DEFAULT_LOSS = "ce_mse"


def _options() -> tuple:
    out: list = []
    for rule in RULES.values():
        if rule.Options not in out:
            out.append(rule.Options)
    return tuple(out)


#: ``rule``: the Options of the rule ``name`` picks, from the rule registry.
RuleUnion = Annotated[Union[_options()], Field(discriminator="name")]
#: ``loss``: the loss ``kind`` picks, from the loss registry.
LossUnion = Annotated[Union[tuple(LOSSES.values())], Field(discriminator="kind")]
#: one op of ``network.hidden``, from the layer registry.
LayerUnion = Annotated[Union[tuple(LAYER_KINDS.values())], Field(discriminator="kind")]


def _loss_kind(value):
    """A loss section without ``kind`` is the default loss."""
    if isinstance(value, dict) and "kind" not in value:
        return {"kind": DEFAULT_LOSS, **value}
    return value


# ----------------------------------------------------------------------------------------
# the sections
# ----------------------------------------------------------------------------------------
class DatasetSpec(Section):
    """The data set and how its events become frames."""

    name: Literal[DATASETS] = Field(description="the data set (chipsim/data/registry.py)")
    root: Text | None = Field(None, description=(
        "the folder of the data set on disk; null: the samples shipped with chipsim (N-MNIST "
        "only; CIFAR10-DVS falls back to its emulated stand-in, and says so)"))
    time_steps: int = Field(ge=1, description="T, the time steps each sample is framed into")
    framing: Literal["binary", "count"] = Field(description=(
        "binary: a pixel is 1 if it had an event in the step; count: its number of events"))
    downscale: int = Field(1, ge=1, description=(
        "spatial pooling factor: the side becomes ceil(side / downscale)"))
    size: int | None = Field(None, ge=1, description=(
        "downscale the frames to size x size (only smaller than the sensor, and only sides "
        "the data set's resize rule reaches); null: use downscale"))
    train_samples: int | None = Field(None, ge=1, description=(
        "the first N training samples; null: all"))
    test_samples: int | None = Field(None, ge=1, description="the first N test samples; null: all")
    cache: bool = Field(True, description=(
        "keep framed data sets in the frame cache (chipsim/data/cache.py)"))
    skip_bad: bool = Field(False, description=(
        "leave unreadable recordings out, and those without events or with timestamps that "
        "cannot be framed (they are listed in the results with the reason), instead of "
        "refusing"))

    @model_validator(mode="after")
    def _sides(self):
        _, height, width = SENSORS[self.name]
        side = min(height, width)
        if self.size is not None and self.size > side:
            raise FieldProblem(f"got {self.size} but the {self.name} sensor is {height}x{width}",
                               f"an integer in [1, {side}] (size only downscales) or null",
                               field="size")
        if self.size is not None and self.downscale > 1:
            raise FieldProblem(f"is {self.size} and dataset.downscale is {self.downscale}: both "
                               "shrink the input", "either size (the side to downscale to) or "
                               "downscale (a pooling factor), not both; remove one", field="size")
        try:
            input_side(self.name, self.size, self.downscale)   # a side the frames can have
        except ChipsimError as e:
            raise FieldProblem(e.detail, e.expected,
                               field=(e.field or "size").removeprefix("dataset.")) from None
        return self


def _time(value):
    """``dt``: a time written with its unit ("1 ms"), in seconds."""
    if value is None:
        return None
    from chipsim.config.units import parse_quantity
    try:
        v = parse_quantity(value, "time")
    except ChipsimError as e:
        raise FieldProblem(e.detail, e.expected or "a time with its unit, e.g. '1 ms'") from None
    if v <= 0.0:
        raise FieldProblem(f"got {value!r}", "a positive time, e.g. '1 ms'")
    return v


class NetworkSpec(Section):
    """The hidden layers, in order from the input, and a non-spiking linear readout appended;
    or a network read from a NIR graph (``nir``, ``dt``)."""

    hidden: Annotated[tuple[LayerUnion, ...], BeforeValidator(as_tuple)] = Field(
        (), json_schema_extra={"union": "layer", "default_text": "required without nir"},
        description=(
            "the layer ops, input side first (see the layer kinds below); conv and pool layers "
            "before any dense or flatten layer; dropout directly after a conv or dense layer"))
    nir: str | None = Field(None, description=(
        "a NIR graph file (relative to the workload file) whose layers, weights and neuron "
        "dynamics the network takes instead of hidden (docs/nir.md); the neuron section then "
        "gives only surrogate, surrogate_alpha and detach_reset"))
    dt: Annotated[float | None, BeforeValidator(_time)] = Field(None, json_schema_extra={
        "default_text": "required with nir", "expected": "a time with its unit, e.g. '1 ms'"},
        description="the time step NIR's continuous-time neurons are discretised with")
    readout_bias: bool = Field(True, description=(
        "a bias on the readout (with nir: the graph's readout decides)"))
    output: Literal["readout", "spike_count", "first_spike"] = Field("readout", description=(
        "readout: the non-spiking readout appended after the layers; spike_count / "
        "first_spike: the last layer, dense with one LIF neuron per class, is the output, "
        "classified by its spike count or by the neuron that fires first (no readout; with nir: "
        "a graph whose Output reads neurons is counted unless first_spike is asked)"))
    readout_leak: float | None = Field(None, ge=0.0, lt=1.0, description=(
        "a leaky-integrator (LI) readout, o[t] = readout_leak o[t-1] + W s[t] + b, summed over "
        "time for the prediction; null: the linear readout (with nir: the graph decides)"))
    normalization: Literal[NORMALIZATIONS] = Field("none", description=(
        "none; ws_folded: OTTT's scaled weight standardisation folded into the weights once at "
        "initialisation; bn_folded: SLTT's batch normalisation folded as the identity (not "
        "simulated)"))

    @model_validator(mode="after")
    def _hidden_or_nir(self):
        if self.output != "readout" and self.readout_leak is not None:
            raise FieldProblem(f"is given with output {self.output}", "readout_leak only with "
                               "output: readout (a spiking output has no readout)",
                               field="readout_leak")
        if self.nir is None:
            if not self.hidden:
                raise FieldProblem("has no layer ops (missing or empty)", "at least 1 layer op "
                                   "(or network.nir, a NIR graph file)", field="hidden")
            if self.dt is not None:
                raise FieldProblem("is given without nir", "dt only with network.nir (it "
                                   "discretises the graph's neurons)", field="dt")
        else:
            if self.hidden:
                raise FieldProblem("is given with nir", "either hidden (chipsim's layers) or nir "
                                   "(a NIR graph), not both", field="hidden")
            if self.dt is None:
                raise FieldProblem("is missing", "the time step of the NIR graph's neurons, "
                                   "e.g. '1 ms'", field="dt")
            if self.normalization != "none":
                raise FieldProblem(f"is {self.normalization} with nir", "none: a NIR graph's "
                                   "weights are used as they are", field="normalization")
        return self

    @property
    def lif_layers(self) -> int:
        """Number of LIF (conv and dense) layers in ``hidden``, the readout not counted (0
        for a NIR graph, which is read when the run starts)."""
        return sum(1 for ls in self.hidden if ls.is_lif)


#: the neuron fields are required, unless the preset gives them
_FROM_PRESET = {"default_text": "the preset's; required without a preset"}


class NeuronSpec(Section):
    """The LIF neuron: a preset (each paper's neuron as its code runs it) and/or every field."""

    preset: Literal[tuple(PRESETS)] | None = Field(None, description=(
        "a paper's neuron (chipsim/model/neuron.py); the fields given beside it override its "
        "values; null: every field below is required"))
    leak: float = Field(ge=0.0, le=1.0, json_schema_extra=_FROM_PRESET,
                        description="lambda: u[t] = lambda v[t-1] + I[t]")
    threshold: float = Field(gt=0.0, json_schema_extra=_FROM_PRESET,
                             description="theta: s[t] = H(u[t] - theta)")
    reset: Literal["soft", "hard"] = Field(json_schema_extra=_FROM_PRESET, description=(
        "soft: v = u - theta s; hard: v = (1 - s) u"))
    detach_reset: bool = Field(json_schema_extra=_FROM_PRESET,
                               description="the reset path is left out of the gradient")
    heaviside_at_zero: float = Field(description="H(0), the step function at zero",
                                     json_schema_extra={**_FROM_PRESET, "expected": (
                                         "0 (strict >, as TET) or 1 (fire on equality, as "
                                         "OTTT/SLTT)")})
    decay_input: bool = Field(json_schema_extra=_FROM_PRESET,
                              description="u = lambda v + (1 - lambda) I instead of lambda v + I")
    surrogate: Literal[tuple(SURROGATES)] = Field(json_schema_extra=_FROM_PRESET, description=(
        "the surrogate derivative of H: sigmoid or triangle max(0, 1 - |x|)"))
    surrogate_alpha: float = Field(gt=0.0, json_schema_extra=_FROM_PRESET,
                                   description="the surrogate's sharpness alpha")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data):
        if not isinstance(data, dict):
            return data
        preset = data.get("preset")
        if isinstance(preset, str) and preset in PRESETS:
            return {**PRESETS[preset], **data}
        if preset is None and all(k in cls.model_fields for k in data):   # unknown keys first
            missing = [f for f in NEURON_FIELDS if f not in data]
            if missing:
                raise FieldProblem(
                    f"missing field(s) {', '.join(missing)}: without a preset every neuron field "
                    "is required", f"a 'preset' ({', '.join(PRESETS)}) or all of "
                    f"{', '.join(NEURON_FIELDS)}", field=missing[0])
        return data

    @field_validator("heaviside_at_zero")
    @classmethod
    def _h0(cls, v: float) -> float:
        if v not in (0.0, 1.0):
            raise FieldProblem(f"got {v:g}", "0 (strict >, as TET) or 1 (fire on equality, as "
                                             "OTTT/SLTT)")
        return v


class TrainingSpec(Section):
    """Online training: epochs, batches and the optimiser."""

    epochs: int = Field(ge=1, description="passes over the training samples")
    batch_size: int = Field(1, ge=1, description=(
        "samples per weight update (1: as a chip learns, one sample at a time)"))
    optimizer: Literal["sgd"] = Field(description="the optimiser")
    lr: float = Field(gt=0.0, description="the learning rate")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="SGD momentum")
    weight_decay: float = Field(0.0, ge=0.0, description="L2 weight decay")
    seed: int = Field(ge=0, description=(
        "seed of everything random (initialisation, sample order, the rule's choices)"))
    dtype: Literal["float64", "float32"] = Field("float64", description=(
        "the simulator's floating-point type"))
    init: Literal["uniform"] = Field("uniform", description=(
        "weight initialisation: U(-k, k), k = init_gain / sqrt(fan_in), as PyTorch"))
    init_gain: float = Field(1.0, gt=0.0, description="the gain of the initialisation")
    number_format: Literal["float", "chip"] = Field("float", description=(
        "float: the simulator's dtype; chip: weights, membrane state and traces held in the "
        "profile's fixed-point widths (precision.*_bits), weight updates stochastically rounded"))


def _cores(value):
    """One core index may be written without its list."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    return as_tuple(value)


Cores = Annotated[tuple[Annotated[int, Field(ge=0)], ...], BeforeValidator(_cores),
                  Field(min_length=1, json_schema_extra={
                      "expected": "a non-empty list of core indices >= 0"})]

def _pairs(mapping) -> tuple:
    """``{layer: cores}`` -> ``((layer, cores), ...)`` (frozen); null -> ``()``: automatic."""
    return () if mapping is None else tuple(mapping.items())


_MAPPING_EXPECTED = ("a mapping of layer name to a list of core indices, e.g. "
                     "{dense1: [0, 1], readout: [1]}")


class WorkloadFile(Section):
    """A workload YAML file: what is learned, and how."""

    name: Text = Field(description="the workload's name (results are named after it)")
    description: str = Field("", description="what the workload is, in a few lines")
    dataset: DatasetSpec = Field(description="the data set")
    network: NetworkSpec = Field(description="the network")
    neuron: NeuronSpec = Field(description=(
        "the LIF neuron; with network.nir only how it learns (surrogate, surrogate_alpha, "
        "detach_reset; optional: OTTT's sigmoid, alpha 4, reset detached)"))
    rule: RuleUnion = Field(json_schema_extra={"union": "rule"}, description=(
        "the learning rule and its options (chipsim/learning/)"))
    loss: Annotated[LossUnion, BeforeValidator(_loss_kind)] = Field(
        default_factory=lambda: LOSSES[DEFAULT_LOSS](), json_schema_extra={"union": "loss"},
        description=f"the loss (default: kind {DEFAULT_LOSS} with its defaults)")
    training: TrainingSpec = Field(description="the training settings")
    mapping: Annotated[dict[str, Cores] | None, AfterValidator(_pairs)] = Field(
        (), json_schema_extra={"expected": _MAPPING_EXPECTED}, description=(
            "an explicit placement of layers on cores, {layer name: [core, ...]}, overriding the "
            "automatic one; checked against the network and the chip when the run maps it; "
            "null or none: automatic"))

    @model_validator(mode="before")
    @classmethod
    def _nir_neuron(cls, data):
        """With network.nir the graph gives the neuron's dynamics: the neuron section may only
        choose how it learns (surrogate, surrogate_alpha, detach_reset, or a preset's), and
        without one those are OTTT's (sigmoid, alpha 4, reset detached)."""
        if not isinstance(data, dict):
            return data
        net = data.get("network")
        if not (isinstance(net, dict) and net.get("nir") is not None):
            return data
        neuron = data.get("neuron")
        if neuron is None:
            neuron = {}
        if not isinstance(neuron, dict):
            return data
        for key in neuron:
            if key in NIR_NEURON_FIELDS:
                raise FieldProblem("is given with network.nir, whose graph gives the neuron's "
                                   "dynamics", "only surrogate, surrogate_alpha, detach_reset or a "
                                   "preset in the neuron section", field=f"neuron.{key}")
        base = PRESETS[neuron.get("preset") if neuron.get("preset") in PRESETS else "ottt"]
        return {**data, "neuron": {**base, **neuron}}

    @model_validator(mode="after")
    def _together(self):
        if self.network.nir is None:
            _check_network(self.network, self.dataset)
        for field, got, want in self.rule.problems(self.dataset.time_steps,
                                                    self.network.lif_layers or 10**6):
            raise FieldProblem(got, want, field=f"rule.{field}")
        return self


class Workload(WorkloadFile):
    """A validated workload (frozen): the file's sections, where it came from and its text."""

    path: str = Field(description="the file it was read from")
    text: str = Field(description="the YAML text as read (before overrides)")
    overrides: tuple = Field((), description=(
        "((dotted key, YAML literal), ...) applied on top of text"))


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _check_network(net: NetworkSpec, dataset: DatasetSpec) -> None:
    """The layers against the input map of the data set, and their order."""
    layers = net.hidden
    height, width = input_side(dataset.name, dataset.size, dataset.downscale)
    channels = SENSORS[dataset.name][0]
    where = (f"{dataset.name} frames of {channels}x{height}x{width}"
             + (f" (dataset.size {dataset.size})" if dataset.size is not None else "")
             + (f" (dataset.downscale {dataset.downscale})" if dataset.downscale > 1 else ""))
    flat_at = None                 # index of the first dense or flatten: no space after it
    for i, ls in enumerate(layers):
        f = f"network.hidden.{i}"
        if ls.kind in ("conv", "avgpool", "maxpool"):
            if flat_at is not None:
                raise FieldProblem(f"{_a(ls.kind)} layer after the {layers[flat_at].kind} layer "
                                   f"network.hidden.{flat_at} needs a spatial input; put conv/pool "
                                   "layers before dense ones",
                                   "conv/pool layers before any dense or flatten layer",
                                   field=f"{f}.kind")
            if ls.kind == "conv":
                if ls.kernel > min(height, width) + 2 * ls.padding:
                    raise FieldProblem(f"a {ls.kernel}x{ls.kernel} kernel does not fit its "
                                       f"{height}x{width} input (padding {ls.padding})",
                                       f"kernel <= {min(height, width) + 2 * ls.padding} for the "
                                       f"input map at this layer, from {where}",
                                       field=f"{f}.kernel")
                height = (height + 2 * ls.padding - ls.kernel) // ls.stride + 1
                width = (width + 2 * ls.padding - ls.kernel) // ls.stride + 1
            else:
                if ls.size > min(height, width):
                    raise FieldProblem(f"{ls.kind} {ls.size} does not fit its {height}x{width} "
                                       "input map", f"size <= {min(height, width)} for the input "
                                       f"map at this layer, from {where}", field=f"{f}.size")
                height, width = height // ls.size, width // ls.size
        elif ls.kind in ("dense", "flatten") and flat_at is None:
            flat_at = i
        if ls.kind == "dropout" and (i == 0 or not layers[i - 1].is_lif):
            after = "is the first layer" if i == 0 else \
                f"follows {_a(layers[i - 1].kind)} layer (network.hidden.{i - 1})"
            raise FieldProblem(f"dropout {after}", "dropout directly after a conv or dense layer "
                               "(it masks that layer's neurons, one mask per sample for all time "
                               "steps)", field=f"{f}.kind")
    if not any(ls.kind in LIF_KINDS for ls in layers):
        raise FieldProblem("has no conv or dense layer", "at least one conv or dense (LIF) layer",
                           field="network.hidden")


# ----------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------
def load_workload(path, overrides: Mapping[str, str] | None = None) -> Workload:
    """Load and validate a workload YAML file, with optional dotted-key overrides."""
    return _build(load_yaml(path), overrides)


def workload_from_text(text: str, path: str = "<text>",
                       overrides: Mapping[str, str] | None = None) -> Workload:
    """Like :func:`load_workload` for YAML text already in memory (e.g. read from a result)."""
    doc = parse_yaml_text(text, file=path)
    if not isinstance(doc.data, dict):
        raise ChipsimError("the top level is not a mapping", file=path,
                           expected="a YAML mapping of field: value")
    return _build(doc, overrides)


def _build(doc, overrides) -> Workload:
    given = tuple((str(k), str(v)) for k, v in (overrides or {}).items())
    data = apply_overrides(doc.data, overrides, WorkloadFile, file=doc.path)
    doc = type(doc)(path=doc.path, text=doc.text, data=data, lines=doc.lines,
                    overrides=dict(given))
    spec = validate(WorkloadFile, doc)
    return Workload.model_construct(**dict(spec), path=doc.path, text=doc.text, overrides=given)
