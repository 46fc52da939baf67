"""Write and read one run's :class:`~chipsim.result.RunResult` as an HDF5 file.

The layout is documented, field by field, in ``chipsim/report/SCHEMA.md`` (schema version
:data:`SCHEMA_VERSION`): a ``simulation`` group (what ran: counts, samples, curves, the layer
geometry, the workload) and a ``cost`` group (that simulation on one chip: mapping,
communication, latency, energy), as :mod:`chipsim.result` holds them. Four promises:

* **Atomic.** :func:`write_result` writes into a temporary file in the target's directory and
  ``os.replace()``\\ s it into place only once it is complete and closed. On any failure
  (including ``KeyboardInterrupt``) the temporary file is removed and whatever was at the
  target path before is left untouched, so a half-written result file never exists. A writer
  killed outright (SIGKILL) cannot remove it: the temporary file is named after its host and
  process, and the next write of the same file removes those of processes that are gone
  (chipsim/atomic.py).
* **One writer.** A run holds :func:`output_lock` (``<path>.lock``) from before training
  until its files are written, so a second run writing the same file is refused instead of
  silently replacing the first one's result; stale locks of dead processes are taken over.
* **Readable across vocabularies.** Counts and per-action prices are stored with the action
  names of the writer's vocabulary. :func:`read_result` maps them onto the current
  vocabulary *by name*: an action the file does not know reads as zero counts, zero energy
  and zero time; an action the file has but this chipsim does not know is dropped; the
  result's ``missing_actions`` and ``dropped_actions`` name both kinds, so the mapping is
  never silent.
* **Readable across versions.** Files of schema version 1 (chipsim 0.1) are read into the
  same records; what they lack (the layer geometry, the per-step communication) is rebuilt or
  assumed as the result's ``notes`` say.

Every user-facing failure (missing file, not HDF5, not a chipsim result, newer or unknown
schema version, missing or malformed field, write error) raises
:class:`~chipsim.errors.ChipsimError` naming the file and the field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import socket
from pathlib import Path

import h5py
import numpy as np

from chipsim import counts as K
from chipsim.atomic import make_temp, remove_stale_temps
from chipsim.counts import ACTION_NAMES, N_ACTIONS, PHASE_NAMES
from chipsim.errors import ChipsimError
from chipsim.memory import Need, check as check_memory
from chipsim.model.network import LayerShape
from chipsim.result import (Costs, LayerPlacement, Mapping, Pricing, RunResult, Simulation)

#: Version of the on-disk layout written by this module (see SCHEMA.md). A reader accepts
#: files with ``1 <= schema_version <= SCHEMA_VERSION``.
SCHEMA_VERSION = 2
#: the final weights and biases are written when they take at most this many bytes (the
#: papers' VGG-11 in float32 takes 37 MB); larger ones are left out, and the file says so
WEIGHTS_MAX_BYTES = 64 * 2**20

#: Value of the root attribute ``format``: tells a chipsim result from any other HDF5 file.
FORMAT_NAME = "chipsim-result"

_STR = h5py.string_dtype("utf-8")
_GZIP_LEVEL = 1       # with shuffle: 0.37 s and 4.0 MB for 11,000 N-MNIST samples, against 0.63 s and 3.1 MB at level 4
_CHUNK_BYTES = 1 << 20

_COUNTS_AXES = ("sample", "layer", "phase", "action")
_STEP_AXES = ("sample", "step", "layer", "phase", "action")

# simulation/samples and simulation/epochs: file name -> (Simulation attribute, dtype, unit)
_SAMPLE_FIELDS = {
    "split": ("sample_split", np.int8, None),
    "epoch": ("sample_epoch", np.int32, None),
    "index": ("sample_index", np.int32, None),
    "label": ("sample_label", np.int32, None),
    "pred": ("sample_pred", np.int32, None),
    "loss": ("sample_loss", np.float64, "1"),
    "duration": ("sample_duration", np.float64, "s"),
}
_EPOCH_FIELDS = {
    "train_loss": ("epoch_train_loss", np.float64, "1"),
    "train_acc": ("epoch_train_acc", np.float64, "1"),
    "test_loss": ("epoch_test_loss", np.float64, "1"),
    "test_acc": ("epoch_test_acc", np.float64, "1"),
}
# simulation attributes: name -> (kind, unit)
_SIM_ATTRS = {
    "workload_name": ("str", None), "rule": ("str", None), "dataset": ("str", None),
    "dataset_standin": ("bool", None), "time_steps": ("int", "1"), "seed": ("int", "1"),
    "batch_size": ("int", "1"), "epochs": ("int", "1"), "train_samples": ("int", "1"),
    "test_samples": ("int", "1"), "framing": ("str", None), "dtype": ("str", None),
    "neuron": ("str", None), "loss": ("str", None), "normalization": ("str", None),
    "number_format": ("str", None), "step_counts_note": ("str", None),
    "learning_memory_bytes": ("int", "bytes"), "gradient_buffer_bytes": ("int", "bytes"),
    "footprint_bytes": ("int", "bytes"), "wall_time_s": ("float", "s"),
    "interrupted": ("bool", None),
}
# layer geometry (simulation/layers): name -> (LayerShape field, dtype, width)
_LAYER_FIELDS = {
    "kind": ("kind", _STR, 1), "src": ("src", np.int64, 1), "pre": ("pre", np.int64, 3),
    "pool": ("pool", _STR, 1), "pool_k": ("pool_k", np.int64, 1),
    "pooled": ("pooled", np.int64, 3), "out": ("out", np.int64, 3), "kernel": ("k", np.int64, 1),
    "stride": ("stride", np.int64, 1), "padding": ("pad", np.int64, 1),
    "bias": ("bias", np.bool_, 1), "binary_input": ("binary_input", np.bool_, 1),
    "detach": ("detach", np.bool_, 1),
}
# cost attributes
_COST_ATTRS = {
    "profile_name": ("str", None), "time_model": ("str", None),
    "communication_note": ("str", None), "repriced_from": ("str", None),
    "throughput_train": ("float?", "1/s"), "throughput_test": ("float?", "1/s"),
    "real_time_factor_train": ("float?", "1"), "real_time_factor_test": ("float?", "1"),
}
_PLACEMENT_FIELDS = ("neurons", "stored_weights", "hops_per_spike", "chip_msgs_per_spike",
                     "max_route")
_MAPPING_ATTRS = ("cores_used", "chips_used", "cores_per_chip")
# Pricing per-action arrays: dataset name -> (dtype, unit)
_PER_ACTION_FIELDS = {
    "energy_per_action": (np.float64, "J"),
    "time_per_action": (np.float64, "s"),
    "included_in_sop": (np.bool_, None),
    "assumed": (np.bool_, None),
}
_SOP_ENERGY_KINDS = ("incremental", "global_at_operating_point")
_PER_SAMPLE_ENERGY_FIELDS = {
    "sample_dynamic_energy": "J",
    "sample_static_energy": "J",
    "sample_time": "s",
}


# ----------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------

def write_result(result: RunResult, path, packed: dict | None = None) -> None:
    """Write ``result`` to the HDF5 file ``path`` atomically (see the module docstring).
    ``packed``: :func:`pack_simulation` of ``result.sim`` (the same file, written faster).

    The parent directory is created if it does not exist. Raises :class:`ChipsimError` if the
    result is inconsistent (array shapes that do not agree) or the file cannot be written.
    """
    path = Path(path)
    _check_consistent(result, path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)          # left by writers that were killed (SIGKILL)
        tmp = make_temp(path)
    except OSError as exc:
        raise ChipsimError(f"cannot create a file in {parent}: {exc.strerror or exc}",
                           file=str(path), expected="a writable directory") from None
    try:
        with h5py.File(tmp, "w") as f:
            _write_root(f, result)
            _write_simulation(f.create_group("simulation"), result.sim, packed)
            _write_cost(f.create_group("cost"), result.cost)
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


# ----------------------------------------------------------------------------------------
# the lock: one writer per results file
# ----------------------------------------------------------------------------------------

def lock_path(path) -> Path:
    """The lock file of a results file: ``<path>.lock`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def output_lock(path, *, field: str = "--out"):
    """Hold the lock of the results file ``path`` for the ``with`` block: a run takes it
    before training and releases it after its files are written, so a second run writing the
    same file is refused at once instead of replacing the first one's result.

    The lock is the file ``<path>.lock``, created exclusively (``O_EXCL``), holding the
    holder's process id and host name. A lock whose process is gone on this host (a run
    killed with SIGKILL, a machine that crashed) is stale and taken over; a lock of a live
    process, of another host, or one that cannot be read is respected, and the
    :class:`ChipsimError` says which process holds it and which file to delete if none does.
    Directories created for ``path`` are removed again if nothing was written into them.
    """
    path = Path(path)
    created = _make_parents(path, field)
    lock = lock_path(path)
    try:
        token = _acquire(lock, path, field)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield lock
    finally:
        _release(lock, token)
        _remove_empty(created)


def _make_parents(path: Path, field: str) -> list[Path]:
    missing = []
    d = path.parent
    while not d.is_dir() and d != d.parent:
        missing.append(d)
        d = d.parent
    created = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
    except OSError as exc:
        _remove_empty(created)
        raise ChipsimError(f"cannot create the directory {d}: {exc.strerror or exc}",
                           file=str(path), field=field, expected="a writable directory") from None
    return created


def _remove_empty(created: list[Path]) -> None:
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            break


def _acquire(lock: Path, path: Path, field: str) -> str:
    token = f"{os.getpid()} {socket.gethostname()}\n"
    for _ in range(5):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            text, holder = _lock_holder(lock)
            if text is None:           # released just now: try again
                continue
            if holder is not None:
                raise ChipsimError(
                    f"is being written by another chipsim run ({holder}; lock {lock})",
                    file=str(path), field=field,
                    expected=f"another --out, or that run to finish; if no chipsim run is "
                             f"writing it, delete {lock}") from None
            _break_stale(lock, text)
            continue
        except OSError as exc:
            raise ChipsimError(f"cannot create the lock file {lock}: {exc.strerror or exc}",
                               file=str(path), field=field, expected="a writable directory") from None
        with os.fdopen(fd, "w") as f:
            f.write(token)
        return token
    raise ChipsimError(f"cannot take the lock {lock}: other runs keep taking it", file=str(path),
                       field=field, expected="one chipsim run per output file")


def _lock_holder(lock: Path) -> tuple[str | None, str | None]:
    """(the lock's text, a description of its live holder or None if it is stale); the text
    is None if the lock is gone."""
    try:
        text = lock.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return "", f"a lock that cannot be read: {exc.strerror or exc}"
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        # empty: another run is writing its lock this instant; anything else is not ours to delete
        return text, "process unknown: the lock file does not hold 'pid host'"
    pid, host = int(parts[0]), parts[1]
    if host != socket.gethostname():
        return text, f"process {pid} on host {host}"
    if _alive(pid):
        return text, f"process {pid}"
    return text, None


def _alive(pid: int) -> bool:
    if pid <= 0 or os.name != "posix":     # no signal-0 probe: never call a lock stale
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                        # EPERM: alive, another user's
        return True
    return True


def _break_stale(lock: Path, text: str) -> None:
    """Remove a stale lock, unless another run replaced it meanwhile (then put that back)."""
    aside = lock.with_name(f"{lock.name}.stale-{os.getpid()}")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return
    try:
        if aside.read_text(encoding="utf-8", errors="replace") != text:
            try:
                os.link(aside, lock)       # a fresh lock was taken meanwhile: restore it
            except OSError:
                pass
    finally:
        aside.unlink(missing_ok=True)


def _release(lock: Path, token: str) -> None:
    try:
        if lock.read_text(encoding="utf-8") == token:
            lock.unlink()
    except OSError:
        pass


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

    s, c = r.sim, r.cost
    sc = np.asarray(s.sample_counts)
    if sc.ndim != 4 or sc.shape[2] != len(PHASE_NAMES) or sc.shape[3] != N_ACTIONS:
        bad("simulation.sample_counts", f"(N, L, {len(PHASE_NAMES)}, {N_ACTIONS})", sc.shape)
    n, n_layers = sc.shape[0], sc.shape[1]
    if len(s.layers) != n_layers:
        bad("simulation.layers", f"({n_layers},)", (len(s.layers),))
    for _, (attr, _, _) in _SAMPLE_FIELDS.items():
        if np.shape(getattr(s, attr)) != (n,):
            bad(f"simulation.{attr}", f"({n},)", np.shape(getattr(s, attr)))
    if np.shape(s.input_events) != (n, s.time_steps):
        bad("simulation.input_events", f"({n}, {s.time_steps})", np.shape(s.input_events))
    n_epochs = np.shape(s.epoch_train_loss)
    for _, (attr, _, _) in _EPOCH_FIELDS.items():
        if np.ndim(getattr(s, attr)) != 1 or np.shape(getattr(s, attr)) != n_epochs:
            bad(f"simulation.{attr}", f"a 1-d array of the same length as epoch_train_loss {n_epochs}",
                np.shape(getattr(s, attr)))
    for name in ("router_hops", "chip_messages", "spike_messages"):
        if name == "spike_messages" and c.spike_messages is None:
            continue
        if np.shape(getattr(c, name)) != (n, s.time_steps, n_layers):
            bad(f"cost.{name}", f"({n}, {s.time_steps}, {n_layers})", np.shape(getattr(c, name)))
    p = c.pricing
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


def _write_attrs(obj, spec: dict, record, units_field: bool = True) -> None:
    units = {}
    for name, (kind, unit) in spec.items():
        v = getattr(record, name)
        if kind == "str":
            obj.attrs[name] = str(v)
        elif kind == "bool":
            obj.attrs[name] = np.bool_(v)
        elif kind == "int":
            obj.attrs[name] = _as(v, np.int64, name)
        else:                                   # float, or float? (None stored as NaN)
            obj.attrs[name] = np.float64(np.nan if v is None else v)
        if unit is not None:
            units[name] = unit
    if units_field:
        obj.attrs["units"] = _json(units, "units")


def _write_root(f: h5py.File, r: RunResult) -> None:
    a = f.attrs
    a["format"] = FORMAT_NAME
    a["schema_version"] = np.int64(SCHEMA_VERSION)
    a["chipsim_version"] = str(r.version)
    a["created"] = str(r.created)
    a["command"] = str(r.command)
    a["notes"] = _json(list(r.notes), "notes")


def _write_text(g: h5py.Group, name: str, text: str, src_path: str) -> None:
    ds = g.create_dataset(name, data=str(text), dtype=_STR)
    ds.attrs["path"] = str(src_path)
    ds.attrs["encoding"] = "utf-8"


def _dataset(g: h5py.Group, name: str, data: np.ndarray, unit: str | None, **kw) -> h5py.Dataset:
    ds = g.create_dataset(name, data=data, **kw)
    if unit is not None:
        ds.attrs["unit"] = unit
    return ds


def _names_attr(obj, key: str, names) -> None:
    obj.attrs.create(key, data=_str_array(names), dtype=_STR)


def _label_counts(ds, axes) -> None:
    _names_attr(ds, "axes", axes)
    _names_attr(ds, "actions", ACTION_NAMES)
    _names_attr(ds, "phases", PHASE_NAMES)
    ds.attrs["unit"] = "count"


def _gzip(n: int, row_bytes: int, shape: tuple) -> dict:
    """Chunked gzip (whole samples per chunk, ~1 MiB) for an (N, ...) array."""
    if not n or not row_bytes:
        return {}
    rows = int(max(1, min(n, _CHUNK_BYTES // row_bytes)))
    return dict(chunks=(rows, *shape[1:]), compression="gzip", compression_opts=_GZIP_LEVEL,
                shuffle=True)


def pack_simulation(s: Simulation) -> dict:
    """The simulation's large count arrays compressed once, chunk by chunk, exactly as
    :func:`write_result` stores them (shuffle, then deflate at its level), so that the results
    files of many points that share one simulation (a sweep re-pricing it on many profiles)
    each write the compressed chunks as they are instead of compressing again. A file written
    with the packed chunks reads back the same arrays (tests/test_report_h5.py)."""
    arrays = {"samples": _as(s.sample_counts, np.int64, "sample_counts"),
              "input_events": _as(s.input_events, np.int64, "input_events")}
    if s.step_counts is not None:
        arrays["steps"] = _as(s.step_counts, np.int64, "step_counts")
    return {name: _pack(a) for name, a in arrays.items()}


def _pack(a: np.ndarray) -> tuple:
    """(shape, dtype, [(chunk offset, compressed bytes), ...]) of ``a`` in :func:`_gzip`'s
    chunks; an edge chunk is padded with zeros to the whole chunk, as HDF5 stores it."""
    import zlib
    n = a.shape[0]
    opts = _gzip(n, a[0].nbytes if n else 0, a.shape)
    if not opts:
        return a.shape, a.dtype.str, None
    rows = opts["chunks"][0]
    size = a.dtype.itemsize
    out = []
    for i in range(0, n, rows):
        block = a[i:i + rows]
        if block.shape[0] < rows:
            block = np.concatenate([block, np.zeros((rows - block.shape[0], *a.shape[1:]), a.dtype)])
        raw = np.ascontiguousarray(block).view(np.uint8).reshape(-1, size)
        shuffled = np.ascontiguousarray(raw.T).tobytes()           # HDF5's shuffle filter
        out.append(((i,) + (0,) * (a.ndim - 1), zlib.compress(shuffled, _GZIP_LEVEL)))
    return a.shape, a.dtype.str, out


def _counts_dataset(g: h5py.Group, name: str, a: np.ndarray, packed: dict | None):
    """``g[name] = a``, chunked and compressed; from ``packed`` chunks when they are ``a``'s."""
    n = a.shape[0]
    opts = _gzip(n, a[0].nbytes if n else 0, a.shape)
    p = (packed or {}).get(name)
    if p is None or p[2] is None or p[0] != a.shape or p[1] != a.dtype.str:
        return g.create_dataset(name, data=a, **opts)
    ds = g.create_dataset(name, shape=a.shape, dtype=a.dtype, **opts)
    for offset, chunk in p[2]:
        ds.id.write_direct_chunk(offset, chunk)
    return ds


def _write_simulation(g: h5py.Group, s: Simulation, packed: dict | None = None) -> None:
    _write_attrs(g, _SIM_ATTRS, s)
    g.attrs["overrides"] = _json([list(kv) for kv in s.overrides], "overrides")
    g.attrs["skipped_samples"] = _json(list(s.skipped_samples), "skipped_samples")
    g.attrs["requested_mapping"] = _json([[k, list(v)] for k, v in s.requested_mapping],
                                         "requested_mapping")
    _write_text(g, "workload_yaml", s.workload_text, s.workload_path)
    lg = g.create_group("layers")
    lg.create_dataset("names", data=_str_array(s.layer_names), dtype=_STR)
    for name, (attr, dtype, width) in _LAYER_FIELDS.items():
        vals = [getattr(ls, attr) for ls in s.layers]
        if dtype is _STR:
            lg.create_dataset(name, data=_str_array(vals), dtype=_STR)
        else:
            shape = (len(vals),) if width == 1 else (len(vals), width)
            lg.create_dataset(name, data=np.asarray(vals, dtype=dtype).reshape(shape))
    _dataset(lg, "neurons", s.layer_neurons, "1")
    _dataset(lg, "synapses", s.layer_synapses, "1")
    cg = g.create_group("counts")
    counts = _as(s.sample_counts, np.int64, "sample_counts")
    n = counts.shape[0]
    ds = _counts_dataset(cg, "samples", counts, packed)
    _label_counts(ds, _COUNTS_AXES)
    total = cg.create_dataset("total", data=counts.sum(axis=0, dtype=np.int64))
    _label_counts(total, _COUNTS_AXES[1:])
    if s.step_counts is not None:       # optional: per-step counts, for re-pricing latency
        steps = _as(s.step_counts, np.int64, "step_counts")
        if steps.shape[0] != n or steps.shape[2:] != counts.shape[1:]:
            raise ChipsimError(f"step_counts has shape {steps.shape}", field="step_counts",
                               expected=f"(N, T, {', '.join(map(str, counts.shape[1:]))}) with N = {n}")
        sds = _counts_dataset(cg, "steps", steps, packed)
        _label_counts(sds, _STEP_AXES)
    ev = _as(s.input_events, np.int64, "input_events")
    _counts_dataset(cg, "input_events", ev, packed).attrs["unit"] = "count"
    sg = g.create_group("samples")
    for name, (attr, dtype, unit) in _SAMPLE_FIELDS.items():
        d = _dataset(sg, name, _as(getattr(s, attr), dtype, attr), unit)
        if name == "split":
            _names_attr(d, "codes", ("train", "test"))
    eg = g.create_group("epochs")
    for name, (attr, dtype, unit) in _EPOCH_FIELDS.items():
        _dataset(eg, name, _as(getattr(s, attr), dtype, attr), unit)
    _write_weights(g, s)


def _write_weights(g: h5py.Group, s: Simulation) -> None:
    """simulation/weights/<layer>/W and /b: the final weights (rows: the layer's inputs, as
    chipsim stores them; a convolution's kernel as (k*k*Cin, Cout), rows in (ky, kx, ci) order)
    and biases, in the training dtype, when there are some and they fit WEIGHTS_MAX_BYTES;
    the attribute simulation@weights_note says which."""
    if s.weights is None:
        g.attrs["weights_note"] = "not kept: the run did not hand them over"
        return
    size = sum(int(np.asarray(W).nbytes) + int(np.asarray(b).nbytes) for W, b in s.weights)
    if size > WEIGHTS_MAX_BYTES:
        g.attrs["weights_note"] = (f"not kept: {size / 2**20:.0f} MiB would exceed "
                                   f"{WEIGHTS_MAX_BYTES / 2**20:.0f} MiB")
        return
    if len(s.weights) != len(s.layers):
        raise ChipsimError(f"{len(s.weights)} weight layers for {len(s.layers)} layers",
                           field="weights", expected="one (W, b) per layer")
    wg = g.create_group("weights")
    for ls, (W, b) in zip(s.layers, s.weights):
        W, b = np.asarray(W), np.asarray(b)
        if W.shape != tuple(ls.weight_shape) or b.shape != (ls.out[2],):
            raise ChipsimError(f"layer {ls.name}: weights {W.shape}, bias {b.shape}",
                               field="weights", expected=f"{tuple(ls.weight_shape)} and ({ls.out[2]},)")
        lg = wg.create_group(ls.name)
        lg.create_dataset("W", data=W, **_gzip(W.shape[0], W[0].nbytes if W.shape[0] else 0, W.shape))
        lg.create_dataset("b", data=b)
    lif = [ls for ls in s.layers if ls.spiking]
    if s.neurons is not None:
        if len(s.neurons) != len(lif):
            raise ChipsimError(f"{len(s.neurons)} neuron layers for {len(lif)} LIF layers",
                               field="neurons", expected="one per LIF layer")
        for ls, n in zip(lif, s.neurons):
            lg = wg[ls.name]
            for name, key in (("lam", "lam"), ("theta", "theta"), ("cin", "cin"), ("v_reset", "vr")):
                a = np.asarray(n[key], np.float64)
                if a.shape != (ls.n_out,):
                    raise ChipsimError(f"layer {ls.name}: {name} {a.shape}", field="neurons",
                                       expected=f"({ls.n_out},)")
                lg.create_dataset(name, data=a, **_gzip(a.size, 8, a.shape))
            if n.get("syn") is not None:          # a current-based (CubaLIF) layer
                a = np.asarray(n["syn"], np.float64)
                lg.create_dataset("syn_decay", data=a, **_gzip(a.size, 8, a.shape))
            lg.attrs["reset"] = "soft" if n["soft"] else "hard"
            lg.attrs["heaviside_at_zero"] = 1.0 if n["h0"] else 0.0
    if s.readout_li is not None:                  # an LI readout: its leak and input scale
        readout = [ls for ls in s.layers if ls.kind == "readout"][0]
        for name, a in zip(("li_lam", "li_cin"), s.readout_li):
            wg[readout.name].create_dataset(name, data=np.asarray(a, np.float64))
    g.attrs["weights_note"] = f"kept: {size:,} bytes" + (
        " (and every LIF neuron's parameters)" if s.neurons is not None else "")


def _write_cost(g: h5py.Group, c: Costs) -> None:
    _write_attrs(g, _COST_ATTRS, c)
    _write_text(g, "profile_yaml", c.profile_text, c.profile_path)
    cm = g.create_group("communication")
    for name in ("router_hops", "chip_messages", "spike_messages"):
        if getattr(c, name) is None:              # spike messages not counted
            continue
        a = _as(getattr(c, name), np.int64, name)
        d = _dataset(cm, name, a, "count", **_gzip(a.shape[0], a[0].nbytes if a.shape[0] else 0, a.shape))
        _names_attr(d, "axes", ("sample", "step", "layer"))
    if c.transposed_copy is not None and np.any(c.transposed_copy):
        d = _dataset(g, "transposed_copy", np.asarray(c.transposed_copy, np.uint8), "1")
        _names_attr(d, "axes", ("layer",))
        d.attrs["copy_bytes"] = int(c.copy_bytes)
    lat = g.create_group("latency")
    _dataset(lat, "step_train", _as(c.step_latency_train, np.float64, "step_latency_train"), "s")
    _dataset(lat, "step_test", _as(c.step_latency_test, np.float64, "step_latency_test"), "s")
    if c.mapping is not None:
        _write_mapping(g.create_group("mapping"), c.mapping)
    _write_energy(g.create_group("energy"), c.pricing)


def _write_mapping(g: h5py.Group, m: Mapping) -> None:
    g.attrs["profile"] = str(m.profile)
    for name in _MAPPING_ATTRS:
        g.attrs[name] = np.int64(getattr(m, name))
    g.attrs["neuron_utilisation"] = np.float64(m.neuron_utilisation)
    g.attrs["synapse_utilisation"] = np.float64(m.synapse_utilisation)
    g.create_dataset("core_ids", data=np.asarray(m.core_ids, np.int64))
    g.create_dataset("names", data=_str_array(p.name for p in m.layers), dtype=_STR)
    for name in _PLACEMENT_FIELDS:
        g.create_dataset(name, data=np.array([getattr(p, name) for p in m.layers], np.int64))
    seg = [(i, core, k) for i, p in enumerate(m.layers) for core, k in p.segments]
    d = g.create_dataset("segments", data=np.array(seg, np.int64).reshape(-1, 3))
    _names_attr(d, "columns", ("layer", "core", "neurons"))


def _write_energy(g: h5py.Group, p: Pricing) -> None:
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

    def string(self, name: str) -> str:
        """A scalar string dataset (a workload's or profile's YAML text, JSON)."""
        v = self.text(name)
        if not isinstance(v, str):
            raise self.error(name, f"is an array of shape {np.shape(v)}", "one UTF-8 string")
        return v

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

    def check(self, field: str, values, *, lo: float | None = 0, hi: float | None = None,
              nan: bool = False, what: str | None = None) -> None:
        """Refuse values the writer never writes: NaN (unless ``nan``: then NaN means
        'undefined'), inf, and values below ``lo`` or above ``hi``; the error names the
        field, how many values are wrong and the first of them."""
        a = np.asarray(values)
        if a.dtype.kind == "b" or not a.size:
            return
        flat = a.reshape(-1)
        bad = np.zeros(flat.shape, bool)
        if a.dtype.kind == "f":
            bad |= np.isinf(flat) if nan else ~np.isfinite(flat)
        with np.errstate(invalid="ignore"):
            if lo is not None:
                bad |= flat < lo
            if hi is not None:
                bad |= flat > hi
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            where = f" at {tuple(int(x) for x in np.unravel_index(i, a.shape))}" if a.ndim else ""
            rng = ("finite" + ("" if lo is None else f", >= {lo:g}") + ("" if hi is None else f", <= {hi:g}")
                   + (" (or NaN: undefined)" if nan else ""))
            raise self.error(field, f"{int(bad.sum())} of {a.size} values are wrong, the first "
                                    f"{flat[i]!r}{where}", what or f"values {rng}")


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


def _check_declared_size(f: h5py.File, path: Path) -> None:
    """Refuse a file whose datasets, read whole as :func:`read_result` reads them, would not
    fit in the memory available (chipsim/memory.py); the figure is what each dataset declares
    (shape x item size), known before any of it is read. A results file has no fixed size
    cap: a long run's counts make files of gigabytes, and those are read when they fit."""
    needs = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            shape = obj.shape or ()
            n = math.prod(int(s) for s in shape)
            # read, then converted or mapped onto this chipsim's actions: two copies at most
            needs.append(Need(f"reading the dataset {name} ({' x '.join(map(str, shape)) or 'scalar'} "
                              f"{obj.dtype})", name, 2 * n * max(obj.dtype.itemsize, 1)))

    f.visititems(visit)
    check_memory(needs, file=path, expected="a results file whose arrays fit in memory")


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
            version = _check_version(rd)
            _check_declared_size(f, path)
            return _read(rd) if version >= 2 else _read_v1(rd)
        except ChipsimError:
            raise
        except MemoryError:
            raise ChipsimError("does not fit in the memory available", file=str(path),
                               expected="a results file whose arrays fit in memory") from None
        except (KeyError, OSError, TypeError, ValueError) as exc:
            raise ChipsimError(f"malformed result file: {exc}", file=str(path),
                               expected=f"a chipsim result file of schema_version "
                                        f"{SCHEMA_VERSION}") from None


def stored_workload_text(path) -> str:
    """The workload YAML text a result file stores (``simulation/workload_yaml``; schema 1:
    ``config/workload_yaml``), read without the rest of the file. Raises
    :class:`ChipsimError` naming the file unless it is a chipsim result."""
    path = Path(path)
    _check_file(path)
    try:
        with h5py.File(path, "r") as f:
            rd = _Reader(f, path)
            name = "simulation/workload_yaml" if _check_version(rd) >= 2 else "config/workload_yaml"
            return rd.string(name)
    except ChipsimError:
        raise
    except (KeyError, OSError, TypeError, ValueError) as exc:
        raise ChipsimError(f"malformed result file: {exc}", file=str(path),
                           expected="a chipsim result file") from None


def _check_version(rd: _Reader) -> int:
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
    return v


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


def _read_attrs(rd: _Reader, obj, spec: dict) -> dict:
    out = {}
    for name, (kind, _) in spec.items():
        if kind == "str":
            out[name] = rd.str_attr(obj, name)
        elif kind == "int":
            out[name] = rd.int_attr(obj, name)
        elif kind == "bool":
            out[name] = bool(rd.attr(obj, name))
        else:
            v = rd.float_attr(obj, name)
            out[name] = None if (kind == "float?" and math.isnan(v)) else v
    return out


def _json_attr(rd: _Reader, obj, key: str, kind: type):
    try:
        v = json.loads(rd.str_attr(obj, key))
    except json.JSONDecodeError:
        raise rd.error(f"{obj.name}@{key}", "is not valid JSON", "a JSON value") from None
    if not isinstance(v, kind):
        raise rd.error(f"{obj.name}@{key}", f"is not a JSON {kind.__name__}", f"a JSON {kind.__name__}")
    return v


def _read_counts(rd: _Reader, name: str, ndim: int):
    """A counts dataset mapped onto this chipsim's actions, and the file's action names."""
    ds = rd.node(name)
    phases = rd.names_attr(ds, "phases")
    if phases != PHASE_NAMES:
        raise rd.error(f"{name}@phases", f"is {list(phases)}", f"{list(PHASE_NAMES)}")
    actions = rd.names_attr(ds, "actions")
    raw = rd.array(name, np.int64)
    if raw.ndim != ndim or raw.shape[-2:] != (len(PHASE_NAMES), len(actions)):
        raise rd.error(name, f"has shape {raw.shape}",
                       f"{ndim} axes ending in ({len(PHASE_NAMES)}, {len(actions)}) as its attributes say")
    rd.check(name, raw, what="counts >= 0")
    idx, dropped = _action_map(actions)
    return _map_last_axis(raw, idx), idx, dropped


def _read_layers(rd: _Reader, g: str, n_layers: int) -> tuple:
    names = tuple(str(x) for x in np.atleast_1d(rd.text(f"{g}/names")))
    if len(names) != n_layers:
        raise rd.error(f"{g}/names", f"has {len(names)} names",
                       f"{n_layers}, the layer axis of the counts")
    cols = {}
    for name, (attr, dtype, width) in _LAYER_FIELDS.items():
        if dtype is _STR:
            cols[attr] = [str(x) for x in np.atleast_1d(rd.text(f"{g}/{name}"))]
            if len(cols[attr]) != n_layers:
                raise rd.error(f"{g}/{name}", f"has {len(cols[attr])} values",
                               f"{n_layers}, one per layer")
        else:
            shape = (n_layers,) if width == 1 else (n_layers, width)
            a = rd.array(f"{g}/{name}", dtype, shape)
            rd.check(f"{g}/{name}", a)
            cols[attr] = [tuple(int(v) for v in row) if width > 1 else
                          (bool(row) if dtype is np.bool_ else int(row)) for row in a]
    return tuple(LayerShape(name=names[i], **{k: v[i] for k, v in cols.items()})
                 for i in range(n_layers))


def _read(rd: _Reader) -> RunResult:
    f = rd.f
    root = f["/"]
    counts, idx, dropped = _read_counts(rd, "simulation/counts/samples", 4)
    missing = tuple(name for name, i in zip(ACTION_NAMES, idx) if i < 0)
    n, n_layers = counts.shape[:2]
    sg = rd.node("simulation")
    attrs = _read_attrs(rd, sg, _SIM_ATTRS)
    T = attrs["time_steps"]
    steps = None
    if "simulation/counts/steps" in f:
        steps = _read_counts(rd, "simulation/counts/steps", 5)[0]
    samples = {attr: rd.array(f"simulation/samples/{name}", dtype, (n,))
               for name, (attr, dtype, _) in _SAMPLE_FIELDS.items()}
    n_epochs = rd.array("simulation/epochs/train_loss", np.float64).shape
    epochs = {attr: rd.array(f"simulation/epochs/{name}", dtype, n_epochs)
              for name, (attr, dtype, _) in _EPOCH_FIELDS.items()}
    _check_simulation(rd, attrs, counts, steps, samples, epochs)
    events = rd.array("simulation/counts/input_events", np.int64, (n, T))
    rd.check("simulation/counts/input_events", events, what="counts >= 0")
    sim = Simulation(
        workload_name=attrs.pop("workload_name"),
        workload_path=rd.str_attr(rd.node("simulation/workload_yaml"), "path"),
        workload_text=rd.string("simulation/workload_yaml"),
        overrides=tuple(tuple(kv) for kv in _json_attr(rd, sg, "overrides", list)),
        skipped_samples=tuple(_json_attr(rd, sg, "skipped_samples", list)),
        requested_mapping=tuple((str(k), tuple(int(c) for c in v))
                                for k, v in _json_attr(rd, sg, "requested_mapping", list)),
        layers=_read_layers(rd, "simulation/layers", n_layers),
        sample_counts=counts, step_counts=steps, input_events=events,
        **attrs, **samples, **epochs)
    if "simulation/weights" in f:
        sim = dataclasses.replace(sim, weights=_read_weights(rd, sim.layers),
                                  neurons=_read_neurons(rd, sim.layers),
                                  readout_li=_read_readout_li(rd, sim.layers))
    cg = rd.node("cost")
    cattrs = _read_attrs(rd, cg, _COST_ATTRS)
    for name in ("throughput_train", "throughput_test", "real_time_factor_train",
                 "real_time_factor_test"):
        if cattrs[name] is not None:
            rd.check(f"cost@{name}", cattrs[name], what="a finite value >= 0, or NaN (undefined)")
    latency = {}
    for name in ("step_train", "step_test"):
        a = rd.array(f"cost/latency/{name}", np.float64)
        if a.shape not in ((0,), (T,)):
            raise rd.error(f"cost/latency/{name}", f"has shape {a.shape}",
                           f"shape ({T},), one value per time step, or (0,) without a cycle model")
        rd.check(f"cost/latency/{name}", a)
        latency[name] = a
    comm = {name: rd.array(f"cost/communication/{name}", np.int64, (n, T, n_layers))
            for name in ("router_hops", "chip_messages")}
    # spike messages: written since chipsim 0.2.1; an older file did not count them
    comm["spike_messages"] = (rd.array("cost/communication/spike_messages", np.int64,
                                       (n, T, n_layers))
                              if "cost/communication/spike_messages" in f else None)
    for name, a in comm.items():
        if a is not None:
            rd.check(f"cost/communication/{name}", a, what="counts >= 0")
    # a transposed copy of the weights (error_delivery transposed_copy): since chipsim 0.2.2
    copies, cbytes = None, 0
    if "cost/transposed_copy" in f:
        copies = rd.array("cost/transposed_copy", np.int64, (n_layers,)) != 0
        cbytes = int(f["cost/transposed_copy"].attrs.get("copy_bytes", 0))
    cost = Costs(
        transposed_copy=copies, copy_bytes=cbytes,
        profile_path=rd.str_attr(rd.node("cost/profile_yaml"), "path"),
        profile_text=rd.string("cost/profile_yaml"),
        mapping=_read_mapping(rd, "cost/mapping") if "cost/mapping" in f else None,
        router_hops=comm["router_hops"], chip_messages=comm["chip_messages"],
        spike_messages=comm["spike_messages"],
        pricing=_read_pricing(rd, "cost/energy", n, n_layers),
        step_latency_train=latency["step_train"], step_latency_test=latency["step_test"],
        **cattrs)
    return RunResult(version=rd.str_attr(root, "chipsim_version"),
                     created=rd.str_attr(root, "created"), command=rd.str_attr(root, "command"),
                     sim=sim, cost=cost, missing_actions=missing, dropped_actions=tuple(dropped),
                     notes=tuple(_json_attr(rd, root, "notes", list)))


def _read_weights(rd: _Reader, layers) -> tuple:
    """The final (W, b) of every layer (simulation/weights), shapes checked against the
    layers' geometry, values finite."""
    out = []
    for ls in layers:
        pair = []
        for name, shape in (("W", tuple(ls.weight_shape)), ("b", (ls.out[2],))):
            field = f"simulation/weights/{ls.name}/{name}"
            ds = rd.node(field)
            if not isinstance(ds, h5py.Dataset):
                raise rd.error(field, "is a group", "a dataset")
            if ds.dtype not in (np.float32, np.float64):
                raise rd.error(field, f"has dtype {ds.dtype}", "float32 or float64")
            if ds.shape != shape:
                raise rd.error(field, f"has shape {ds.shape}", f"shape {shape}")
            # not checked for finite values: a run that diverged keeps the weights it ended with
            pair.append(np.asarray(ds[()]))
        out.append(tuple(pair))
    return tuple(out)


def _read_readout_li(rd: _Reader, layers) -> tuple | None:
    """An LI readout's (lam, cin) (simulation/weights/readout/li_lam, li_cin), or None."""
    readout = [ls for ls in layers if ls.kind == "readout"]
    if not readout:
        return None
    g = f"simulation/weights/{readout[0].name}"
    if "li_lam" not in rd.node(g):
        return None
    out = []
    for name in ("li_lam", "li_cin"):
        a = rd.array(f"{g}/{name}", np.float64, (readout[0].out[2],))
        out.append(a)
    return tuple(out)


def _read_neurons(rd: _Reader, layers) -> tuple | None:
    """Every LIF layer's neurons (simulation/weights/<layer>/lam, theta, cin, v_reset and the
    attributes reset, heaviside_at_zero), or None for a file without them (before 0.2.1)."""
    lif = [ls for ls in layers if ls.spiking]
    if not lif or "lam" not in rd.node(f"simulation/weights/{lif[0].name}"):
        return None
    out = []
    for ls in lif:
        g = f"simulation/weights/{ls.name}"
        n = {}
        for name, key in (("lam", "lam"), ("theta", "theta"), ("cin", "cin"), ("v_reset", "vr")):
            ds = rd.node(f"{g}/{name}")
            if not isinstance(ds, h5py.Dataset) or ds.shape != (ls.n_out,) or \
                    ds.dtype != np.float64:
                raise rd.error(f"{g}/{name}", f"is {getattr(ds, 'dtype', 'a group')} "
                               f"{getattr(ds, 'shape', '')}", f"float64 ({ls.n_out},)")
            n[key] = np.asarray(ds[()])
        node = rd.node(g)
        n["syn"] = None
        if "syn_decay" in node:
            ds = node["syn_decay"]
            if not isinstance(ds, h5py.Dataset) or ds.shape != (ls.n_out,) or ds.dtype != np.float64:
                raise rd.error(f"{g}/syn_decay", "is not a float64 array of the layer's neurons",
                               f"float64 ({ls.n_out},)")
            n["syn"] = np.asarray(ds[()])
        reset, h0 = node.attrs.get("reset"), node.attrs.get("heaviside_at_zero")
        if isinstance(reset, bytes):
            reset = reset.decode()
        if reset not in ("soft", "hard") or h0 not in (0.0, 1.0):
            raise rd.error(g, f"reset {reset!r}, heaviside_at_zero {h0!r}",
                           "reset 'soft' or 'hard' and heaviside_at_zero 0 or 1")
        out.append(dict(n, soft=reset == "soft", h0=float(h0) == 1.0))
    return tuple(out)


def _check_simulation(rd: _Reader, attrs: dict, counts, steps, samples: dict, epochs: dict) -> None:
    """What the engine writes about a simulation, checked on reading (the counts themselves are
    checked by :func:`_read_counts`)."""
    n, n_layers = counts.shape[:2]
    T, E = attrs["time_steps"], attrs["epochs"]
    for name in ("time_steps", "batch_size"):
        rd.check(f"simulation@{name}", attrs[name], lo=1, what="an integer >= 1")
    for name in ("epochs", "train_samples", "test_samples", "learning_memory_bytes",
                 "gradient_buffer_bytes", "footprint_bytes", "wall_time_s"):
        rd.check(f"simulation@{name}", attrs[name])
    if steps is not None:
        if steps.shape[:3] != (n, T, n_layers):
            raise rd.error("simulation/counts/steps", f"has shape {steps.shape}",
                           f"({n}, {T}, {n_layers}, ...): the samples, time steps and layers of "
                           "simulation/counts/samples")
        if not np.array_equal(steps.sum(axis=1), counts):
            raise rd.error("simulation/counts/steps", "does not sum over the time steps to "
                           "simulation/counts/samples", "per-step counts whose sum is each sample's counts")
    codes = {"split": (0, 1), "epoch": (0, max(E - 1, 0)), "index": (0, None),
             "label": (0, None), "pred": (0, None)}
    for name, (attr, _, _) in _SAMPLE_FIELDS.items():
        field = f"simulation/samples/{name}"
        if name in codes:
            lo, hi = codes[name]
            rd.check(field, samples[attr], lo=lo, hi=hi)
        else:                   # loss: finite; duration: >= 0, NaN when unknown
            rd.check(field, samples[attr], lo=None if name == "loss" else 0, nan=name == "duration")
    for name, (attr, _, _) in _EPOCH_FIELDS.items():
        a = epochs[attr]
        if a.shape != (E,):
            raise rd.error(f"simulation/epochs/{name}", f"has shape {a.shape}",
                           f"({E},), one value per epoch (simulation@epochs)")
        rd.check(f"simulation/epochs/{name}", a, hi=1 if name.endswith("acc") else None, nan=True,
                 lo=0 if name.endswith("acc") else None)


def _read_mapping(rd: _Reader, g: str) -> Mapping:
    node = rd.node(g)
    names = [str(x) for x in np.atleast_1d(rd.text(f"{g}/names"))]
    cols = {k: rd.array(f"{g}/{k}", np.int64, (len(names),)) for k in _PLACEMENT_FIELDS}
    seg = rd.array(f"{g}/segments", np.int64)
    if seg.ndim != 2 or seg.shape[1] != 3:
        raise rd.error(f"{g}/segments", f"has shape {seg.shape}", "(S, 3): layer, core, neurons")
    rd.check(f"{g}/segments", seg[:, 0], hi=len(names) - 1, what="layer indices of the mapping's layers")
    rd.check(f"{g}/segments", seg[:, 1:], what="cores and neurons >= 0")
    for k, v in cols.items():
        rd.check(f"{g}/{k}", v)
    placements = tuple(
        LayerPlacement(name, tuple((int(c), int(k)) for l_, c, k in seg if l_ == i),
                       **{k: int(v[i]) for k, v in cols.items()})
        for i, name in enumerate(names))
    for k in _MAPPING_ATTRS + ("neuron_utilisation", "synapse_utilisation"):
        rd.check(f"{g}@{k}", rd.float_attr(node, k))
    return Mapping(profile=rd.str_attr(node, "profile"), layers=placements,
                   **{k: rd.int_attr(node, k) for k in _MAPPING_ATTRS},
                   neuron_utilisation=rd.float_attr(node, "neuron_utilisation"),
                   synapse_utilisation=rd.float_attr(node, "synapse_utilisation"),
                   core_ids=tuple(int(c) for c in rd.array(f"{g}/core_ids", np.int64)))


def _read_pricing(rd: _Reader, gname: str, n: int, n_layers: int) -> Pricing:
    g = rd.node(gname)
    e_actions = rd.names_attr(g, "actions")
    idx, _ = _action_map(e_actions)
    per_action = {}
    for name, (dtype, _) in _PER_ACTION_FIELDS.items():
        a = rd.array(f"{gname}/{name}", dtype, (len(e_actions),))
        per_action[name] = _map_last_axis(a, idx)
    energy = rd.array(f"{gname}/energy", np.float64, (n_layers, len(PHASE_NAMES), len(e_actions)))
    per_sample = {name: rd.array(f"{gname}/{name}", np.float64, (n,))
                  for name in _PER_SAMPLE_ENERGY_FIELDS}
    for name in ("energy_per_action", "time_per_action"):
        rd.check(f"{gname}/{name}", per_action[name])
    rd.check(f"{gname}/energy", energy)
    for name, a in per_sample.items():
        rd.check(f"{gname}/{name}", a)
    kind = rd.str_attr(g, "sop_energy_kind")
    if kind not in _SOP_ENERGY_KINDS:
        raise rd.error(f"{gname}@sop_energy_kind", f"is '{kind}'", " or ".join(_SOP_ENERGY_KINDS))
    static_power = float(rd.scalar(f"{gname}/static_power", np.float64))
    rd.check(f"{gname}/static_power", static_power)
    share = float(rd.scalar(f"{gname}/assumed_energy_share", np.float64))
    rd.check(f"{gname}/assumed_energy_share", share, hi=1, what="a fraction from 0 to 1")
    try:
        sources = json.loads(rd.string(f"{gname}/sources"))
    except json.JSONDecodeError:
        raise rd.error(f"{gname}/sources", "is not valid JSON", "a JSON object") from None
    return Pricing(
        profile_name=rd.str_attr(g, "profile_name"),
        sop_energy_kind=kind,
        **per_action,
        static_power=static_power,
        static_assumed=bool(rd.scalar(f"{gname}/static_assumed", np.bool_)),
        sources=sources,
        energy=_map_last_axis(energy, idx),
        **per_sample,
        assumed_energy_share=share,
    )


# ------------------------------------------------------------------------ schema version 1

def _read_v1(rd: _Reader) -> RunResult:
    """A file of schema version 1 (chipsim 0.1): one flat layout, counts with the
    communication inside, metadata in a free-form ``extra`` JSON. Read into today's records;
    the layer geometry it did not store is rebuilt from its workload text (as chipsim 0.1's
    re-pricing did), and what cannot be recovered is said in the result's notes."""
    from chipsim.report._v1 import read_v1
    return read_v1(rd, _read_counts, _read_pricing)
