"""Event-camera data sets on a user's disk: CIFAR10-DVS, DVS128 Gesture, SHD.

Each loader returns a :class:`~chipsim.data.framed.FramedDataset` framed to T equal time bins,
through the frame cache (chipsim/data/cache.py). CIFAR10-DVS and DVS128 Gesture are framed at
a ``size x size`` side (event coordinates scaled as ``x * size // W``, any size, not only
integer factors); the registry's loaders (chipsim/data/registry.py) pass the side that
:func:`~chipsim.data.registry.input_side` gives for the workload's ``dataset.size`` or
``dataset.downscale``. Unreadable files, samples without events and timestamps that cannot
be framed end the run with an error naming the file and the byte offset, or, with
``skip_bad``, are left out and listed with the reason (``FramedDataset.skipped``, entries
``"<sample id>: <reason>"``; the results file records them).

- **CIFAR10-DVS** (Li et al. 2017): ``root/<class>/*.aedat`` (the original AEDAT 2.0 files,
  SpikingJelly's orientation) or ``*.aedat4`` (tonic's conversion); classes in alphabetical
  order; the first 90 % of each class (by file number) train, the last 10 % test: the 9:1
  per-class split of the OTTT and SLTT code (docs/reference/algorithms.md §3.4).
- **DVS128 Gesture** (Amir et al. 2017): ``root/userNN_<light>.aedat`` with
  ``userNN_<light>_labels.csv`` (AEDAT 3.1); each labelled gesture is one sample (11 classes).
  The official split is ``trials_to_train.txt`` / ``trials_to_test.txt`` when present in the
  root (file names inside the root: an absolute path or ``..`` is refused), else users 1-23
  train and 24-29 test (the same split; a recording not named ``userNN_<light>.aedat`` is
  refused, its user being unknown).
- **SHD** (Cramer et al. 2020): ``root/shd_train.h5`` and ``root/shd_test.h5``; 700 channels,
  20 classes; frames (T, 1, 1, 700) (no resizing).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePath, PureWindowsPath

import numpy as np

from chipsim import __version__
from chipsim.data.cache import cached, fingerprint
from chipsim.data.datasets import _check_split, no_samples_error
from chipsim.data.events import EventStream
from chipsim.data.framed import FramedDataset
from chipsim.data.framing import frame_events, scale_coordinates
from chipsim.errors import ChipsimError
from chipsim.memory import regular_file_size

CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                      "ship", "truck")


def _root(root, name: str, layout: str) -> Path:
    if root is None:
        raise ChipsimError(f"no root given for {name}", field="dataset.root", expected=layout)
    r = Path(os.path.expandvars(os.path.expanduser(str(root))))
    if not r.is_dir():
        raise ChipsimError(f"{r} is not a directory", field="dataset.root", expected=layout)
    return r


def _frame_all(items, reader, time_steps, mode, size, skip_bad, root):
    """items: [(path, sample id, label, extra)] -> frames, labels, ids, durations, skipped.

    ``reader(path, label, extra)`` yields ``(stream, label, sub-id)`` per sample of a file. A
    file that cannot be read, a sample without events and a sample that cannot be framed (its
    timestamps out of range) end the load with an error naming the file, or, with
    ``skip_bad``, are left out and listed as ``"<id>: <reason>"``."""
    frames, labels, ids, durs, skipped = [], [], [], [], []
    for path, sid, label, extra in items:
        samples = reader(path, label, extra)
        while True:
            try:
                got = next(samples, None)
            except ChipsimError as e:
                if not skip_bad:
                    raise
                skipped.append(f"{sid}: {e.detail}")
                break
            if got is None:
                break
            stream, lab, sub = got
            try:
                if len(stream) == 0:
                    raise ChipsimError("holds no events", expected="at least one event per sample")
                fr = frame_events(scale_coordinates(stream, size), time_steps, mode=mode)
            except ChipsimError as e:
                if not skip_bad:
                    raise ChipsimError(e.detail + (f" (gesture {sub})" if sub else ""),
                                       file=str(path), expected=e.expected) from None
                skipped.append(f"{sid}{sub}: {e.detail}")
                continue
            frames.append(fr)
            labels.append(lab)
            ids.append(sid + sub)
            durs.append((stream.duration_us + 1) * 1e-6)
    if not frames:
        raise no_samples_error(root, skipped)
    return (np.stack(frames), np.array(labels, np.int64), tuple(ids), np.array(durs), tuple(skipped))


def _cifar10dvs_items(root, split: str, limit) -> tuple[Path, list]:
    """The root and the recordings :func:`load_cifar10dvs` frames: [(path, id, label, None)]."""
    layout = "a CIFAR10-DVS folder with one sub-folder per class (airplane, ..., truck) of .aedat files"
    r = _root(root, "CIFAR10-DVS", layout)
    per_class = []
    for c, cls in enumerate(CIFAR10DVS_CLASSES):
        d = r / cls
        files = sorted((p for p in d.glob("*.aedat*")) if d.is_dir() else [],
                       key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p.name)])
        if not files:
            raise ChipsimError(f"no .aedat files in {d}", file=str(r), field="dataset.root", expected=layout)
        n_test = max(1, int(round(len(files) / 10))) if len(files) > 1 else 0
        cut = len(files) - n_test                 # 900 / 100 of 1000; at least one test file
        per_class.append([(p, f"{cls}/{p.name}", c, None)
                          for p in (files[:cut] if split == "train" else files[cut:])])
    items = [x for group in zip(*per_class) for x in group] if limit else \
        [x for group in per_class for x in group]
    if limit:
        items = items[:limit]
    return r, items


def count_cifar10dvs(root, split, limit=None) -> int:
    """How many recordings :func:`load_cifar10dvs` frames (listed, not read)."""
    return len(_cifar10dvs_items(root, _check_split(split), limit)[1])


def load_cifar10dvs(root, split, time_steps, mode="binary", limit=None, *, size,
                    skip_bad=False, cache=True) -> FramedDataset:
    """CIFAR10-DVS framed at ``size x size``."""
    split = _check_split(split)
    r, items = _cifar10dvs_items(root, split, limit)

    from chipsim.data import aedat

    def reader(path, label, _):
        s = aedat.read_aedat4(path) if path.suffix == ".aedat4" else aedat.read_aedat2(path)
        yield s, label, ""

    key = dict(dataset="cifar10dvs", root=str(r.resolve()), files=fingerprint(r, "*/*.aedat*"),
               split=split, T=time_steps, mode=mode, size=size, limit=limit, skip_bad=skip_bad,
               version=__version__)

    def build():
        fr, lab, ids, durs, skipped = _frame_all(items, reader, time_steps, mode, size, skip_bad, r)
        return FramedDataset("cifar10dvs", f"CIFAR10-DVS ({r}), {split} split (first 90 % / last 10 % "
                             f"per class): {len(ids)} samples, {time_steps} {mode} steps at {size}x{size}",
                             fr, lab, ids, 10, (128, 128, 2), mode, 1, durs, skipped)
    return cached(key, build, cache)[0]


_GESTURE_LAYOUT = "the DVS128 Gesture folder: userNN_<light>.aedat with userNN_<light>_labels.csv"


#: a DVS128 Gesture recording: userNN_<lighting>.aedat (user01_fluorescent_led.aedat)
_GESTURE_NAME = re.compile(r"user(\d+)_(\w+)\.aedat")
#: the largest trials_to_<split>.txt read (the official lists are about 3 kB)
MAX_TRIALS_BYTES = 2**20


def _trials(listed: Path, root: Path) -> list[Path]:
    """The recordings a ``trials_to_<split>.txt`` names, one per line, each a file name inside
    ``root``: an absolute path or a ``..`` that leaves the root is refused with its line."""
    size = regular_file_size(listed, "a trials list of file names, one per line")
    if size > MAX_TRIALS_BYTES:
        raise ChipsimError(f"is {size} bytes long", file=str(listed),
                           expected=f"a trials list of at most {MAX_TRIALS_BYTES // 2**20} MiB")
    try:
        text = listed.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ChipsimError(f"cannot read: {exc.strerror or exc}", file=str(listed)) from None
    files = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        rel = PurePath(name)
        if rel.is_absolute() or PureWindowsPath(name).is_absolute() or ".." in rel.parts:
            raise ChipsimError(f"line {lineno}: {name!r} leaves the data root {root}",
                               file=str(listed), expected="recording names inside the data root "
                               "(e.g. user01_fluorescent.aedat), not absolute paths or '..'")
        files.append(root / rel)
    return files


def _dvsgesture_files(root, split: str) -> tuple[Path, list[Path]]:
    """The root and the recordings of ``split`` (trials_to_<split>.txt, or users 1-23 / 24-29)."""
    r = _root(root, "DVS128 Gesture", _GESTURE_LAYOUT)
    listed = r / f"trials_to_{split}.txt"
    if listed.exists() or listed.is_symlink():
        files = _trials(listed, r)
    else:
        files = sorted(r.glob("user*.aedat"))
        for p in files:
            if not _GESTURE_NAME.fullmatch(p.name):
                raise ChipsimError(f"the recording {p.name} is not named userNN_<lighting>.aedat, "
                                   "so its user (and split) is unknown", file=str(p),
                                   field="dataset.root",
                                   expected="recordings named userNN_<lighting>.aedat (e.g. "
                                            "user01_fluorescent.aedat), or a trials_to_train.txt "
                                            "and trials_to_test.txt listing them")
        users = range(1, 24) if split == "train" else range(24, 30)
        files = [p for p in files if int(_GESTURE_NAME.fullmatch(p.name).group(1)) in users]
    if not files:
        raise ChipsimError(f"no {split} recordings in {r}", file=str(r), field="dataset.root",
                           expected=_GESTURE_LAYOUT)
    return r, files


def count_dvsgesture(root, split, limit=None) -> int:
    """How many gestures :func:`load_dvsgesture` frames: every labelled gesture of the split
    (the labels files are read, not the recordings); the split is framed whole, then cut to
    ``limit``. A labels file that cannot be read counts 0 (the loader names it)."""
    from chipsim.data import aedat
    _, files = _dvsgesture_files(root, _check_split(split))
    n = 0
    for p in files:
        try:
            n += len(aedat.read_gesture_labels(p.with_name(p.stem + "_labels.csv")))
        except ChipsimError:
            pass
    return n


def load_dvsgesture(root, split, time_steps, mode="binary", limit=None, *, size,
                    skip_bad=False, cache=True) -> FramedDataset:
    """DVS128 Gesture framed at ``size x size``, one sample per labelled gesture."""
    split = _check_split(split)
    r, files = _dvsgesture_files(root, split)
    items = [(p, p.stem, -1, p.with_name(p.stem + "_labels.csv")) for p in files]

    from chipsim.data import aedat

    def reader(path, _label, labels_csv):
        stream = aedat.read_aedat3(path)
        for k, (s, cls) in enumerate(aedat.split_by_labels(stream, aedat.read_gesture_labels(labels_csv))):
            yield EventStream(s.events, (128, 128, 2)), cls, f"#{k}"

    key = dict(dataset="dvsgesture", root=str(r.resolve()), files=fingerprint(r, "user*"), split=split,
               T=time_steps, mode=mode, size=size, skip_bad=skip_bad, version=__version__)

    def build():
        fr, lab, ids, durs, skipped = _frame_all(items, reader, time_steps, mode, size, skip_bad, r)
        return FramedDataset("dvsgesture", f"DVS128 Gesture ({r}), {split} split: {len(ids)} gestures, "
                             f"{time_steps} {mode} steps at {size}x{size}", fr, lab, ids, 11,
                             (128, 128, 2), mode, 1, durs, skipped)
    ds = cached(key, build, cache)[0]
    if limit:
        ds = FramedDataset(ds.name, ds.description, ds.frames[:limit], ds.labels[:limit],
                           ds.sample_ids[:limit], ds.n_classes, ds.sensor_size, ds.mode, 1,
                           None if ds.durations_s is None else ds.durations_s[:limit], ds.skipped)
    return ds


def count_shd(root, split, limit=None) -> int:
    """How many samples :func:`load_shd` frames (the labels' length, read from the file's
    metadata)."""
    from chipsim.data import shd
    r = _root(root, "SHD", "a folder holding shd_train.h5 and shd_test.h5")
    n = shd.count_shd(r / f"shd_{_check_split(split)}.h5")
    return n if not limit else min(n, int(limit))


def load_shd(root, split, time_steps, mode="count", limit=None, *, cache=True) -> FramedDataset:
    """SHD framed to (T, 1, 1, 700): every channel kept."""
    from chipsim.data import shd
    split = _check_split(split)
    r = _root(root, "SHD", "a folder holding shd_train.h5 and shd_test.h5")
    path = r / f"shd_{split}.h5"
    key = dict(dataset="shd", root=str(r.resolve()), files=fingerprint(r, "shd_*.h5"), split=split,
               T=time_steps, mode=mode, limit=limit, version=__version__)

    def build():
        streams, labels = shd.read_shd(path)
        if limit:
            streams, labels = streams[:limit], labels[:limit]
        frames = []
        for i, s in enumerate(streams):
            try:
                frames.append(frame_events(s, time_steps, mode=mode))
            except ChipsimError as e:     # e.g. spike times spanning beyond 64-bit bins
                raise ChipsimError(f"sample {i}: {e.detail}", file=str(path), field="spikes/times",
                                   expected=e.expected) from None
        frames = np.stack(frames)
        durs = np.array([(s.duration_us + 1) * 1e-6 for s in streams])
        return FramedDataset("shd", f"SHD ({path}), {len(streams)} samples, {time_steps} {mode} steps, "
                             f"700 channels; CC BY 4.0 (Cramer et al. 2020)", frames,
                             np.asarray(labels, np.int64), tuple(f"{split}/{i}" for i in range(len(streams))),
                             20, (700, 1, 1), mode, 1, durs)
    return cached(key, build, cache)[0]
