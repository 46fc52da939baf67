"""Hardware profiles: one YAML per chip, every number with its source and a provenance tag.

The schema is documented field by field in ``hardware_profiles/README.md``. In short::

    name, title, notes, references {key: citation}
    process, area?, voltage?                         quantities (length, area, voltage)
    timing: asynchronous | clocked | tick            clock? (required when clocked), tick? (tick)
    sop_energy_kind: incremental | global_at_operating_point
    static_power, static_power_scope?: chip | core
    sync_time?                                       barrier per time step (time)
    precision {weight_bits, state_bits, trace_bits, grad_bits}     integers with sources
    memory {...}?                                    informational sizes
    architecture {cores, neurons_per_core, synapses_per_core, mesh_width, mesh_height,
                  max_chips, shared_conv_kernels, cores_per_router?, fan_in_per_core?,
                  fan_out_per_core?}?                integers with sources (all or nothing)
    learning {on_chip, rule?, source, notes?, error_delivery? {route, source, provenance, reason?}}
    actions {<action name>: {energy: Q | {included_in_sop: true, learning: Q}, time: Q}}

where a quantity ``Q`` is ``{value: "1.5 pJ", source: "...", provenance: measured|simulated|
derived|assumed, reason: "..."}`` (``reason`` required when assumed).

Rules enforced here (each violation is a ChipsimError naming file, dotted field and the
expectation): unknown keys anywhere; missing required fields; a number without a unit; a unit
of the wrong kind; an ``assumed`` figure without a reason; a priced action (every action in
:data:`chipsim.counts.PRICED_ACTIONS`) without an energy or a time; ``included_in_sop`` in an
``incremental`` profile, on an action that is not inference work, or without a ``learning``
figure.

**Inclusion.** In a ``global_at_operating_point`` profile the SOP energy is a whole-chip
average at one operating point (power / SOP rate): leakage, neuron updates, spikes and the
memory traffic of inference are already inside it. An action marked ``included_in_sop`` is
therefore priced 0 J in the INFERENCE phase. The same action in the LEARNING phase (a weight
read during error propagation, a state read for a surrogate derivative) is extra work the
average never saw, so it is priced at its ``learning`` figure. Inclusion is an energy notion
only: every action keeps its own time figure (write ``0 s`` where an access overlaps the
operation that uses it).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Union

from pydantic import (ConfigDict, Discriminator, Field, Tag, create_model, field_validator,
                      model_validator)

from chipsim.config.schema import FieldProblem, Section, Text, validate
from chipsim.config.units import format_si, parse_quantity
from chipsim.config.yamlio import load_yaml, parse_yaml_text
from chipsim.counts import ACTION_INFO, ACTION_NAMES, PRICED_ACTIONS, Action
from chipsim.errors import ChipsimError

PROVENANCES = ("measured", "simulated", "derived", "assumed")
TIMINGS = ("asynchronous", "clocked", "tick")
SOP_ENERGY_KINDS = ("incremental", "global_at_operating_point")
STATIC_SCOPES = ("chip", "core")
PRICED_NAMES = tuple(a.name.lower() for a in PRICED_ACTIONS)
UNPRICED_NAMES = tuple(n for n in ACTION_NAMES if n not in PRICED_NAMES)
#: Actions whose inference-phase cost can sit inside an all-in SOP average. The SOP itself
#: (``synop``) carries the average; MACs and learning-only work cannot be inside it.
INCLUDABLE = ("neuron_update_active", "neuron_update_idle", "spike", "mem_read_weight",
              "mem_read_state", "mem_write_state", "router_hop")
#: What the mapping and the cycle model read. ``architecture`` may be left out as a whole (a
#: profile that only prices counts); when it is given, every entry of ARCHITECTURE_REQUIRED is
#: (tests/test_config_profile.py checks this is the Architecture model's required fields).
ARCHITECTURE_REQUIRED = ("cores", "neurons_per_core", "synapses_per_core", "mesh_width",
                         "mesh_height", "max_chips", "shared_conv_kernels")

#: SI unit stored in Quantity.unit, per dimension
_SI_UNIT = {"energy": "J", "power": "W", "time": "s", "frequency": "Hz", "length": "m",
            "memory": "bit", "area": "m2", "voltage": "V", "count": "", "flag": ""}


@dataclass(frozen=True)
class Quantity:
    """One sourced figure. ``value`` is SI (J, W, s, Hz, m, bit, m², V; ``unit`` names it) or
    a plain integer for counts and precisions (``unit == ''``); ``None`` only where the profile
    may leave a figure unknown (never for a priced action)."""

    value: float | None
    unit: str
    text: str                   # as written in the YAML ("1.5 pJ")
    source: str
    provenance: str             # measured | simulated | derived | assumed
    reason: str | None = None   # required for assumed figures

    @property
    def assumed(self) -> bool:
        return self.provenance == "assumed"

    def describe(self) -> str:
        """One line: ``"value; source; provenance[ (reason)]"``."""
        text = self.text if self.value is not None else "unknown"
        line = f"{text}; {self.source}; {self.provenance}"
        if self.reason:
            line += f" ({self.reason})"
        return " ".join(line.split())


@dataclass(frozen=True)
class HardwareProfile:
    """A chip, as the ledger and the cycle model see it (all values SI)."""

    name: str
    title: str
    path: str
    text: str                           # the YAML text as read
    references: dict                    # key -> full citation
    process: Quantity
    timing: str                         # 'asynchronous' | 'clocked' | 'tick'
    clock: Quantity | None
    sop_energy_kind: str                # 'incremental' | 'global_at_operating_point'
    energy: dict                        # action name -> Quantity (J); for an included action
                                        # the LEARNING-phase figure (inference costs 0)
    time: dict                          # action name -> Quantity (s), both phases
    included_in_sop: frozenset          # action names inside the all-in SOP figure (inference)
    static_power: Quantity              # W; value may be None for a global profile
    precision: dict                     # weight_bits/state_bits/trace_bits/grad_bits -> Quantity
    memory: dict                        # name -> Quantity (bits), informational
    learning: dict                      # on_chip: bool, rule: str|None, source: str, notes: str
    notes: str
    voltage: Quantity | None = None
    tick: Quantity | None = None
    static_power_scope: str = "chip"    # static_power is per 'chip' or per 'core'
    architecture: dict = field(default_factory=dict)   # name -> Quantity (integer counts);
                                        # empty, or every ARCHITECTURE_REQUIRED entry present
    area: Quantity | None = None
    sync_time: Quantity | None = None   # s: barrier / synchronisation per time step
    sync_by_tiles: tuple = ()           # ((tiles at least, s), ...): barrier by tiles used
    sync_by_tiles_source: str = ""
    defaulted: frozenset = frozenset()  # actions the profile leaves out, priced at their
                                        # documented default (chipsim/counts.py, assumed)
    error_route: str = "transposable"   # ERROR_ROUTES: how the chip carries the error back
    error_route_source: str = ("chipsim's default (the profile does not say): assumed, a "
                               "column read of synapse memory priced as a row read")

    @property
    def is_global(self) -> bool:
        return self.sop_energy_kind == "global_at_operating_point"

    @property
    def has_architecture(self) -> bool:
        """True when the profile describes its cores (what the mapping needs)."""
        return bool(self.architecture)

    def arch(self, name: str) -> int:
        """The integer value of ``architecture.<name>``; ``cores_per_router`` defaults to 1.

        Raises :class:`ChipsimError` naming the profile's file and the field when the profile
        has no architecture section (or lacks an optional entry that is asked for)."""
        if name not in ARCHITECTURE_FIELDS:
            raise ValueError(f"unknown architecture field {name!r}; known: "
                             f"{', '.join(ARCHITECTURE_FIELDS)}")
        q = self.architecture.get(name)
        if q is None:
            if name == "cores_per_router" and self.architecture:
                return 1
            raise ChipsimError(f"profile '{self.name}' does not give architecture.{name}",
                               file=self.path, field=f"architecture.{name}",
                               expected="an architecture section with cores, neurons_per_core, "
                                        "synapses_per_core, mesh_width, mesh_height, max_chips, "
                                        "shared_conv_kernels (hardware_profiles/README.md)")
        return int(q.value)

    def router_xy(self, core: int) -> tuple[int, int]:
        """Mesh position (x, y) of core ``core`` (0-based) of one chip: cores fill routers in
        order, ``cores_per_router`` per router, routers row by row (x fastest)."""
        cores = self.arch("cores")
        if not 0 <= core < cores:
            raise ValueError(f"core {core} out of range 0..{cores - 1}")
        router = core // self.arch("cores_per_router")
        width = self.arch("mesh_width")
        return router % width, router // width

    def sync_for(self, tiles: int) -> float:
        """The barrier of one step of a mapping on ``tiles`` tiles (s): the tile table's entry,
        else sync_time, else 0."""
        if self.sync_by_tiles:
            return float([t for k, t in self.sync_by_tiles if k <= max(int(tiles), 1)][-1])
        q = self.sync_time
        return float(q.value) if q is not None and q.value is not None else 0.0

    def energy_of(self, action: str, phase: str = "inference") -> float:
        """J per count of ``action`` in ``phase`` ('inference' | 'learning')."""
        if phase == "inference" and action in self.included_in_sop:
            return 0.0
        q = self.energy.get(action)
        return 0.0 if q is None or q.value is None else float(q.value)

    def quantities(self):
        """Every (dotted field, Quantity) of the profile, for checks and reports."""
        out = [("process", self.process), ("static_power", self.static_power)]
        for key in ("voltage", "clock", "tick", "sync_time", "area"):
            q = getattr(self, key)
            if q is not None:
                out.append((key, q))
        for group in ("precision", "memory", "architecture"):
            out += [(f"{group}.{k}", q) for k, q in getattr(self, group).items()]
        for name, q in self.energy.items():
            sub = "energy.learning" if name in self.included_in_sop else "energy"
            out.append((f"actions.{name}.{sub}", q))
        out += [(f"actions.{name}.time", q) for name, q in self.time.items()]
        return out


# ----------------------------------------------------------------------------------------
# finding profiles
# ----------------------------------------------------------------------------------------
def _profile_dirs():
    """Candidate directories holding NAME.yaml profiles, in order of preference."""
    import chipsim
    dirs = []
    src = Path(chipsim.__file__).resolve().parent.parent / "hardware_profiles"
    if src.is_dir():
        dirs.append(src)
    try:
        res = importlib.resources.files("chipsim").joinpath("_profiles")
        if res.is_dir():
            dirs.append(res)
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):  # pragma: no cover
        pass
    return dirs


def _profile_entries() -> dict:
    """name -> Path/Traversable of every shipped profile (first directory wins)."""
    found: dict = {}
    for d in _profile_dirs():
        for entry in sorted(d.iterdir(), key=lambda e: e.name):
            n = entry.name
            if entry.is_file() and n.endswith((".yaml", ".yml")) and not n.startswith("."):
                found.setdefault(n.rsplit(".", 1)[0], entry)
    return found


def list_profiles() -> list[str]:
    """Names of the shipped hardware profiles (``hardware_profiles/NAME.yaml``)."""
    return sorted(_profile_entries())


def _looks_like_path(name) -> bool:
    if isinstance(name, os.PathLike):
        return True
    s = str(name)
    return "/" in s or os.sep in s or s.endswith((".yaml", ".yml"))


def load_profile(name_or_path) -> HardwareProfile:
    """Load a profile by name (``'anp_i'``) or by path (``'my/chip.yaml'``)."""
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ChipsimError(f"no hardware profile given ({name_or_path!r})", field="profile",
                           expected="a profile name (" + ", ".join(list_profiles()) +
                           ") or a path to a .yaml file")
    if _looks_like_path(name_or_path):
        doc = load_yaml(name_or_path)
        return _build(doc)
    entries = _profile_entries()
    name = str(name_or_path)
    if name not in entries:
        avail = ", ".join(sorted(entries)) or "none found"
        raise ChipsimError(f"unknown hardware profile '{name}'; available: {avail}",
                           field="profile",
                           expected="one of the available names, or a path to a .yaml file")
    entry = entries[name]
    if isinstance(entry, Path):
        doc = load_yaml(entry)
    else:  # importlib.resources Traversable of an installed package
        doc = parse_yaml_text(entry.read_text(encoding="utf-8"), file=str(entry))
        if not isinstance(doc.data, dict):
            raise ChipsimError("the top level is not a mapping", file=str(entry),
                               expected="a YAML mapping of field: value")
    return _build(doc)


def profile_from_text(text: str, path: str = "<text>") -> HardwareProfile:
    """Build a profile from YAML text already in memory (e.g. the copy kept in a result)."""
    doc = parse_yaml_text(text, file=path)
    if not isinstance(doc.data, dict):
        raise ChipsimError("the top level is not a mapping", file=path,
                           expected="a YAML mapping of field: value")
    return _build(doc)


# ----------------------------------------------------------------------------------------
# the sections of a profile file
# ----------------------------------------------------------------------------------------
_QUANTITY_EXPECTED = ("a mapping {value: \"<number> <unit>\", source: \"...\", provenance: "
                      "measured|simulated|derived|assumed, reason: \"...\"}")
_NOUN = {"energy": "an energy", "power": "a power", "time": "a time",
         "frequency": "a frequency", "length": "a length", "memory": "a memory size",
         "area": "an area", "voltage": "a voltage"}


def _value_expected(dimension: str) -> str:
    return {"count": "an integer >= 1", "flag": "0 or 1"}.get(
        dimension, f"a {dimension} with a unit")


class Figure(Section):
    """A sourced figure: ``{value, source, provenance, reason}``."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "expected": _QUANTITY_EXPECTED,
        "scalar_hint": "write {{value: {value!r}, source: ..., provenance: ...}}"})
    #: what ``value`` measures: a dimension of chipsim.config.units, or 'count' / 'flag'
    dimension: ClassVar[str] = "energy"
    #: ``value`` may be null (unknown), with a reason
    nullable: ClassVar[bool] = False

    value: str = Field(description="the figure, a number and its unit")
    source: Text = Field(description=(
        "where the number comes from (paper, table, page, or the arithmetic that derives it); "
        "[key] refers to references"))
    provenance: Literal[PROVENANCES] = Field(description=(
        "measured (published by the cited source), simulated (pre-silicon simulation), "
        "derived (arithmetic on sourced figures), assumed (anything else; needs a reason)"))
    reason: Text | None = Field(None, description=(
        "why this value: required when the figure is assumed or null"))

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, raw):
        if raw is None:
            if cls.nullable:
                return None
            raise FieldProblem("is null but this figure is used (priced or required)",
                               _value_expected(cls.dimension) + "; if it is unknown, give your "
                               "best estimate with provenance: assumed and a reason")
        if cls.dimension in ("count", "flag"):
            return raw
        try:
            parse_quantity(raw, cls.dimension)
        except ChipsimError as e:
            raise FieldProblem(e.detail, e.expected) from None
        return " ".join(str(raw).split())

    @model_validator(mode="after")
    def _reason(self):
        if self.provenance == "assumed" and not self.reason:
            raise FieldProblem("an assumed figure needs a reason (why this value, from what)",
                               "reason: \"...\" next to provenance: assumed", field="reason")
        if self.value is None and not self.reason:
            raise FieldProblem("an unknown (null) figure needs a reason (e.g. NOT FOUND in ...)",
                               "reason: \"...\"", field="reason")
        return self

    def quantity(self) -> Quantity:
        """The figure as chipsim uses it: SI value, SI unit, the text as written."""
        if self.value is None:
            value, text = None, "null"
        elif self.dimension in ("count", "flag"):
            value, text = self.value, str(self.value)
        else:
            value, text = parse_quantity(self.value, self.dimension), self.value
        return Quantity(value=value, unit=_SI_UNIT[self.dimension], text=text,
                        source=self.source, provenance=self.provenance, reason=self.reason)


def _unit_value(dimension: str, nullable: bool = False):
    from chipsim.config.units import DIMENSIONS
    text = f"{_NOUN[dimension]} with a unit, e.g. {DIMENSIONS[dimension][2]}"
    return Field(description=text + ("; null: unknown (with a reason)" if nullable else ""),
                 json_schema_extra={"expected": text})


class EnergyFigure(Figure):
    dimension = "energy"
    value: str = _unit_value("energy")


class PowerFigure(Figure):
    dimension = "power"
    nullable = True          # a global profile's static power may be unknown (never added)
    value: str | None = _unit_value("power", True)


class TimeFigure(Figure):
    dimension = "time"
    value: str = _unit_value("time")


class FrequencyFigure(Figure):
    dimension = "frequency"
    value: str = _unit_value("frequency")


class LengthFigure(Figure):
    dimension = "length"
    value: str = _unit_value("length")


class AreaFigure(Figure):
    dimension = "area"
    value: str = _unit_value("area")


class VoltageFigure(Figure):
    dimension = "voltage"
    value: str = _unit_value("voltage")


class MemoryFigure(Figure):
    dimension = "memory"
    nullable = True
    value: str | None = _unit_value("memory", True)


class CountFigure(Figure):
    dimension = "count"
    value: int = Field(ge=1, description="an integer (no unit)")


class FlagFigure(Figure):
    dimension = "flag"
    value: int = Field(ge=0, le=1, description="0 or 1")


class Precision(Section):
    """Word widths in bits, integer figures with sources."""

    weight_bits: CountFigure = Field(description="bits of a weight word")
    state_bits: CountFigure = Field(description="bits of a neuron-state word (membrane potential)")
    trace_bits: CountFigure = Field(description="bits of a trace word")
    grad_bits: CountFigure = Field(description="bits of a gradient-accumulator word")


class Memory(Section):
    """Memory sizes, informational (figures of kind memory; null when unknown)."""

    sram_total: MemoryFigure = Field(None, description="on-chip SRAM in total")
    sram_per_core: MemoryFigure = Field(None, description="SRAM of one core")
    synapse_memory_per_core: MemoryFigure = Field(None, description=(
        "synapse (weight) memory of one core"))
    neuron_memory_per_core: MemoryFigure = Field(None, description=(
        "neuron-state memory of one core"))
    synapse_memory_total: MemoryFigure = Field(None, description=(
        "synapse memory of the chip"))


_ARCH_MISSING = {
    "missing": "missing architecture entry '{name}': the mapping of layers onto cores needs all "
               "of " + ", ".join(ARCHITECTURE_REQUIRED),
    "expected": "{name}: {value: <integer>, source: ..., provenance: ...} (assumed with a reason "
                "if not published)"}


class Architecture(Section):
    """What the mapping and the cycle model read: integer figures, all required entries or no
    section at all."""

    cores: CountFigure = Field(description="cores of one chip", json_schema_extra=_ARCH_MISSING)
    neurons_per_core: CountFigure = Field(description="neurons (compartments) one core holds",
                                          json_schema_extra=_ARCH_MISSING)
    synapses_per_core: CountFigure = Field(description="weight words one core stores",
                                           json_schema_extra=_ARCH_MISSING)
    fan_in_per_core: CountFigure = Field(None, description=(
        "input axons one core supports"))
    fan_out_per_core: CountFigure = Field(None, description=(
        "output edges one core supports"))
    mesh_width: CountFigure = Field(description=(
        "routers in a row of one chip's grid; spikes travel X-Y, one router_hop per grid step"),
        json_schema_extra=_ARCH_MISSING)
    mesh_height: CountFigure = Field(description="routers in a column of one chip's grid",
                                     json_schema_extra=_ARCH_MISSING)
    cores_per_router: CountFigure = Field(None, description=(
        "cores sharing one router (absent: 1); cores fill routers in order, routers row by row; "
        "mesh_width x mesh_height x cores_per_router >= cores"))
    max_chips: CountFigure = Field(description=(
        "1: the chip cannot be tiled and a network that does not fit is refused; > 1: systems "
        "of that many chips exist, inter-chip packets are chip_messages"),
        json_schema_extra=_ARCH_MISSING)
    message_overlap: FlagFigure = Field(None, description=(
        "1: a core takes in messages (and their synaptic look-ups) while it updates its "
        "neurons, so its step time is the longer of the two (SANA-FE's Loihi model); 0 or "
        "absent: the sum"))
    shared_conv_kernels: FlagFigure = Field(description=(
        "1: a core stores a convolution kernel once and reuses it at every position; 0: every "
        "synapse of a convolution is stored"), json_schema_extra=_ARCH_MISSING)

    @model_validator(mode="after")
    def _mesh(self):
        cores = self.cores.value
        per_router = self.cores_per_router.value if self.cores_per_router is not None else 1
        slots = self.mesh_width.value * self.mesh_height.value * per_router
        if slots < cores:
            raise FieldProblem(f"a {self.mesh_width.value} x {self.mesh_height.value} mesh with "
                               f"{per_router} core(s) per router holds {slots} cores, fewer than "
                               f"cores = {cores}", "mesh_width x mesh_height x cores_per_router "
                               ">= cores", field="mesh_width")
        if per_router > cores:
            raise FieldProblem(f"{per_router} cores per router but only {cores} cores",
                               "cores_per_router <= cores", field="cores_per_router")
        return self


#: The entries of each section, from the models.
PRECISION_FIELDS = tuple(Precision.model_fields)
MEMORY_FIELDS = tuple(Memory.model_fields)
ARCHITECTURE_FIELDS = tuple(Architecture.model_fields)
#: architecture entries that are 0/1 flags rather than counts >= 1
ARCHITECTURE_FLAGS = tuple(k for k, f in Architecture.model_fields.items()
                           if f.annotation is FlagFigure)


class SyncByTiles(Section):
    """The barrier of one time step by the number of tiles (routers) the mapping uses: the
    entry with the largest tile count not above the mapping's applies."""

    table: Annotated[dict[int, str], Field(min_length=1)] = Field(description=(
        "tiles used (at least) -> time, e.g. {1: 0.6 us, 2: 1.0 us, 4: 1.4 us, 29: 1.8 us}"),
        json_schema_extra={"expected": "a mapping of tile count (an integer >= 1) to a time"})
    source: Text = Field(description="where the table comes from")
    provenance: Literal[PROVENANCES] = Field(description="as every figure")
    reason: Text | None = Field(None, description="required when assumed")

    @field_validator("table")
    @classmethod
    def _times(cls, table):
        for k, v in table.items():
            if k < 1:
                raise FieldProblem(f"tile count {k}", "tile counts >= 1", field=str(k))
            try:
                parse_quantity(v, "time")
            except ChipsimError as e:
                raise FieldProblem(e.detail, e.expected, field=str(k)) from None
        if 1 not in table:
            raise FieldProblem("has no entry for 1 tile", "an entry for 1 tile (the smallest "
                               "mapping)")
        return table

    @model_validator(mode="after")
    def _reason(self):
        if self.provenance == "assumed" and not self.reason:
            raise FieldProblem("an assumed figure needs a reason", "reason: \"...\"",
                               field="reason")
        return self

    def entries(self) -> tuple:
        """((tiles, seconds), ...) sorted by tiles."""
        return tuple(sorted((int(k), parse_quantity(v, "time")) for k, v in self.table.items()))


#: how a chip carries the error backwards across a weight matrix (``learning.error_delivery``)
ERROR_ROUTES = ("transposed_copy", "transposable", "readout_only", "none")


class ErrorDelivery(Section):
    """How the chip delivers the error to a hidden layer: through the transposed forward
    weights (W^T, which BPTT, SLTT, OTTT and TBPTT-local need), or not at all (DFA and e-prop
    deliver it through fixed feedback matrices, read as ``mem_read_feedback``)."""

    route: Literal[ERROR_ROUTES] = Field(description=(
        "transposed_copy: a second, transposed copy of every weight matrix the error crosses "
        "(double those weights' memory; a column read of W is a row read of the copy, priced as "
        "mem_read_weight; every weight update writes both copies); transposable: the synapse "
        "memory reads a column in place (mem_read_weight_transposed at its own price, or as "
        "mem_read_weight); readout_only: only the readout's weights are read for the error "
        "(stored presynaptic-major, as ReckOn's output weights), no hidden weight matrix; none: "
        "no error crosses any weight matrix. A rule that needs a W^T the chip cannot read is "
        "refused on it"))
    source: Text = Field(description="where this comes from; [key] refers to references")
    provenance: Literal[PROVENANCES] = Field(description="as every figure")
    reason: Text | None = Field(None, description="required when assumed")

    @model_validator(mode="after")
    def _reason(self):
        if self.provenance == "assumed" and not self.reason:
            raise FieldProblem("an assumed statement needs a reason (why this route, from what)",
                               "reason: \"...\" next to provenance: assumed", field="reason")
        return self


class Learning(Section):
    """Whether and how the chip learns."""

    on_chip: bool = Field(description="the chip learns on chip")
    rule: Text | None = Field(None, description="the chip's own learning rule, if it names one")
    source: Text = Field(description="where this comes from")
    notes: str = Field("", description="anything else")
    error_delivery: ErrorDelivery = Field(None, description=(
        "how the chip carries the error to hidden layers (absent: transposable, assumed)"))


class IncludedEnergy(Section):
    """An inference action inside a global profile's all-in SOP figure."""

    included_in_sop: bool = Field(description=(
        "true: priced 0 J in the inference phase (inside the SOP average); only in a "
        "global_at_operating_point profile, and only on " + ", ".join(INCLUDABLE)))
    learning: EnergyFigure = Field(description=(
        "the energy of the same action in the learning phase, which the all-in average does "
        "not cover"), json_schema_extra={
            "missing": "an included action still needs its own figure for the learning phase, "
                       "where the all-in average does not cover it",
            "expected": "learning: {value: ..., source: ..., provenance: ...}"})

    @field_validator("included_in_sop")
    @classmethod
    def _true(cls, v: bool) -> bool:
        if not v:
            raise FieldProblem("false is not needed",
                               "give the energy quantity directly, without included_in_sop")
        return v


def _energy_kind(value) -> str:
    return "included" if isinstance(value, dict) and "included_in_sop" in value else "figure"


class ActionPrice(Section):
    """The price of one count of an action: its energy and its time."""

    energy: Annotated[Union[Annotated[EnergyFigure, Tag("figure")],
                            Annotated[IncludedEnergy, Tag("included")]],
                      Discriminator(_energy_kind)] = Field(description=(
                          "J per count, one figure for both phases; or {included_in_sop: true, "
                          "learning: <figure>} in a global profile"))
    time: TimeFigure = Field(description=(
        "s per count, both phases (0 s where it overlaps the operation that uses it)"))

    @field_validator("time", mode="before")
    @classmethod
    def _not_included(cls, raw):
        if isinstance(raw, dict) and "included_in_sop" in raw:
            raise FieldProblem("times are never included in the SOP figure", "the action's own "
                               "time quantity (0 s if it overlaps the operation that uses it)")
        return raw


class _ActionsBase(Section):
    @model_validator(mode="before")
    @classmethod
    def _unpriced(cls, data):
        if isinstance(data, dict):
            for key in data:
                if key in UNPRICED_NAMES:
                    raise FieldProblem(f"'{key}' is a NeuroBench metric, counted but never priced",
                                       "remove it from 'actions'", field=str(key))
        return data

    @model_validator(mode="after")
    def _includable(self):
        for name in PRICED_NAMES:
            price = getattr(self, name)
            if price is not None and isinstance(price.energy, IncludedEnergy) and \
                    name not in INCLUDABLE:
                raise FieldProblem(f"'{name}' is not inference work that an all-in SOP average "
                                   "can contain",
                                   "included_in_sop only on " + ", ".join(INCLUDABLE),
                                   field=f"{name}.energy.included_in_sop")
        return self


def _action_field(action):
    name, info = action.name.lower(), ACTION_INFO[action]
    if info.priced_as:
        return ActionPrice, Field(None, description=info.description + (
            f" (absent: priced as the profile's {info.priced_as}, assumed)"))
    if info.default is None:
        return ActionPrice, Field(description=info.description, json_schema_extra={
            "missing": "missing price for action '{name}': every priced action needs an energy "
                       "and a time",
            "expected": f"{name}: {{energy: {{value: ..., source: ..., provenance: ...}}, time: "
                        "{...}}"})
    return ActionPrice, Field(None, description=info.description)


#: ``actions``: one optional-or-required field per priced action of chipsim.counts (an action
#: with a default price there may be left out).
Actions = create_model("Actions", __base__=_ActionsBase, __doc__=(
    "The price list: one entry per priced action of chipsim/counts.py."),
    **{a.name.lower(): _action_field(a) for a in PRICED_ACTIONS})


_NULL_STATIC_POWER = ("is null but this figure is used (priced or required)",
                      "a power with a unit; if it is unknown, give your best estimate with "
                      "provenance: assumed and a reason")


class ProfileFile(Section):
    """A hardware profile YAML file: one chip, every number with its source."""

    # An optional figure or section may be left out (default None); it may not be written as
    # null, which would drop it without the reason an unknown figure needs.

    name: Text = Field(description="short name, shown in reports")
    title: Text = Field(description="one line: the chip and the source of its figures")
    notes: Text = Field(description=(
        "the decisions (e.g. why global or incremental), how assumed figures were made"))
    references: Annotated[dict[str, Text], Field(min_length=1)] = Field(
        json_schema_extra={"expected": "a non-empty mapping of key: citation"},
        description="key: full citation, referred to as [key] in sources")
    process: LengthFigure = Field(description="the process node")
    area: AreaFigure = Field(None, description="the chip's area")
    voltage: VoltageFigure = Field(None, description=(
        "the voltage of the operating point the figures belong to"))
    timing: Literal[TIMINGS] = Field(description=(
        "asynchronous (a step lasts as long as its events), clocked, or tick (a fixed time step)"))
    clock: FrequencyFigure = Field(None, description="the clock (required when clocked)")
    tick: TimeFigure = Field(None, description=(
        "the fixed time-step period (required with timing tick, only then)"))
    sync_time: TimeFigure = Field(None, description=(
        "the barrier / synchronisation of one time step on one chip, added once per step by "
        "the cycle model; absent: none"))
    sync_time_by_tiles: SyncByTiles = Field(None, description=(
        "the barrier by the number of tiles the mapping uses (replaces sync_time when the run "
        "is mapped)"))
    sop_energy_kind: Literal[SOP_ENERGY_KINDS] = Field(description=(
        "incremental: the marginal cost of one more synaptic operation; "
        "global_at_operating_point: whole-chip power / SOP rate at one operating point "
        "(hardware_profiles/README.md)"))
    static_power: PowerFigure = Field(description=(
        "added as static_power x modelled time in an incremental profile; may be null (with a "
        "reason) in a global one, where it is never added"))
    static_power_scope: Literal[STATIC_SCOPES] = Field("chip", description=(
        "what the static power covers: the chip, or one core (multiplied by the cores used)"))
    precision: Precision = Field(description="word widths")
    memory: Memory = Field(None, description="memory sizes (informational)")
    architecture: Architecture = Field(None, description=(
        "cores, capacities and the router mesh: what mapping needs; absent only in a profile "
        "that prices counts and is never mapped"))
    learning: Learning = Field(description="on-chip learning")
    actions: Actions = Field(description="the price of every action")

    @model_validator(mode="before")
    @classmethod
    def _static_power_used(cls, data):
        """A null static power is refused where it is added (incremental), before the reason an
        unknown figure needs is asked for: a reason would not make it usable."""
        if isinstance(data, dict) and data.get("sop_energy_kind") == "incremental":
            sp = data.get("static_power")
            if isinstance(sp, dict) and "value" in sp and sp["value"] is None:
                raise FieldProblem(*_NULL_STATIC_POWER, field="static_power.value")
        return data

    @model_validator(mode="after")
    def _rules(self):
        if self.timing == "clocked" and self.clock is None:
            raise FieldProblem("a clocked chip needs its clock frequency",
                               "clock: {value: \"<f> MHz\", ...}", field="clock")
        if self.timing == "tick" and self.tick is None:
            raise FieldProblem("a fixed-tick chip needs its tick period",
                               "tick: {value: \"1 ms\", ...}", field="tick")
        if self.timing != "tick" and self.tick is not None:
            raise FieldProblem(f"a tick period is given but timing is '{self.timing}'",
                               "timing: tick, or remove 'tick'", field="tick")
        is_global = self.sop_energy_kind == "global_at_operating_point"
        if self.static_power.value is None and not is_global:
            raise FieldProblem(*_NULL_STATIC_POWER, field="static_power.value")
        if not is_global:
            for name in PRICED_NAMES:
                price = getattr(self.actions, name)
                if price is not None and isinstance(price.energy, IncludedEnergy):
                    raise FieldProblem(
                        "an incremental profile prices every action on its own; nothing can be "
                        "included in its SOP figure",
                        "sop_energy_kind: global_at_operating_point, or a priced energy quantity",
                        field=f"actions.{name}.energy.included_in_sop")
        return self


# ----------------------------------------------------------------------------------------
# from the file's sections to the chip
# ----------------------------------------------------------------------------------------
def default_price(name: str) -> tuple[Quantity, Quantity] | None:
    """(energy, time) of action ``name`` at its documented default (chipsim/counts.py), as
    ``assumed`` figures that say they are the registry's default; None if it has none."""
    d = ACTION_INFO[Action[name.upper()]].default
    if d is None:
        return None
    source = (f"chipsim's default price of '{name}' (chipsim/counts.py ACTION_INFO; the profile "
              f"gives none): {d.source}")
    return (Quantity(value=d.energy, unit="J", text=format_si(d.energy, "J"), source=source,
                     provenance="assumed", reason=d.reason),
            Quantity(value=d.time, unit="s", text=format_si(d.time, "s"), source=source,
                     provenance="assumed", reason=d.reason))


def _figures(section) -> dict:
    if section is None:
        return {}
    return {k: fig.quantity() for k, fig in section if fig is not None}


def _build(doc) -> HardwareProfile:
    spec = validate(ProfileFile, doc)
    energy, time, included, defaulted = {}, {}, [], []
    as_other = []
    for name in PRICED_NAMES:
        price = getattr(spec.actions, name)
        if price is None and ACTION_INFO[Action[name.upper()]].priced_as:
            as_other.append(name)                  # priced below, as the profile's other action
            continue
        if price is None:
            energy[name], time[name] = default_price(name)
            defaulted.append(name)
            continue
        if isinstance(price.energy, IncludedEnergy):
            energy[name] = price.energy.learning.quantity()
            included.append(name)
        else:
            energy[name] = price.energy.quantity()
        time[name] = price.time.quantity()
    for name in as_other:
        other = ACTION_INFO[Action[name.upper()]].priced_as
        why = (f"the profile gives no {name}; priced as its own {other} (chipsim/counts.py "
               f"ACTION_INFO: {ACTION_INFO[Action[name.upper()]].description})")
        for table in (energy, time):
            q = table[other]
            table[name] = dataclasses.replace(q, provenance="assumed",
                                              source=f"as {other}: {q.source}", reason=why)
        # (learning work only: for an action inside an all-in SOP, the figure taken is its
        # learning-phase one, as energy[other] holds it)
        defaulted.append(name)
    opt = {k: (None if getattr(spec, k) is None else getattr(spec, k).quantity())
           for k in ("area", "voltage", "clock", "tick", "sync_time")}
    return HardwareProfile(
        name=spec.name, title=spec.title, path=doc.path, text=doc.text,
        references=dict(spec.references), process=spec.process.quantity(), timing=spec.timing,
        sop_energy_kind=spec.sop_energy_kind, energy=energy, time=time,
        included_in_sop=frozenset(included), static_power=spec.static_power.quantity(),
        precision=_figures(spec.precision), memory=_figures(spec.memory),
        learning={k: v for k, v in spec.learning if k != "error_delivery"}, notes=spec.notes,
        static_power_scope=spec.static_power_scope, architecture=_figures(spec.architecture),
        defaulted=frozenset(defaulted),
        sync_by_tiles=spec.sync_time_by_tiles.entries() if spec.sync_time_by_tiles else (),
        sync_by_tiles_source=(f"{spec.sync_time_by_tiles.source} ({spec.sync_time_by_tiles.provenance})"
                              if spec.sync_time_by_tiles else ""),
        **_error_route(spec.learning.error_delivery), **opt)


def _error_route(d) -> dict:
    if d is None:
        return {}
    text = f"{d.source} ({d.provenance}" + (f": {d.reason})" if d.reason else ")")
    return {"error_route": d.route, "error_route_source": " ".join(text.split())}


# ----------------------------------------------------------------------------------------
# display
# ----------------------------------------------------------------------------------------
def _fmt(q: Quantity | None) -> str:
    from chipsim.config.units import format_si
    if q is None:
        return "-"
    if q.value is None:
        return "unknown"
    if q.unit == "":                      # integer counts
        return str(q.value)
    return format_si(q.value, q.unit)


def _row(field: str, q: Quantity | None, indent: str = "    ", width: int = 24) -> str:
    """One figure: ``field  value  provenance  source (reason)``."""
    if q is None:
        return f"{indent}{field:{width}s} -"
    src = " ".join(q.source.split())
    if q.reason:
        src += f" (reason: {' '.join(q.reason.split())})"
    text = q.text if q.value is not None else "unknown"
    return f"{indent}{field:{width}s} {text:>12s}  {q.provenance:9s}  {src}"


def assumed_action_prices(profile: HardwareProfile) -> tuple[int, int]:
    """(assumed, total) over the energy and time figures of every priced action."""
    qs = [profile.energy[n] for n in PRICED_NAMES] + [profile.time[n] for n in PRICED_NAMES]
    return sum(q.assumed for q in qs), len(qs)


def _timing_text(p: HardwareProfile) -> str:
    if p.timing == "tick":
        return f"tick {_fmt(p.tick)}" + (f" ({_fmt(p.clock)} clock)" if p.clock else "")
    if p.timing == "clocked":
        return f"clocked {_fmt(p.clock)}"
    return "asynchronous" + (f" ({_fmt(p.clock)} datapath)" if p.clock else "")


def describe_profile(profile: HardwareProfile) -> str:
    """A human-readable page: the chip, its pricing rule and every figure with its provenance
    and source (what ``chipsim profiles NAME`` prints)."""
    p = profile
    lines = [f"{p.name}: {p.title}", f"  file: {p.path}", ""]
    lines.append(f"  process {_fmt(p.process)}, timing {p.timing}"
                 + (f", clock {_fmt(p.clock)}" if p.clock else "")
                 + (f", tick {_fmt(p.tick)}" if p.tick else "")
                 + (f", {_fmt(p.voltage)}" if p.voltage else ""))
    if p.is_global:
        lines.append("  SOP energy: global_at_operating_point (an all-in average; static power "
                     "and the actions marked [in SOP] cost 0 in inference)")
    else:
        lines.append("  SOP energy: incremental (every action priced on its own, plus static "
                     "power x modelled time)")
    sp = p.static_power
    lines.append(f"  static power: {_fmt(sp)} per {p.static_power_scope} [{sp.provenance}]"
                 + (" (not added)" if p.is_global else ""))
    prec = ", ".join(f"{k.replace('_bits', '')} {int(q.value)}" for k, q in p.precision.items())
    lines.append(f"  precision (bits): {prec}")
    if p.has_architecture:
        lines.append(f"  cores: {p.arch('cores')} x {p.arch('neurons_per_core')} neurons, "
                     f"{p.arch('synapses_per_core')} synapses per core; mesh "
                     f"{p.arch('mesh_width')} x {p.arch('mesh_height')}"
                     + (f" routers, {p.arch('cores_per_router')} cores each"
                        if p.arch("cores_per_router") > 1 else "")
                     + f"; up to {p.arch('max_chips')} chip(s); conv kernels "
                     + ("shared" if p.arch("shared_conv_kernels") else "stored per synapse"))
    else:
        lines.append("  cores: no architecture section (prices counts; cannot be mapped)")
    lines.append(f"  on-chip learning: {'yes' if p.learning.get('on_chip') else 'no'}"
                 + (f" ({p.learning['rule']})" if p.learning.get("rule") else ""))

    lines += ["", "  chip figures (value, provenance, source):"]
    for key in ("process", "area", "voltage", "clock", "tick", "sync_time"):
        q = getattr(p, key)
        if q is not None:
            lines.append(_row(key, q))
    if p.sync_by_tiles:
        table = ", ".join(f"{k}: {format_si(t, 's')}" for k, t in p.sync_by_tiles)
        lines.append(f"    {'sync_time_by_tiles':24s} {{{table}}}  {p.sync_by_tiles_source}")
    lines.append(_row(f"static_power ({p.static_power_scope})", sp))
    for group in ("precision", "memory", "architecture"):
        figs = getattr(p, group)
        if figs:
            lines.append(f"  {group}:")
            lines += [_row(k, q) for k, q in figs.items()]
    lines.append("  learning:")
    lines.append(f"    on_chip {'true' if p.learning.get('on_chip') else 'false'}; source: "
                 + " ".join(str(p.learning.get("source", "")).split()))
    if p.learning.get("notes"):
        lines.append("    notes: " + " ".join(str(p.learning["notes"]).split()))
    lines.append(f"    error delivery: {p.error_route}; {p.error_route_source}")

    lines.append("")
    lines.append(f"  {'action':24s} {'energy':>11s} {'time':>9s}  provenance  source")
    for name in PRICED_NAMES:
        e, t = p.energy[name], p.time[name]
        etext = _fmt(e)
        if name in p.included_in_sop:
            etext = "[in SOP]"
        prov = e.provenance if e.provenance == t.provenance else f"{e.provenance}/{t.provenance}"
        src = e.source
        if name in p.included_in_sop:
            src = f"learning phase {_fmt(e)}: {src}"
        lines.append(f"  {name:24s} {etext:>11s} {_fmt(t):>9s}  {prov:10s}  "
                     + " ".join(src.split()))
    lines += ["", "  every action figure with its source:"]
    for name in PRICED_NAMES:
        e, t = p.energy[name], p.time[name]
        label = "energy (learning phase)" if name in p.included_in_sop else "energy"
        lines.append(f"    {name}")
        lines.append(_row(label, e, indent="      ", width=23))
        lines.append(_row("time", t, indent="      ", width=23))

    n_assumed = sum(q.assumed for _, q in p.quantities())
    a_act, n_act = assumed_action_prices(p)
    lines.append("")
    lines.append(f"  {n_assumed} of {len(p.quantities())} figures are assumed "
                 f"({a_act} of {n_act} action prices); each says why.")
    if p.defaulted:
        lines.append(f"  {len(p.defaulted)} action(s) the profile leaves out are priced at "
                     "chipsim's documented default (chipsim/counts.py, assumed): "
                     + ", ".join(n for n in PRICED_NAMES if n in p.defaulted) + ".")
    lines += ["", "  references:"]
    lines += [f"    [{k}] " + " ".join(v.split()) for k, v in p.references.items()]
    if p.notes:
        lines.append("")
        lines.append("  notes:")
        lines += ["    " + ln for ln in p.notes.rstrip().splitlines()]
    return "\n".join(lines)


def profile_summary(profile: HardwareProfile) -> dict:
    """The key figures of one profile, as text, for the table of ``chipsim profiles``."""
    p = profile
    kind = "global" if p.is_global else "incremental"
    if p.is_global:
        static = "in SOP (not added)"
    else:
        static = f"{p.static_power.text}/{p.static_power_scope}"
    if p.has_architecture:
        cores = f"{p.arch('cores')} x {p.arch('neurons_per_core')}"
    else:
        cores = "-"
    a, n = assumed_action_prices(p)
    return {"name": p.name, "process": _fmt(p.process),
            "SOP energy": f"{p.energy['synop'].text} {kind}", "static power": static,
            "timing": _timing_text(p), "cores x neurons": cores,
            "assumed prices": f"{a}/{n} ({100.0 * a / n:.0f}%)"}


def profiles_table(names=None) -> tuple[str, list]:
    """An aligned table of every shipped profile (or ``names``) with its key figures.

    Returns ``(text, errors)``: a profile that does not load shows its error in its row and
    is listed in ``errors`` as ``(name, message)``."""
    names = list_profiles() if names is None else list(names)
    cols = ("name", "process", "SOP energy", "static power", "timing", "cores x neurons",
            "assumed prices")
    rows, errors = [], []
    for name in names:
        try:
            rows.append(profile_summary(load_profile(name)))
        except ChipsimError as exc:
            errors.append((name, str(exc)))
            rows.append({"name": name, "process": "ERROR: " + str(exc)})
    widths = {c: max([len(c)] + [len(r.get(c, "")) for r in rows if not
                                 r.get("process", "").startswith("ERROR")]) for c in cols}
    def line(r):
        if r.get("process", "").startswith("ERROR"):
            return f"{r['name']:{widths['name']}s}  {r['process']}"
        return "  ".join(f"{r.get(c, ''):{widths[c]}s}" for c in cols).rstrip()
    out = [line({c: c for c in cols}), "  ".join("-" * widths[c] for c in cols)]
    out += [line(r) for r in rows]
    out += ["", "SOP energy kind: global = an all-in average at one operating point (static power "
            "and inference neuron/memory work inside it); incremental = the marginal cost, "
            "everything else priced apart.",
            "assumed prices: action energy and time figures tagged 'assumed' (not published).",
            "chipsim profiles NAME shows every figure of one profile with its source."]
    return "\n".join(out), errors
