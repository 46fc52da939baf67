"""A frame cache: framed data sets kept in HDF5 files keyed by the data set and the framing.

Parsing event files (and emulating the CIFAR10-DVS stand-in) costs far more than reading the
framed tensors back, so a loader wraps its work in :func:`cached`. The key is a JSON object: the
data set, its root and a fingerprint of its files (relative path, size, modification time),
the split, T, the framing mode, the spatial size, the sample limit and the cache format
version. A file whose stored key differs (stale) or that cannot be read (corrupt, truncated,
half-written) is rebuilt; files are written atomically (temporary file, then rename). A cache
that cannot be written (``$CHIPSIM_CACHE`` a regular file, a read-only directory, a full disk)
is not an error: one warning on stderr per process, and the data are used without caching.

The cache lives in ``$CHIPSIM_CACHE`` or ``~/.cache/chipsim``. HDF5 files of data sets are read
and written here and in the data readers (DESIGN.md: only report/ and data/ touch h5py).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

from chipsim.data.framed import FramedDataset
from chipsim.memory import available

CACHE_FORMAT = 2      # 2: recordings without events are refused or listed, not dropped (issue 11)


def cache_dir() -> Path:
    return Path(os.environ.get("CHIPSIM_CACHE") or Path.home() / ".cache" / "chipsim")


def fingerprint(root: Path, pattern: str = "**/*") -> list:
    """(relative path, size, mtime_ns) of every file under root: changes when the data do."""
    out = []
    for p in sorted(root.glob(pattern)):
        if p.is_file():
            st = p.stat()
            out.append([str(p.relative_to(root)), st.st_size, st.st_mtime_ns])
    return out


def _path_for(key: dict) -> Path:
    text = json.dumps(key, sort_keys=True)
    return cache_dir() / f"{key.get('dataset', 'data')}-{hashlib.sha1(text.encode()).hexdigest()[:16]}.h5"


def cached(key: dict, build, enabled: bool = True):
    """``build()`` -> FramedDataset, or its copy from the cache under ``key``.
    Returns (dataset, status) with status 'hit', 'built' or 'off'."""
    if not enabled:
        return build(), "off"
    key = dict(key, cache_format=CACHE_FORMAT)
    path = _path_for(key)
    text = json.dumps(key, sort_keys=True)
    try:
        present = path.exists()
    except OSError:            # a cache directory we may not even look into: rebuilt, not kept
        present = False
    if present:
        try:
            with h5py.File(path, "r") as f:
                if f.attrs["key"] == text:
                    g = f["dataset"]
                    _check_declared_size(g)
                    ds = FramedDataset(
                        name=str(g.attrs["name"]), description=str(g.attrs["description"]),
                        frames=g["frames"][()], labels=g["labels"][()],
                        sample_ids=tuple(s.decode() for s in g["sample_ids"][()]),
                        n_classes=int(g.attrs["n_classes"]),
                        sensor_size=tuple(int(v) for v in g.attrs["sensor_size"]),
                        mode=str(g.attrs["mode"]), downscale=int(g.attrs["downscale"]),
                        durations_s=g["durations_s"][()] if "durations_s" in g else None,
                        skipped=tuple(s.decode() for s in g["skipped"][()]) if "skipped" in g else ())
                    _check_entry(ds, key)
                    return ds, "hit"
        except Exception:      # corrupt or from another version: rebuild below
            pass
    ds = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".partial", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        _warn_unwritable(path.parent, exc)
        return ds, "off"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["key"] = text
            g = f.create_group("dataset")
            g.create_dataset("frames", data=ds.frames, compression="gzip", compression_opts=1,
                             chunks=(1,) + ds.frames.shape[1:] if len(ds.frames) else None)
            g.create_dataset("labels", data=ds.labels)
            g.create_dataset("sample_ids", data=np.array([s.encode() for s in ds.sample_ids], dtype="S"))
            if ds.durations_s is not None:
                g.create_dataset("durations_s", data=ds.durations_s)
            g.create_dataset("skipped", data=np.array([s.encode() for s in ds.skipped], dtype="S"))
            for k in ("name", "description", "n_classes", "mode", "downscale"):
                g.attrs[k] = getattr(ds, k)
            g.attrs["sensor_size"] = np.array(ds.sensor_size)
        os.replace(tmp, path)
    except OSError as exc:            # disk full, quota, a directory that went read-only
        Path(tmp).unlink(missing_ok=True)
        _warn_unwritable(path.parent, exc)
        return ds, "off"
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ds, "built"


def _check_declared_size(g: h5py.Group) -> None:
    """Refuse (as a corrupt entry, so rebuilt) an entry whose datasets declare more than the
    memory available: a few kB of HDF5 may declare terabytes, allocated when read."""
    budget = available()[0]
    declared = sum(d.size * d.dtype.itemsize for d in g.values() if isinstance(d, h5py.Dataset))
    if budget is not None and declared > budget:
        raise ValueError(f"the cache entry declares {declared} bytes")


#: the frames' dtype of each framing mode (chipsim/data/framing.py)
_FRAME_DTYPES = {"binary": np.uint8, "count": np.int32}


def _check_entry(ds: FramedDataset, key: dict) -> None:
    """Refuse (as a corrupt entry, so rebuilt) an entry that reads but is not what ``key``
    names: frames of another number of steps, dtype or range, labels outside the classes,
    durations not one per sample. Such an entry would fail the run later, with a traceback."""
    frames, labels, mode = ds.frames, ds.labels, key.get("mode", ds.mode)
    wrong = (frames.shape[1] != key.get("T", frames.shape[1]) or ds.mode != mode
             or frames.dtype != _FRAME_DTYPES.get(mode, frames.dtype)
             or labels.dtype.kind not in "iu" or ds.n_classes < 1
             or (ds.durations_s is not None and ds.durations_s.shape != (len(ds),)))
    if not wrong and len(ds):
        wrong = (frames.min() < 0 or (mode == "binary" and frames.max() > 1)
                 or labels.min() < 0 or labels.max() >= ds.n_classes)
    if wrong:
        raise ValueError("the cache entry is not what its key names")


_warned: set[str] = set()


def _warn_unwritable(where: Path, exc: OSError) -> None:
    """Say once per process and cache directory that the cache is not used, and why."""
    key = str(cache_dir())
    if key in _warned:
        return
    _warned.add(key)
    reason = exc.strerror or str(exc)
    print(f"chipsim: warning: the frame cache {key} cannot be written ({reason}: {where}); "
          f"running without it, so framed data are rebuilt on every run (set CHIPSIM_CACHE "
          f"to a writable directory)", file=sys.stderr)
