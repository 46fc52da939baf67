"""Write and read one run's :class:`~chipsim.result.RunResult` as an HDF5 file.

The layout is documented, field by field, in ``chipsim/report/SCHEMA.md`` (schema version
:data:`SCHEMA_VERSION`). Two promises:

* **Atomic.** :func:`write_result` writes into a temporary file in the target's directory and
  ``os.replace()``\\ s it into place only once it is complete and closed. On any failure
  (including ``KeyboardInterrupt``) the temporary file is removed and whatever was at the
  target path before is left untouched, so a half-written result file never exists.
* **Readable across vocabularies.** Counts and per-action prices are stored with the action
  names of the writer's vocabulary. :func:`read_result` maps them onto the current
  vocabulary *by name*: an action the file does not know reads as zero counts, zero energy
  and zero time; an action the file has but this chipsim does not know is dropped, and the
  names of both kinds are recorded in ``result.extra`` under ``"report.missing_actions"``
  and ``"report.dropped_actions"`` (comma-separated), so the mapping is never silent.

Every user-facing failure (missing file, not HDF5, not a chipsim result, newer or unknown
schema version, missing or malformed field, write error) raises
:class:`~chipsim.errors.ChipsimError` naming the file and the field.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np

from chipsim.counts import ACTION_NAMES, N_ACTIONS, PHASE_NAMES
from chipsim.errors import ChipsimError
from chipsim.result import Pricing, RunResult

#: Version of the on-disk layout written by this module (see SCHEMA.md). A reader accepts
#: files with ``1 <= schema_version <= SCHEMA_VERSION``.
SCHEMA_VERSION = 1

#: Value of the root attribute ``format``: tells a chipsim result from any other HDF5 file.
FORMAT_NAME = "chipsim-result"

_STR = h5py.string_dtype("utf-8")
_GZIP_LEVEL = 4
_CHUNK_BYTES = 1 << 20

_COUNTS_AXES = ("sample", "layer", "phase", "action")

# Documented dtypes of the per-sample, per-layer and per-epoch arrays (name -> dtype).
_LAYER_FIELDS = {
    "binary_input": ("layer_binary_input", np.bool_, None),
    "neurons": ("layer_neurons", np.int64, "1"),
    "synapses": ("layer_synapses", np.int64, "1"),
}
_SAMPLE_FIELDS = {
    "split": ("sample_split", np.int8, None),
    "epoch": ("sample_epoch", np.int32, None),
    "index": ("sample_index", np.int32, None),
    "label": ("sample_label", np.int32, None),
    "pred": ("sample_pred", np.int32, None),
    "loss": ("sample_loss", np.float64, "1"),
}
_EPOCH_FIELDS = {
    "train_loss": ("epoch_train_loss", np.float64, "1"),
    "train_acc": ("epoch_train_acc", np.float64, "1"),
    "test_loss": ("epoch_test_loss", np.float64, "1"),
    "test_acc": ("epoch_test_acc", np.float64, "1"),
}
# Pricing per-action arrays: dataset name -> (dtype, unit)
_PER_ACTION_FIELDS = {
    "energy_per_action": (np.float64, "J"),
    "time_per_action": (np.float64, "s"),
    "included_in_sop": (np.bool_, None),
    "assumed": (np.bool_, None),
}
_PER_SAMPLE_ENERGY_FIELDS = {
    "sample_dynamic_energy": "J",
    "sample_static_energy": "J",
    "sample_time": "s",
}


# ----------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------

def write_result(result: RunResult, path) -> None:
    """Write ``result`` to the HDF5 file ``path`` atomically (see the module docstring).

    The parent directory is created if it does not exist. Raises :class:`ChipsimError` if the
    result is inconsistent (array shapes that do not agree) or the file cannot be written.
    """
    path = Path(path)
    _check_consistent(result, path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
    except OSError as exc:
        raise ChipsimError(f"cannot create a file in {parent}: {exc.strerror or exc}",
                           file=str(path), expected="a writable directory") from None
    tmp = Path(tmp_name)
    try:
        with h5py.File(tmp, "w") as f:
            _write_root(f, result)
            _write_config(f, result)
            _write_layers(f, result)
            _write_counts(f, result)
            _write_samples(f, result)
            _write_epochs(f, result)
            _write_energy(f, result.pricing)
        _fsync(tmp)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise ChipsimError(f"cannot write the result file: {exc}", file=str(path)) from None
        if isinstance(exc, ChipsimError) and exc.file is None:
            raise ChipsimError(exc.detail, file=str(path), field=exc.field,
                               expected=exc.expected) from None
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _default_file_mode() -> int:
    # mkstemp creates 0600; give the result the mode an ordinary open() would have.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _check_consistent(r: RunResult, path: Path) -> None:
    """Refuse to write a result whose arrays do not agree in shape."""
    def bad(field, expected, got):
        raise ChipsimError(f"cannot write an inconsistent result: shape {got}", file=str(path),
                           field=field, expected=expected)

    sc = np.asarray(r.sample_counts)
    if sc.ndim != 4 or sc.shape[2] != len(PHASE_NAMES) or sc.shape[3] != N_ACTIONS:
        bad("sample_counts", f"(N, L, {len(PHASE_NAMES)}, {N_ACTIONS})", sc.shape)
    n, n_layers = sc.shape[0], sc.shape[1]
    if len(r.layer_names) != n_layers:
        bad("layer_names", f"({n_layers},)", (len(r.layer_names),))
    for _, (attr, _, _) in _LAYER_FIELDS.items():
        if np.shape(getattr(r, attr)) != (n_layers,):
            bad(attr, f"({n_layers},)", np.shape(getattr(r, attr)))
    for _, (attr, _, _) in _SAMPLE_FIELDS.items():
        if np.shape(getattr(r, attr)) != (n,):
            bad(attr, f"({n},)", np.shape(getattr(r, attr)))
    n_epochs = np.shape(r.epoch_train_loss)
    for _, (attr, _, _) in _EPOCH_FIELDS.items():
        if np.ndim(getattr(r, attr)) != 1 or np.shape(getattr(r, attr)) != n_epochs:
            bad(attr, f"a 1-d array of the same length as epoch_train_loss {n_epochs}",
                np.shape(getattr(r, attr)))
    p = r.pricing
    for name in _PER_ACTION_FIELDS:
        if np.shape(getattr(p, name)) != (N_ACTIONS,):
            bad(f"pricing.{name}", f"({N_ACTIONS},)", np.shape(getattr(p, name)))
    if np.shape(p.energy) != sc.shape[1:]:
        bad("pricing.energy", str(sc.shape[1:]), np.shape(p.energy))
    for name in _PER_SAMPLE_ENERGY_FIELDS:
        if np.shape(getattr(p, name)) != (n,):
            bad(f"pricing.{name}", f"({n},)", np.shape(getattr(p, name)))


def _as(values, dtype, field: str):
    """Convert to the documented dtype, refusing any conversion that changes a value."""
    try:
        a = np.asarray(values)
        out = a.astype(dtype)
    except (OverflowError, TypeError, ValueError):
        raise ChipsimError(f"value {values!r} does not fit the file's dtype", field=field,
                           expected=np.dtype(dtype).name) from None
    if a.dtype != out.dtype and a.size and not np.array_equal(out, a, equal_nan=a.dtype.kind == "f"):
        raise ChipsimError("values do not fit the file's dtype", field=field,
                           expected=np.dtype(dtype).name)
    return out


def _str_array(values) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=object)


def _json(obj, field: str) -> str:
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    try:
        return json.dumps(obj, default=default, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ChipsimError(f"cannot store as JSON: {exc}", field=field,
                           expected="str, int, float, bool, list or dict values") from None


def _write_root(f: h5py.File, r: RunResult) -> None:
    a = f.attrs
    a["format"] = FORMAT_NAME
    a["schema_version"] = np.int64(SCHEMA_VERSION)
    a["chipsim_version"] = str(r.version)
    a["created"] = str(r.created)
    a["command"] = str(r.command)
    a["seed"] = _as(r.seed, np.int64, "seed")
    a["rule"] = str(r.rule)
    a["workload_name"] = str(r.workload_name)
    a["profile_name"] = str(r.profile_name)
    a["dataset"] = str(r.dataset)
    a["time_steps"] = _as(r.time_steps, np.int64, "time_steps")
    a["wall_time_s"] = np.float64(r.wall_time_s)
    a["learning_memory_bytes"] = _as(r.learning_memory_bytes, np.int64, "learning_memory_bytes")
    a["footprint_bytes"] = _as(r.footprint_bytes, np.int64, "footprint_bytes")
    a["units"] = _json({"wall_time_s": "s", "learning_memory_bytes": "bytes",
                        "footprint_bytes": "bytes", "time_steps": "1", "seed": "1"}, "units")
    a["extra"] = _json(dict(r.extra), "extra")


def _write_text(g: h5py.Group, name: str, text: str, src_path: str) -> None:
    ds = g.create_dataset(name, data=str(text), dtype=_STR)
    ds.attrs["path"] = str(src_path)
    ds.attrs["encoding"] = "utf-8"


def _write_config(f: h5py.File, r: RunResult) -> None:
    g = f.create_group("config")
    _write_text(g, "workload_yaml", r.workload_text, r.workload_path)
    _write_text(g, "profile_yaml", r.profile_text, r.profile_path)


def _dataset(g: h5py.Group, name: str, data: np.ndarray, unit: str | None) -> h5py.Dataset:
    ds = g.create_dataset(name, data=data)
    if unit is not None:
        ds.attrs["unit"] = unit
    return ds


def _write_layers(f: h5py.File, r: RunResult) -> None:
    g = f.create_group("layers")
    g.create_dataset("names", data=_str_array(r.layer_names), dtype=_STR)
    for name, (attr, dtype, unit) in _LAYER_FIELDS.items():
        _dataset(g, name, _as(getattr(r, attr), dtype, attr), unit)


def _names_attr(obj, key: str, names) -> None:
    obj.attrs.create(key, data=_str_array(names), dtype=_STR)


def _write_counts(f: h5py.File, r: RunResult) -> None:
    g = f.create_group("counts")
    counts = _as(r.sample_counts, np.int64, "sample_counts")
    n, n_layers = counts.shape[:2]
    if n and n_layers:
        per_sample = counts[0].nbytes
        rows = int(max(1, min(n, _CHUNK_BYTES // max(per_sample, 1))))
        ds = g.create_dataset("samples", data=counts, chunks=(rows, *counts.shape[1:]),
                              compression="gzip", compression_opts=_GZIP_LEVEL, shuffle=True)
    else:
        ds = g.create_dataset("samples", data=counts)
    if r.step_counts is not None:      # optional: per-step counts for re-pricing latency
        steps = _as(r.step_counts, np.int64, "step_counts")
        if steps.shape[0] != n or steps.shape[2:] != counts.shape[1:]:
            raise ChipsimError(f"step_counts has shape {steps.shape}", field="step_counts",
                               expected=f"(N, T, {', '.join(map(str, counts.shape[1:]))}) with N = {n}")
        sds = g.create_dataset("steps", data=steps, compression="gzip",
                               compression_opts=_GZIP_LEVEL, shuffle=True,
                               chunks=(max(1, min(n, 256)), *steps.shape[1:]) if n else None)
        _names_attr(sds, "axes", ("sample", "step", "layer", "phase", "action"))
        _names_attr(sds, "actions", ACTION_NAMES)
        _names_attr(sds, "phases", PHASE_NAMES)
        sds.attrs["unit"] = "count"
        ev = _as(r.input_events, np.int64, "input_events")
        g.create_dataset("input_events", data=ev, compression="gzip", compression_opts=_GZIP_LEVEL)
    total = g.create_dataset("total", data=counts.sum(axis=0, dtype=np.int64))
    for d, axes in ((ds, _COUNTS_AXES), (total, _COUNTS_AXES[1:])):
        _names_attr(d, "axes", axes)
        _names_attr(d, "actions", ACTION_NAMES)
        _names_attr(d, "phases", PHASE_NAMES)
        d.attrs["unit"] = "count"


def _write_samples(f: h5py.File, r: RunResult) -> None:
    g = f.create_group("samples")
    for name, (attr, dtype, unit) in _SAMPLE_FIELDS.items():
        ds = _dataset(g, name, _as(getattr(r, attr), dtype, attr), unit)
        if name == "split":
            _names_attr(ds, "codes", ("train", "test"))


def _write_epochs(f: h5py.File, r: RunResult) -> None:
    g = f.create_group("epochs")
    for name, (attr, dtype, unit) in _EPOCH_FIELDS.items():
        _dataset(g, name, _as(getattr(r, attr), dtype, attr), unit)


def _write_energy(f: h5py.File, p: Pricing) -> None:
    g = f.create_group("energy")
    g.attrs["profile_name"] = str(p.profile_name)
    g.attrs["sop_energy_kind"] = str(p.sop_energy_kind)
    _names_attr(g, "actions", ACTION_NAMES)
    _names_attr(g, "phases", PHASE_NAMES)
    for name, (dtype, unit) in _PER_ACTION_FIELDS.items():
        _dataset(g, name, _as(getattr(p, name), dtype, f"pricing.{name}"), unit)
    _dataset(g, "static_power", np.float64(p.static_power), "W")
    _dataset(g, "static_assumed", np.bool_(p.static_assumed), None)
    ds = _dataset(g, "energy", _as(p.energy, np.float64, "pricing.energy"), "J")
    _names_attr(ds, "axes", _COUNTS_AXES[1:])
    for name, unit in _PER_SAMPLE_ENERGY_FIELDS.items():
        _dataset(g, name, _as(getattr(p, name), np.float64, f"pricing.{name}"), unit)
    _dataset(g, "assumed_energy_share", np.float64(p.assumed_energy_share), "1")
    src = g.create_dataset("sources", data=_json(dict(p.sources), "pricing.sources"), dtype=_STR)
    src.attrs["format"] = "json"


# ----------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------

class _Reader:
    """Field access on an open file that turns every missing or malformed field into a
    :class:`ChipsimError` naming the file and the field."""

    def __init__(self, f: h5py.File, path: Path):
        self.f = f
        self.path = str(path)

    def error(self, field: str, message: str, expected: str | None = None) -> ChipsimError:
        return ChipsimError(message, file=self.path, field=field, expected=expected)

    def node(self, name: str):
        if name not in self.f:
            raise self.error(name, "missing from the result file",
                             f"a chipsim result file of schema_version {SCHEMA_VERSION}")
        return self.f[name]

    def attr(self, obj, key: str, field: str | None = None):
        field = field or (f"{obj.name.rstrip('/')}@{key}" if obj.name != "/" else f"@{key}")
        if key not in obj.attrs:
            raise self.error(field, "attribute missing from the result file")
        return obj.attrs[key]

    def str_attr(self, obj, key: str) -> str:
        v = self.attr(obj, key)
        if isinstance(v, bytes):
            return v.decode("utf-8")
        if not isinstance(v, str):
            raise self.error(f"{obj.name}@{key}", f"is {type(v).__name__}", "a string")
        return v

    def int_attr(self, obj, key: str) -> int:
        v = self.attr(obj, key)
        if not (np.ndim(v) == 0 and np.issubdtype(np.asarray(v).dtype, np.integer)):
            raise self.error(f"@{key}", f"is {v!r}", "an integer")
        return int(v)

    def float_attr(self, obj, key: str) -> float:
        v = self.attr(obj, key)
        if not (np.ndim(v) == 0 and np.issubdtype(np.asarray(v).dtype, np.number)):
            raise self.error(f"@{key}", f"is {v!r}", "a number")
        return float(v)

    def names_attr(self, obj, key: str) -> tuple[str, ...]:
        v = self.attr(obj, key)
        return tuple(x.decode("utf-8") if isinstance(x, bytes) else str(x)
                     for x in np.atleast_1d(v))

    def text(self, name: str) -> str:
        ds = self.node(name)
        try:
            return ds.asstr()[()]
        except (TypeError, ValueError, AttributeError):
            raise self.error(name, "is not a UTF-8 string dataset") from None

    def array(self, name: str, dtype, shape: tuple | None = None) -> np.ndarray:
        ds = self.node(name)
        if not isinstance(ds, h5py.Dataset):
            raise self.error(name, "is a group", "a dataset")
        a = ds[()]
        a = np.asarray(a)
        kind_ok = {"b": "b", "i": "iu", "f": "fiu"}[np.dtype(dtype).kind]
        if a.dtype.kind not in kind_ok:
            raise self.error(name, f"has dtype {a.dtype}", np.dtype(dtype).name)
        if shape is not None and a.shape != shape:
            raise self.error(name, f"has shape {a.shape}", f"shape {shape}")
        return a.astype(dtype, copy=False)

    def scalar(self, name: str, dtype):
        return self.array(name, dtype, ())[()]


def _check_file(path: Path) -> None:
    expected = f"a chipsim result file (HDF5, schema_version {SCHEMA_VERSION})"
    if not path.exists():
        raise ChipsimError("no such file", file=str(path), expected=expected)
    if not path.is_file():
        raise ChipsimError("is not a regular file", file=str(path), expected=expected)
    try:
        ok = h5py.is_hdf5(str(path))
    except OSError:
        ok = False
    if not ok:
        raise ChipsimError("is not an HDF5 file", file=str(path), expected=expected)


def read_result(path) -> RunResult:
    """Read a result file written by :func:`write_result` (schema version 1..SCHEMA_VERSION).

    Raises :class:`ChipsimError` naming the file if it is missing, not HDF5, not a chipsim
    result, of a newer or unknown schema version, or lacks a field.
    """
    path = Path(path)
    _check_file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ChipsimError(f"cannot open: {exc}", file=str(path),
                           expected="a readable HDF5 file") from None
    with f:
        rd = _Reader(f, path)
        try:
            return _read(rd)
        except ChipsimError:
            raise
        except (KeyError, OSError, TypeError, ValueError) as exc:
            raise ChipsimError(f"malformed result file: {exc}", file=str(path),
                               expected=f"a chipsim result file of schema_version "
                                        f"{SCHEMA_VERSION}") from None


def _check_version(rd: _Reader) -> None:
    a = rd.f.attrs
    fmt = a.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", "replace")
    if "schema_version" not in a or fmt != FORMAT_NAME:
        raise ChipsimError("is an HDF5 file but not a chipsim result (root attributes "
                           "'format' / 'schema_version' missing)", file=rd.path,
                           expected=f"format='{FORMAT_NAME}', schema_version {SCHEMA_VERSION}")
    v = a["schema_version"]
    if not (np.ndim(v) == 0 and np.issubdtype(np.asarray(v).dtype, np.integer)):
        raise ChipsimError(f"unknown schema_version {v!r}", file=rd.path, field="schema_version",
                           expected=f"an integer from 1 to {SCHEMA_VERSION}")
    v = int(v)
    if v > SCHEMA_VERSION:
        raise ChipsimError(f"written with schema_version {v}, newer than this chipsim reads; "
                           "upgrade chipsim to read it", file=rd.path, field="schema_version",
                           expected=f"schema_version from 1 to {SCHEMA_VERSION}")
    if v < 1:
        raise ChipsimError(f"unknown schema_version {v}", file=rd.path, field="schema_version",
                           expected=f"schema_version from 1 to {SCHEMA_VERSION}")


def _action_map(file_actions: tuple[str, ...]):
    """Index of each current action in the file's action axis (-1: missing in the file),
    and the file's actions this chipsim does not know."""
    pos = {name: i for i, name in enumerate(file_actions)}
    idx = np.array([pos.get(name, -1) for name in ACTION_NAMES], dtype=np.int64)
    dropped = [name for name in file_actions if name not in set(ACTION_NAMES)]
    return idx, dropped


def _map_last_axis(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Re-index the last (action) axis onto the current vocabulary; missing -> zeros."""
    if len(idx) == a.shape[-1] and np.array_equal(idx, np.arange(a.shape[-1])):
        return a
    out = np.zeros((*a.shape[:-1], len(idx)), dtype=a.dtype)
    have = idx >= 0
    out[..., have] = a[..., idx[have]]
    return out


def _read(rd: _Reader) -> RunResult:
    _check_version(rd)
    f = rd.f
    root = f["/"]
    try:
        extra = json.loads(rd.str_attr(root, "extra"))
    except json.JSONDecodeError:
        raise rd.error("@extra", "is not valid JSON", "a JSON object") from None
    if not isinstance(extra, dict):
        raise rd.error("@extra", "is not a JSON object", "a JSON object")

    # counts and the action vocabulary of the file
    cds = rd.node("counts/samples")
    phases = rd.names_attr(cds, "phases")
    if phases != PHASE_NAMES:
        raise rd.error("counts/samples@phases", f"is {list(phases)}", f"{list(PHASE_NAMES)}")
    c_actions = rd.names_attr(cds, "actions")
    counts_raw = rd.array("counts/samples", np.int64)
    if counts_raw.ndim != 4 or counts_raw.shape[2:] != (len(PHASE_NAMES), len(c_actions)):
        raise rd.error("counts/samples", f"has shape {counts_raw.shape}",
                       f"(N, L, {len(PHASE_NAMES)}, {len(c_actions)}) as its attributes say")
    idx, dropped = _action_map(c_actions)
    counts = _map_last_axis(counts_raw, idx)
    n, n_layers = counts.shape[:2]
    missing = [name for name, i in zip(ACTION_NAMES, idx) if i < 0]
    if missing:
        extra["report.missing_actions"] = ",".join(missing)
    if dropped:
        extra["report.dropped_actions"] = ",".join(dropped)

    layer_names = tuple(str(x) for x in np.atleast_1d(rd.text("layers/names")))
    if len(layer_names) != n_layers:
        raise rd.error("layers/names", f"has {len(layer_names)} names",
                       f"{n_layers}, the layer axis of counts/samples")
    layers = {attr: rd.array(f"layers/{name}", dtype, (n_layers,))
              for name, (attr, dtype, _) in _LAYER_FIELDS.items()}
    samples = {attr: rd.array(f"samples/{name}", dtype, (n,))
               for name, (attr, dtype, _) in _SAMPLE_FIELDS.items()}
    n_epochs = rd.array("epochs/train_loss", np.float64).shape
    epochs = {attr: rd.array(f"epochs/{name}", dtype, n_epochs)
              for name, (attr, dtype, _) in _EPOCH_FIELDS.items()}

    pricing = _read_pricing(rd, n, n_layers)
    cfg_w, cfg_p = rd.node("config/workload_yaml"), rd.node("config/profile_yaml")
    step_counts = input_events = None
    if "counts/steps" in rd.f:
        sa = rd.names_attr(rd.node("counts/steps"), "actions")
        sidx, _ = _action_map(sa)
        step_counts = _map_last_axis(rd.array("counts/steps", np.int64), sidx)
        input_events = rd.array("counts/input_events", np.int64)

    return RunResult(
        version=rd.str_attr(root, "chipsim_version"),
        seed=rd.int_attr(root, "seed"),
        rule=rd.str_attr(root, "rule"),
        workload_name=rd.str_attr(root, "workload_name"),
        workload_path=rd.str_attr(cfg_w, "path"),
        workload_text=rd.text("config/workload_yaml"),
        profile_name=rd.str_attr(root, "profile_name"),
        profile_path=rd.str_attr(cfg_p, "path"),
        profile_text=rd.text("config/profile_yaml"),
        dataset=rd.str_attr(root, "dataset"),
        time_steps=rd.int_attr(root, "time_steps"),
        layer_names=layer_names,
        sample_counts=counts,
        **layers,
        **samples,
        **epochs,
        learning_memory_bytes=rd.int_attr(root, "learning_memory_bytes"),
        footprint_bytes=rd.int_attr(root, "footprint_bytes"),
        wall_time_s=rd.float_attr(root, "wall_time_s"),
        pricing=pricing,
        created=rd.str_attr(root, "created"),
        command=rd.str_attr(root, "command"),
        extra=extra,
        step_counts=step_counts,
        input_events=input_events,
    )


def _read_pricing(rd: _Reader, n: int, n_layers: int) -> Pricing:
    g = rd.node("energy")
    e_actions = rd.names_attr(g, "actions")
    idx, _ = _action_map(e_actions)
    per_action = {}
    for name, (dtype, _) in _PER_ACTION_FIELDS.items():
        a = rd.array(f"energy/{name}", dtype, (len(e_actions),))
        per_action[name] = _map_last_axis(a, idx)
    energy = rd.array("energy/energy", np.float64, (n_layers, len(PHASE_NAMES), len(e_actions)))
    per_sample = {name: rd.array(f"energy/{name}", np.float64, (n,))
                  for name in _PER_SAMPLE_ENERGY_FIELDS}
    try:
        sources = json.loads(rd.text("energy/sources"))
    except json.JSONDecodeError:
        raise rd.error("energy/sources", "is not valid JSON", "a JSON object") from None
    return Pricing(
        profile_name=rd.str_attr(g, "profile_name"),
        sop_energy_kind=rd.str_attr(g, "sop_energy_kind"),
        **per_action,
        static_power=float(rd.scalar("energy/static_power", np.float64)),
        static_assumed=bool(rd.scalar("energy/static_assumed", np.bool_)),
        sources=sources,
        energy=_map_last_axis(energy, idx),
        **per_sample,
        assumed_energy_share=float(rd.scalar("energy/assumed_energy_share", np.float64)),
    )
