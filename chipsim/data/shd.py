"""Reader for the Spiking Heidelberg Digits (SHD) HDF5 files.

Layout (Cramer et al. 2020; ``shd_train.h5`` / ``shd_test.h5``)::

    spikes/times    one variable-length float array per sample, spike times in seconds
    spikes/units    one variable-length integer array per sample, channel 0..699
    labels          integers 0..19 (digits 0-9 in English, then in German)
    extra/speaker, extra/keys, extra/meta_info   (not needed here)

Each sample becomes an :class:`EventStream` with tonic's convention: sensor ``(700, 1, 1)``,
``x = unit``, ``y = 0``, ``p = 1`` and ``t = times * 1e6`` µs. Times are rounded to the nearest
µs (tonic assigns ``times * 1e6`` to an integer field, which truncates, so a time stored as
0.3 s becomes 299999 µs there and 300000 µs here).

Robustness: a missing field, a wrong shape or dtype, bad values, a file that is not HDF5 or
a truncated file raise :class:`ChipsimError` naming the file and the HDF5 field. Bytes
corrupted in the *middle* of an HDF5 file can crash libhdf5 itself (it is not hardened
against corrupt metadata); that is outside what a Python reader can catch.

This module is the only place in ``chipsim.data`` that uses h5py (HDF5 data files are an
exception to the report-only rule of docs/DESIGN.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.errors import ChipsimError
from chipsim.memory import Need, check, regular_file_size

SHD_SENSOR_SIZE: tuple[int, int, int] = (700, 1, 1)
SHD_N_CLASSES = 20


def _fail(p: Path, field: str, msg: str, expected: str):
    raise ChipsimError(msg, file=str(p), field=field, expected=expected)


def count_shd(path: str | os.PathLike) -> int:
    """The number of samples of an SHD file (the length of its ``labels``), read from its
    metadata; 0 when the file cannot be read (:func:`read_shd` names the problem)."""
    import h5py

    try:
        with h5py.File(Path(path), "r") as f:
            return int(f["labels"].shape[0])
    except Exception:      # missing, not HDF5, no labels: read_shd says which
        return 0


def read_shd(path: str | os.PathLike, limit: int | None = None
             ) -> tuple[list[EventStream], np.ndarray]:
    """Read an SHD HDF5 file: returns ``(streams, labels)`` with one :class:`EventStream` per
    sample (sensor (700, 1, 1)) and an ``int64`` label array. ``limit`` reads only the first
    samples. Any missing or malformed field raises :class:`ChipsimError` naming the file and
    the HDF5 field."""
    import h5py  # HDF5 data file: see the module docstring

    p = Path(path)
    regular_file_size(p, "an SHD .h5 file")    # not a FIFO or a device, which HDF5 would open
    if limit is not None and limit < 1:
        raise ChipsimError(f"limit={limit}", field="limit", expected="a positive integer or None")
    field = "<file>"
    try:
        with h5py.File(p, "r") as f:
            for field in ("spikes/times", "spikes/units", "labels"):
                if field not in f or not isinstance(f[field], h5py.Dataset):
                    _fail(p, field, "missing", "an SHD file with spikes/times, spikes/units "
                                               "and labels datasets")
            field = "labels"
            ds_l = f["labels"]
            if ds_l.ndim != 1 or ds_l.dtype.kind not in "iu":
                _fail(p, field, f"has shape {ds_l.shape} and dtype {ds_l.dtype}",
                      "a 1-D integer array")
            n = ds_l.shape[0]
            k = n if limit is None else min(n, int(limit))
            times_ds = f["spikes/times"]
            units_ds = f["spikes/units"]
            for field, ds in (("spikes/times", times_ds), ("spikes/units", units_ds)):
                if ds.ndim != 1 or ds.shape[0] != n:
                    _fail(p, field, f"has shape {ds.shape} but labels has {n} samples",
                          "one variable-length array per sample")
            # what the datasets declare, refused before it is allocated (a few kB of file may
            # declare terabytes); variable-length data is in the file, so bounded by its size
            check([Need(f"reading the dataset {name} ({k} x {ds.dtype})", name,
                        k * max(ds.dtype.itemsize, 1))
                   for name, ds in (("labels", ds_l), ("spikes/times", times_ds),
                                    ("spikes/units", units_ds))],
                  file=p, expected="an SHD file whose arrays fit in memory")
            field = "labels"
            labels = np.asarray(ds_l[:k], dtype=np.int64)
            field = "spikes/times"
            times = times_ds[:k]
            field = "spikes/units"
            units = units_ds[:k]
    except ChipsimError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, TypeError, ValueError, ...
        raise ChipsimError(f"cannot read field '{field}': {type(exc).__name__}: {exc}",
                           file=str(p), expected="a readable SHD HDF5 file") from None
    bad = (labels < 0) | (labels >= SHD_N_CLASSES)
    if bad.any():
        i = int(np.argmax(bad))
        _fail(p, "labels", f"sample {i} has label {int(labels[i])}",
              f"labels 0..{SHD_N_CLASSES - 1}")
    streams = []
    for i in range(k):
        try:
            ts = np.asarray(times[i], dtype=np.float64).reshape(-1)
            un = np.asarray(units[i]).reshape(-1)
        except (TypeError, ValueError) as exc:
            _fail(p, "spikes/times", f"sample {i} is not numeric: {exc}", "float arrays")
        if un.dtype.kind not in "iu":
            _fail(p, "spikes/units", f"sample {i} has dtype {un.dtype}", "integer unit indices")
        if len(ts) != len(un):
            _fail(p, "spikes/times", f"sample {i} has {len(ts)} times but {len(un)} units",
                  "as many times as units per sample")
        if not np.isfinite(ts).all() or (ts < 0).any() or (ts > 9.2e12).any():
            j = int(np.argmax(~np.isfinite(ts) | (ts < 0) | (ts > 9.2e12)))
            _fail(p, "spikes/times", f"sample {i} spike {j} has time {ts[j]!r} s",
                  "finite, non-negative times in seconds")
        badu = (un < 0) | (un >= SHD_SENSOR_SIZE[0])
        if badu.any():
            j = int(np.argmax(badu))
            _fail(p, "spikes/units", f"sample {i} spike {j} has unit {int(un[j])}",
                  f"units 0..{SHD_SENSOR_SIZE[0] - 1}")
        ev = np.empty(len(ts), dtype=EVENT_DTYPE)
        ev["t"] = np.rint(ts * 1e6).astype(np.int64)
        ev["x"] = un
        ev["y"] = 0
        ev["p"] = 1
        streams.append(EventStream(ev, SHD_SENSOR_SIZE))
    return streams, labels
