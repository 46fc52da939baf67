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
    learning {on_chip, rule?, source, notes?}
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

import importlib.resources
import os
from dataclasses import dataclass, field
from pathlib import Path

from chipsim.config.yamlio import Section, load_yaml, parse_yaml_text
from chipsim.counts import ACTION_NAMES, PRICED_ACTIONS
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
PRECISION_FIELDS = ("weight_bits", "state_bits", "trace_bits", "grad_bits")
MEMORY_FIELDS = ("sram_total", "sram_per_core", "synapse_memory_per_core",
                 "neuron_memory_per_core", "synapse_memory_total")
#: What the mapping and the cycle model read. ``architecture`` may be left out as a whole (a
#: profile that only prices counts); when it is given, every entry of ARCHITECTURE_REQUIRED is.
ARCHITECTURE_FIELDS = ("cores", "neurons_per_core", "synapses_per_core", "fan_in_per_core",
                       "fan_out_per_core", "mesh_width", "mesh_height", "cores_per_router",
                       "max_chips", "shared_conv_kernels")
ARCHITECTURE_REQUIRED = ("cores", "neurons_per_core", "synapses_per_core", "mesh_width",
                         "mesh_height", "max_chips", "shared_conv_kernels")
#: architecture entries that are 0/1 flags rather than counts >= 1
ARCHITECTURE_FLAGS = ("shared_conv_kernels",)
LEARNING_FIELDS = ("on_chip", "rule", "source", "notes")
QUANTITY_FIELDS = ("value", "source", "provenance", "reason")
TOP_FIELDS = ("name", "title", "notes", "references", "process", "area", "voltage", "timing",
              "clock", "tick", "sync_time", "sop_energy_kind", "static_power",
              "static_power_scope", "precision", "memory", "architecture", "learning", "actions")

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
# validation
# ----------------------------------------------------------------------------------------
_QUANTITY_EXPECTED = ("a mapping {value: \"<number> <unit>\", source: \"...\", provenance: "
                      "measured|simulated|derived|assumed, reason: \"...\"}")


def _quantity(sec: Section, key: str, dimension: str, *, allow_null: bool = False,
              default=...) -> Quantity | None:
    """Read ``sec[key]`` as a sourced quantity of ``dimension`` ('count' for integers)."""
    if default is not ... and not sec.has(key):
        return default
    raw = sec.raw(key, expected=_QUANTITY_EXPECTED)
    if not isinstance(raw, dict):
        hint = ""
        if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
            hint = f"; write {{value: {raw!r}, source: ..., provenance: ...}}"
        raise sec.error(key, f"got {raw!r}{hint}", _QUANTITY_EXPECTED)
    q = sec.section(key, QUANTITY_FIELDS)
    value_expected = {"count": "an integer >= 1", "flag": "0 or 1"}.get(
        dimension, f"a {dimension} with a unit")
    raw_value = q.raw("value", expected=value_expected + (" or null" if allow_null else ""))
    if raw_value is None:
        if not allow_null:
            raise q.error("value", "is null but this figure is used (priced or required)",
                          value_expected + "; if it is unknown, give your best estimate with "
                          "provenance: assumed and a reason")
        value, text = None, "null"
    elif dimension in ("count", "flag"):
        value = q.int("value", lo=1) if dimension == "count" else q.int("value", lo=0, hi=1)
        text = str(value)
    else:
        value = q.quantity("value", dimension)
        text = " ".join(str(raw_value).split())
    source = q.str("source")
    provenance = q.str("provenance", choices=PROVENANCES)
    reason = q.str("reason", None, allow_none=True)
    if provenance == "assumed" and not reason:
        raise ChipsimError("an assumed figure needs a reason (why this value, from what)",
                           file=sec.doc.path, field=q.path("reason"),
                           expected="reason: \"...\" next to provenance: assumed")
    if value is None and not reason:
        raise ChipsimError("an unknown (null) figure needs a reason (e.g. NOT FOUND in ...)",
                           file=sec.doc.path, field=q.path("reason"),
                           expected="reason: \"...\"")
    return Quantity(value=value, unit=_SI_UNIT[dimension], text=text, source=source,
                    provenance=provenance, reason=reason)


def _group(top: Section, key: str, fields: tuple, dimension: str, *, required: bool,
           allow_null: bool) -> dict:
    if not top.has(key) and not required:
        return {}
    sec = top.section(key, fields)
    out = {}
    for f in fields:
        if required or sec.has(f):
            out[f] = _quantity(sec, f, dimension, allow_null=allow_null)
    return out


def _architecture(top: Section) -> dict:
    """The ``architecture`` section: absent (``{}``), or complete and consistent."""
    if not top.has("architecture"):
        return {}
    sec = top.section("architecture", ARCHITECTURE_FIELDS)
    for f in ARCHITECTURE_REQUIRED:
        if not sec.has(f):
            raise ChipsimError(
                f"missing architecture entry '{f}': the mapping of layers onto cores needs "
                "all of " + ", ".join(ARCHITECTURE_REQUIRED), file=top.doc.path,
                field=sec.path(f),
                expected=f"{f}: {{value: <integer>, source: ..., provenance: ...}} "
                         "(assumed with a reason if not published)")
    out = {}
    for f in ARCHITECTURE_FIELDS:
        if sec.has(f):
            out[f] = _quantity(sec, f, "flag" if f in ARCHITECTURE_FLAGS else "count")
    cores = out["cores"].value
    per_router = out["cores_per_router"].value if "cores_per_router" in out else 1
    slots = out["mesh_width"].value * out["mesh_height"].value * per_router
    if slots < cores:
        raise sec.error("mesh_width", f"a {out['mesh_width'].value} x "
                        f"{out['mesh_height'].value} mesh with {per_router} core(s) per router "
                        f"holds {slots} cores, fewer than cores = {cores}",
                        "mesh_width x mesh_height x cores_per_router >= cores")
    if per_router > cores:
        raise sec.error("cores_per_router", f"{per_router} cores per router but only {cores} "
                        "cores", "cores_per_router <= cores")
    return out


def _references(top: Section) -> dict:
    raw = top.raw("references", expected="a mapping of key: citation")
    if not isinstance(raw, dict) or not raw:
        raise top.error("references", f"got {raw!r}", "a non-empty mapping of key: citation")
    out = {}
    for k, v in raw.items():
        if not isinstance(v, str) or not v.strip():
            raise top.error(f"references.{k}", f"got {v!r}", "a citation string")
        out[str(k)] = v
    return out


def _build(doc) -> HardwareProfile:
    top = Section(doc, doc.data, "", TOP_FIELDS)
    name = top.str("name")
    title = top.str("title")
    notes = top.str("notes")
    references = _references(top)
    kind = top.str("sop_energy_kind", choices=SOP_ENERGY_KINDS)
    is_global = kind == "global_at_operating_point"

    process = _quantity(top, "process", "length")
    area = _quantity(top, "area", "area", default=None)
    voltage = _quantity(top, "voltage", "voltage", default=None)
    timing = top.str("timing", choices=TIMINGS)
    clock = _quantity(top, "clock", "frequency", default=None)
    tick = _quantity(top, "tick", "time", default=None)
    if timing == "clocked" and clock is None:
        raise top.error("clock", "a clocked chip needs its clock frequency",
                        "clock: {value: \"<f> MHz\", ...}")
    if timing == "tick" and tick is None:
        raise top.error("tick", "a fixed-tick chip needs its tick period",
                        "tick: {value: \"1 ms\", ...}")
    if timing != "tick" and tick is not None:
        raise top.error("tick", f"a tick period is given but timing is '{timing}'",
                        "timing: tick, or remove 'tick'")

    static_power = _quantity(top, "static_power", "power", allow_null=is_global)
    scope = top.str("static_power_scope", "chip", choices=STATIC_SCOPES)

    precision = _group(top, "precision", PRECISION_FIELDS, "count", required=True,
                       allow_null=False)
    memory = _group(top, "memory", MEMORY_FIELDS, "memory", required=False, allow_null=True)
    architecture = _architecture(top)
    sync_time = _quantity(top, "sync_time", "time", default=None)

    ls = top.section("learning", LEARNING_FIELDS)
    learning = {"on_chip": ls.bool("on_chip"), "rule": ls.str("rule", None, allow_none=True),
                "source": ls.str("source"), "notes": ls.str("notes", "", nonempty=False)}

    energy, time, included = _actions(top, is_global)
    return HardwareProfile(
        name=name, title=title, path=doc.path, text=doc.text, references=references,
        process=process, timing=timing, clock=clock, sop_energy_kind=kind, energy=energy,
        time=time, included_in_sop=frozenset(included), static_power=static_power,
        precision=precision, memory=memory, learning=learning, notes=notes, voltage=voltage,
        tick=tick, static_power_scope=scope, architecture=architecture, area=area,
        sync_time=sync_time)


def _actions(top: Section, is_global: bool):
    raw = top.raw("actions", expected="a mapping of action name: {energy: ..., time: ...}")
    if isinstance(raw, dict):
        for key in raw:
            if key in UNPRICED_NAMES:
                raise top.error(f"actions.{key}", f"'{key}' is a NeuroBench metric, counted "
                                "but never priced", "remove it from 'actions'")
    acts = top.section("actions", PRICED_NAMES)
    energy, time, included = {}, {}, []
    for name in PRICED_NAMES:
        if not acts.has(name):
            raise ChipsimError(f"missing price for action '{name}': every priced action needs "
                               f"an energy and a time", file=top.doc.path,
                               field=acts.path(name),
                               expected=f"{name}: {{energy: {{value: ..., source: ..., "
                                        f"provenance: ...}}, time: {{...}}}}")
        a = acts.section(name, ("energy", "time"))
        e_raw = a.raw("energy", expected=_QUANTITY_EXPECTED)
        if isinstance(e_raw, dict) and "included_in_sop" in e_raw:
            es = a.section("energy", ("included_in_sop", "learning"))
            flag = es.bool("included_in_sop")
            if not flag:
                raise es.error("included_in_sop", "false is not needed",
                               "give the energy quantity directly, without included_in_sop")
            if not is_global:
                raise es.error("included_in_sop", "an incremental profile prices every action "
                               "on its own; nothing can be included in its SOP figure",
                               "sop_energy_kind: global_at_operating_point, or a priced "
                               "energy quantity")
            if name not in INCLUDABLE:
                raise es.error("included_in_sop", f"'{name}' is not inference work that an "
                               "all-in SOP average can contain",
                               "included_in_sop only on " + ", ".join(INCLUDABLE))
            if not es.has("learning"):
                raise ChipsimError(
                    "an included action still needs its own figure for the learning phase, "
                    "where the all-in average does not cover it", file=top.doc.path,
                    field=es.path("learning"),
                    expected="learning: {value: ..., source: ..., provenance: ...}")
            energy[name] = _quantity(es, "learning", "energy")
            included.append(name)
        else:
            energy[name] = _quantity(a, "energy", "energy")
        t_raw = a.raw("time", expected=_QUANTITY_EXPECTED)
        if isinstance(t_raw, dict) and "included_in_sop" in t_raw:
            raise a.error("time", "times are never included in the SOP figure",
                          "the action's own time quantity (0 s if it overlaps the operation "
                          "that uses it)")
        time[name] = _quantity(a, "time", "time")
    return energy, time, included


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
