"""A design-space sweep file, and the points it names (``chipsim sweep SWEEP.yaml``).

A sweep names a base workload and its axes::

    name: anp_i_mechanisms
    workload: ../nmnist.yaml              # the base workload (a path relative to this file)
    set: {dataset.downscale: 2}           # fixed overrides of every point (dotted keys, as --set)
    profile: anp_i                        # the base profile (a name or a path)
    axes:                                 # each axis: a list of values
      rule: [ottt_o, ottt_a, sltt]        # rule.name
      rule.update_skip: [true, false]     # any workload field
      profile: [anp_i, reckon]            # profiles
      profile.precision.weight_bits: [4, 8]   # any profile field
      seed: [0, 1]                        # training.seed
    sampling: {method: grid}              # or {method: random, budget: 20, seed: 0}
    exclude:                              # points to drop: every key of an entry must match
      - {rule: bptt, profile.learning.on_chip: false}

This module reads the file (the only place that parses sweep YAML), expands the axes into
points, applies the exclusions, and resolves each point into the workload and the profile it
runs: the workload with its overrides, the profile with the swept fields written in. A swept
profile figure is no longer the chip's published number, so it is marked ``assumed`` with the
sweep as its reason; the reports count it in their assumed share.

Errors in the sweep itself (an unknown axis key, a list that is empty) are one ChipsimError
naming the sweep file and the field; a value that makes one point invalid (a target window
longer than the run) leaves that point failed with its message (``Point.error``), and the other
points run.
"""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import Field, model_validator

from chipsim.config.profile import HardwareProfile, ProfileFile, load_profile, profile_from_text
from chipsim.config.schema import FieldProblem, Section, Text, apply_overrides, validate
from chipsim.config.workload import Workload, WorkloadFile, load_workload
from chipsim.config.yamlio import load_yaml, parse_yaml_text
from chipsim.errors import ChipsimError

#: axis names that stand for a workload field
ALIASES = {"rule": "rule.name", "seed": "training.seed"}
PROFILE = "profile"
PROFILE_FIELD = "profile."
Scalar = str | int | float | bool | None


class Sampling(Section):
    """How the points are drawn from the axes."""

    method: Literal["grid", "random"] = Field("grid", description=(
        "grid: every combination of the axes' values; random: `budget` distinct combinations "
        "drawn without replacement"))
    budget: int | None = Field(None, ge=1, description="points drawn (random sampling)")
    seed: int = Field(0, ge=0, description="seed of the random draw")

    @model_validator(mode="after")
    def _budget(self):
        if self.method == "random" and self.budget is None:
            raise FieldProblem("random sampling needs a budget", "budget: <points>, e.g. 20",
                               field="budget")
        return self


class SweepFile(Section):
    """A sweep YAML file."""

    name: Text | None = Field(None, description="short name (default: the file's stem)")
    description: str = Field("", description="free text")
    workload: Text = Field(description="the base workload YAML (relative to the sweep file)")
    set: dict[str, Scalar | list | dict] = Field(default_factory=dict, description=(
        "overrides of the base workload for every point (dotted keys, as --set)"))
    profile: Text = Field("anp_i", description="the base profile, a name or a YAML path")
    axes: dict[str, list[Scalar]] = Field(default_factory=dict, description=(
        "axis -> its values: rule, seed, profile, profile.<field>, or a workload field"))
    sampling: Sampling = Field(default_factory=Sampling, description="grid or random")
    exclude: list[dict[str, Scalar | list[Scalar]]] = Field(default_factory=list, description=(
        "points to drop: an entry matches a point when each of its keys matches (a list: any "
        "of its values); keys are axes or profile.<field> of the resolved profile"))

    @model_validator(mode="after")
    def _axes(self):
        for k, values in self.axes.items():
            if not values:
                raise FieldProblem(f"axis '{k}' has no values", "a non-empty list",
                                   field=f"axes.{k}")
        return self


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file."""

    name: str
    path: str
    text: str
    description: str
    workload_path: str
    fixed: dict
    profile: str
    axes: dict                    # axis -> tuple of values, in the file's order
    sampling: Sampling
    exclude: tuple


@dataclass
class Point:
    """One point of a sweep: its axis values, and what it runs once resolved."""

    values: dict                  # axis -> value (the file's axis names)
    overrides: dict               # workload overrides: dotted key -> YAML literal
    profile_ref: str              # the profile name or path
    profile_fields: dict          # profile field -> value
    workload: Workload | None = None
    profile: HardwareProfile | None = None
    error: str = ""               # why the point cannot run (it is recorded failed)


def _literal(value) -> str:
    """A value as the YAML literal --set takes."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("...").strip()


def show(value) -> str:
    """An axis value as the sweep file would write it (true, null, 0.5, ottt_o)."""
    return _literal(value)


def _resolve_path(ref: str, base: Path) -> str:
    p = Path(os.path.expanduser(ref))
    return os.path.normpath(str(p if p.is_absolute() else (base / p)))


def _is_path(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref.endswith((".yaml", ".yml"))


def load_sweep(path) -> Sweep:
    """Read and validate a sweep file; check that every axis and fixed key names a field."""
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise ChipsimError("the top level is not a mapping", file=str(path),
                           expected="a YAML mapping with workload:, axes:, ...")
    spec = validate(SweepFile, doc)
    here = Path(doc.path).parent
    wpath = _resolve_path(spec.workload, here)
    if not Path(wpath).is_file():
        raise ChipsimError(f"the base workload {wpath} does not exist", file=str(path),
                           field="workload", expected="a workload YAML file, relative to the sweep file")
    base = load_yaml(wpath)
    profile = _resolve_path(spec.profile, here) if _is_path(spec.profile) else spec.profile
    axes = {}
    for k, values in spec.axes.items():
        if k == PROFILE:
            values = [_resolve_path(v, here) if isinstance(v, str) and _is_path(v) else v
                      for v in values]
            for v in values:
                if not isinstance(v, str):
                    raise ChipsimError(f"profile {v!r} is not a name or a path", file=str(path),
                                       field="axes.profile", expected="profile names or YAML paths")
        elif k.startswith(PROFILE_FIELD):
            _check_key(k[len(PROFILE_FIELD):], ProfileFile, str(path), f"axes.{k}", "a profile")
        else:
            _check_key(ALIASES.get(k, k), WorkloadFile, str(path), f"axes.{k}", "the workload",
                       base.data)
        axes[k] = tuple(values)
    for k in spec.set:
        _check_key(ALIASES.get(k, k), WorkloadFile, str(path), f"set.{k}", "the workload", base.data)
    exclude = []
    for i, entry in enumerate(spec.exclude):
        entry = dict(entry)
        if isinstance(entry.get(PROFILE), (str, list)):     # paths as the profile axis has them
            ref = entry[PROFILE]
            res = [_resolve_path(v, here) if isinstance(v, str) and _is_path(v) else v
                   for v in (ref if isinstance(ref, list) else [ref])]
            entry[PROFILE] = res if isinstance(ref, list) else res[0]
        exclude.append(entry)
        for k in entry:
            if k not in axes and k != PROFILE and not k.startswith(PROFILE_FIELD):
                raise ChipsimError(f"exclude entry {i + 1} names '{k}', which is not an axis",
                                   file=str(path), field=f"exclude.{i}.{k}",
                                   expected="an axis (" + ", ".join(axes) + ") or profile.<field>")
    if spec.sampling.method == "grid" and spec.sampling.budget is not None:
        raise ChipsimError("a budget is given but sampling is grid", file=str(path),
                           field="sampling.budget", expected="method: random, or no budget")
    return Sweep(name=spec.name or Path(path).stem, path=str(path), text=doc.text,
                 description=spec.description, workload_path=wpath, fixed=dict(spec.set),
                 profile=profile, axes=axes, sampling=spec.sampling, exclude=tuple(exclude))


def _check_key(key: str, model, file: str, field: str, what: str, data: dict | None = None) -> None:
    """Raise a ChipsimError naming the sweep file and ``field`` if ``key`` is no field of
    ``model`` (values are checked later, per point)."""
    try:
        apply_overrides(copy.deepcopy(data) if data is not None else {}, {key: "null"}, model,
                        file=file, what=what)
    except ChipsimError as e:
        if "unknown field" in e.detail or "has no sub-fields" in e.detail or "item(s)" in e.detail:
            raise ChipsimError(e.detail, file=file, field=field, expected=e.expected) from None
        # structural complaints about the base data ("cannot set ...") are the point's


def grid_points(sweep: Sweep) -> list[dict]:
    """The axis values of every combination of the axes, in the file's order."""
    names = list(sweep.axes)
    return [dict(zip(names, c)) for c in itertools.product(*(sweep.axes[n] for n in names))]


def draw(sweep: Sweep, n_points: int) -> list[int]:
    """The indices of the points kept: all of them (grid), or ``budget`` distinct ones drawn
    from the sampling seed (random), in order."""
    if sweep.sampling.method != "random":
        return list(range(n_points))
    rng = np.random.default_rng(sweep.sampling.seed)
    n = min(sweep.sampling.budget, n_points)
    return sorted(rng.choice(n_points, size=n, replace=False).tolist())


def _lookup(data, dotted: str):
    """The value at ``dotted`` in a profile's YAML data; a figure's value for a figure."""
    here = _node(data, dotted)
    if isinstance(here, dict) and "value" in here:
        return here["value"]
    return here


def _matches(entry: dict, values: dict, profile_data: dict | None) -> bool:
    for k, want in entry.items():
        if k in values:
            got = values[k]
        else:
            got = _lookup(profile_data, k[len(PROFILE_FIELD):]) if profile_data is not None else None
        wants = want if isinstance(want, list) else [want]
        if got not in wants and str(got) not in [str(w) for w in wants]:
            return False
    return True


def expand(sweep: Sweep) -> tuple[list[Point], int]:
    """The sweep's points, resolved, and how many the exclusions dropped. Random sampling
    draws its budget from the points the exclusions keep. A point whose workload or profile
    does not validate keeps its error (it will be recorded failed)."""
    kept, dropped = [], 0
    profiles: dict = {}
    for values in grid_points(sweep):
        overrides = {ALIASES.get(k, k): _literal(v) for k, v in sweep.fixed.items()}
        pfields, pref = {}, sweep.profile
        for k, v in values.items():
            if k == PROFILE:
                pref = v
            elif k.startswith(PROFILE_FIELD):
                pfields[k[len(PROFILE_FIELD):]] = v
            else:
                overrides[ALIASES.get(k, k)] = _literal(v)
        pt = Point(values=values, overrides=overrides, profile_ref=pref, profile_fields=pfields)
        try:
            pt.profile = resolve_profile(pref, pfields, sweep, profiles)
        except ChipsimError as e:
            pt.error = str(e)
        if sweep.exclude and any(
                _matches(e, dict(values, **({PROFILE: pref} if PROFILE not in values else {})),
                         _profile_data(pt.profile)) for e in sweep.exclude):
            dropped += 1
            continue
        kept.append(pt)
    points = [kept[i] for i in draw(sweep, len(kept))]
    for pt in points:
        if not pt.error:
            try:
                pt.workload = load_workload(sweep.workload_path, pt.overrides)
            except ChipsimError as e:
                pt.error = str(e)
    return points, dropped


def _profile_data(profile: HardwareProfile | None) -> dict | None:
    if profile is None:
        return None
    return yaml.safe_load(profile.text)


def resolve_profile(ref: str, fields: dict, sweep: Sweep, cache: dict | None = None) -> HardwareProfile:
    """The profile ``ref`` with the swept ``fields`` written into its YAML (see
    :func:`profile_variant`)."""
    cache = {} if cache is None else cache
    if ref not in cache:
        cache[ref] = load_profile(ref)
    base = cache[ref]
    if not fields:
        return base
    key = (ref, tuple(sorted((k, _literal(v)) for k, v in fields.items())))
    if key not in cache:
        cache[key] = profile_variant(base, fields, sweep.path)
    return cache[key]


def profile_variant(base: HardwareProfile, fields: dict, sweep_path: str) -> HardwareProfile:
    """``base`` with ``fields`` (dotted key -> value) set in its YAML text.

    A key that names a figure (``precision.weight_bits``) sets its value and marks it
    ``assumed``, with the sweep as the reason and the published figure kept in its source; a
    key that names an action (``actions.weight_update_issued``) sets the action's energy
    figure the same way; any other key sets the field as it is. The variant's text is the
    YAML the result files keep, so every point's profile can be read back."""
    doc = parse_yaml_text(base.text, file=str(base.path))
    data = copy.deepcopy(doc.data)
    plain = {}
    for key, value in fields.items():
        target = _node(data, key)
        if isinstance(target, dict) and {"energy", "time"} <= set(target) and not isinstance(value, dict):
            key, target = key + ".energy", target.get("energy")
        if isinstance(target, dict) and ("value" in target or "included_in_sop" in target) \
                and not isinstance(value, dict):
            was = target.get("value", "included in the SOP figure")
            src = target.get("source", "")
            target.clear()
            target.update(value=value, source=(f"design-space sweep {sweep_path}: {key} = {value}"
                                               f" (the profile's figure: {was}; {src})"),
                          provenance="assumed",
                          reason=f"a value of the sweep's axis {key}, not a published figure")
        else:
            plain[key] = _literal(value)
    if plain:
        data = apply_overrides(data, plain, ProfileFile, file=sweep_path, what="a profile")
    text = (f"# {base.name} with {', '.join(f'{k} = {v}' for k, v in fields.items())} "
            f"(design-space sweep {sweep_path})\n" + yaml.safe_dump(data, sort_keys=False, width=100))
    return profile_from_text(text, path=f"{base.path} [{', '.join(f'{k}={v}' for k, v in fields.items())}]")


def _node(data: dict, dotted: str):
    here = data
    for part in dotted.split("."):
        if not isinstance(here, dict) or part not in here:
            return None
        here = here[part]
    return here
