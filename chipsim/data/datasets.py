"""N-MNIST as a labelled, framed data set (and the split check eventsets.py shares).

:func:`load_nmnist` returns a :class:`~chipsim.data.framed.FramedDataset`: every sample already
framed to ``(T, P, H, W)``, with integer labels. Sample order is deterministic (round-robin over
classes); shuffling for training is the caller's job (with its own seeded generator). Data sets
are loaded by name through chipsim/data/load.py and the registry (chipsim/data/registry.py).
"""

from __future__ import annotations

import csv
import numbers
import os
from pathlib import Path

import numpy as np

from chipsim.data.framed import FramedDataset
from chipsim.data.framing import check_frame_args, frame_events, framed_shape
from chipsim.data.nmnist import NMNIST_SENSOR_SIZE, read_nmnist
from chipsim.errors import ChipsimError
from chipsim.memory import regular_file_size

#: Folder of the embedded 200-sample N-MNIST subset (100 train / 100 test).
EMBEDDED_NMNIST_DIR = Path(__file__).resolve().parent / "nmnist_small"
NMNIST_N_CLASSES = 10
SPLITS = ("train", "test")
_NMNIST_SUFFIXES = (".bin", ".bs2")
_LICENCE = "CC BY-SA 4.0 (Orchard et al., Front. Neurosci. 9:437, 2015)"


# --------------------------------------------------------------------------------- helpers

def _expand_root(root: str | os.PathLike) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(os.fspath(root))))


def _sort_key(path: Path) -> tuple:
    stem = path.stem
    return (0, int(stem), path.name) if stem.isdigit() else (1, 0, path.name)


def _round_robin(per_class: dict[int, list]) -> list:
    """Interleave the per-class lists: first of each class (in class order), then the second …"""
    out = []
    lists = [per_class[c] for c in sorted(per_class)]
    depth = max((len(v) for v in lists), default=0)
    for i in range(depth):
        out.extend(v[i] for v in lists if i < len(v))
    return out


def _check_split(split: str) -> str:
    if not isinstance(split, str) or split.lower() not in SPLITS:
        raise ChipsimError(f"split is {split!r}", field="split",
                           expected="'train' or 'test'")
    return split.lower()


def _check_limit(limit) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise ChipsimError(f"limit is {limit!r}", field="limit",
                           expected="None or an integer >= 1")
    return int(limit)


def _csv_layout(folder: Path, split: str) -> dict[int, list[tuple[Path, str]]]:
    """slayerPytorch-style layout: ``folder/labels.csv`` with columns file,split,label,..."""
    csv_path = folder / "labels.csv"
    expected_cols = "columns file,split,label"
    regular_file_size(csv_path, f"a labels file (CSV, {expected_cols})")   # not a FIFO
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"file", "split", "label"} <= set(reader.fieldnames):
                raise ChipsimError(f"header is {reader.fieldnames}", file=str(csv_path),
                                   expected=expected_cols)
            rows = list(reader)
    except OSError as exc:
        raise ChipsimError(f"cannot read labels file: {exc.strerror or exc}",
                           file=str(csv_path), expected=expected_cols) from None
    except UnicodeDecodeError as exc:
        raise ChipsimError(f"not UTF-8 text (byte {exc.start} of a read block: {exc.reason})",
                           file=str(csv_path), expected=f"a UTF-8 CSV file, {expected_cols}"
                           ) from None
    except csv.Error as exc:        # a field beyond csv's size limit, a NUL byte on old Pythons
        raise ChipsimError(f"malformed CSV at line {reader.line_num}: {exc}",
                           file=str(csv_path), expected=expected_cols) from None
    per_class: dict[int, list[tuple[Path, str]]] = {}
    for line, row in enumerate(rows, start=2):
        if (row.get("split") or "").strip().lower() != split:
            continue
        try:
            label = int(row["label"])
        except (TypeError, ValueError):
            label = -1
        if not 0 <= label < NMNIST_N_CLASSES:
            raise ChipsimError(f"line {line}: label is {row.get('label')!r}", file=str(csv_path),
                               field="label", expected=f"an integer 0..{NMNIST_N_CLASSES - 1}")
        rel = (row.get("file") or "").strip()
        per_class.setdefault(label, []).append((folder / rel, rel))
    for files in per_class.values():
        files.sort(key=lambda item: _sort_key(item[0]))
    if not per_class:
        raise ChipsimError(f"no samples of split '{split}' listed", file=str(csv_path),
                           expected="rows with split 'train' or 'test'")
    return per_class


def _archive_layout(root: Path, split: str) -> dict[int, list[tuple[Path, str]]]:
    """Standard N-MNIST archive layout: ``root/Train/<label>/*.bin``, ``root/Test/<label>/*.bin``
    (lower-case ``train``/``test`` accepted)."""
    layout = (f"{root}/{split.capitalize()}/<label 0-9>/*.bin (or lower-case '{split}/'), "
              f"or a labels.csv with columns file,split,label")
    split_dir = None
    for name in (split.capitalize(), split):
        if (root / name).is_dir():
            split_dir = root / name
            break
    if split_dir is None:
        raise ChipsimError(f"no '{split.capitalize()}' or '{split}' folder in the N-MNIST root",
                           file=str(root), field="root", expected=layout)
    per_class: dict[int, list[tuple[Path, str]]] = {}
    for sub in sorted(split_dir.iterdir()):
        if not (sub.is_dir() and sub.name.isdigit() and 0 <= int(sub.name) < NMNIST_N_CLASSES):
            continue
        # not only regular files: a FIFO or a device named *.bin is refused by name when it
        # is read, not silently left out
        files = sorted((f for f in sub.iterdir()
                        if not f.is_dir() and f.suffix.lower() in _NMNIST_SUFFIXES), key=_sort_key)
        if files:
            per_class[int(sub.name)] = [(f, f.relative_to(root).as_posix()) for f in files]
    if not per_class:
        raise ChipsimError(f"no N-MNIST samples found under {split_dir}", file=str(root),
                           field="root", expected=layout)
    return per_class


def no_samples_error(root, skipped) -> ChipsimError:
    """The error of a split with no sample left: every recording was skipped as unreadable
    (``skip_bad``; the first is named), or there was none."""
    if skipped:
        return ChipsimError(f"no readable samples: {len(skipped)} recording(s) skipped as "
                            f"unreadable (dataset.skip_bad), the first {skipped[0]}",
                            file=str(root), field="dataset.root",
                            expected="readable event files with events")
    return ChipsimError("no readable samples", file=str(root), field="dataset.root",
                        expected="event files")


def _frame_files(files: list[tuple[Path, str, int]], time_steps: int, mode: str,
                 downscale: int, skip_bad: bool = False, root=None):
    """Frame the files; one that cannot be read or holds no event ends the load with an error
    naming it, or, with ``skip_bad``, is left out and listed as ``"<id>: <reason>"``."""
    shape = framed_shape(NMNIST_SENSOR_SIZE, time_steps, downscale)
    frames = np.zeros((len(files),) + shape, dtype=np.uint8 if mode == "binary" else np.int32)
    durations = np.zeros(len(files), dtype=np.float64)
    keep, skipped = [], []
    for i, (path, sid, _) in enumerate(files):
        try:
            stream = read_nmnist(path)
            if len(stream) == 0:
                raise ChipsimError("holds no events", file=str(path),
                                   expected="at least one event (not a zero-length file, nor "
                                            "only timestamp-overflow markers)")
            frames[i] = frame_events(stream, time_steps, mode=mode, downscale=downscale)
        except ChipsimError as e:
            if not skip_bad:
                raise ChipsimError(e.detail, file=str(path), expected=e.expected) from None
            skipped.append(f"{sid}: {e.detail}")
            continue
        durations[i] = (stream.duration_us + 1) * 1e-6       # framing spans [t0, t_last + 1 us)
        keep.append(i)
    if skipped:
        if not keep:
            raise no_samples_error(root, skipped)
        frames, durations = frames[keep], durations[keep]
        files = [files[i] for i in keep]
    labels = np.array([lab for _, _, lab in files], dtype=np.int64)
    return frames, labels, tuple(sid for _, sid, _ in files), durations, tuple(skipped)


def _nmnist_files(root, split: str, limit: int | None) -> tuple[list, str]:
    """The samples :func:`load_nmnist` frames, in its order: [(path, sample id, label)], and
    where they come from."""
    if root is None:
        folder = EMBEDDED_NMNIST_DIR
        per_class = _csv_layout(folder, split)
        where = "embedded 200-sample subset (100 train / 100 test)"
    else:
        folder = _expand_root(root)
        if not folder.is_dir():
            raise ChipsimError("N-MNIST root folder does not exist" if not folder.exists()
                               else "N-MNIST root is not a folder", file=str(folder),
                               field="root",
                               expected=f"a folder holding Train/<label 0-9>/*.bin and "
                                        f"Test/<label 0-9>/*.bin (root given as {os.fspath(root)!r})")
        if (folder / "labels.csv").is_file():
            per_class = _csv_layout(folder, split)
        else:
            per_class = _archive_layout(folder, split)
        where = f"from {folder}"
    ordered = _round_robin({c: [(path, sid, c) for path, sid in files]
                            for c, files in per_class.items()})
    return (ordered if limit is None else ordered[:limit]), where


def count_nmnist(root, split: str, limit: int | None = None) -> int:
    """How many samples :func:`load_nmnist` frames (the files are listed, not read)."""
    return len(_nmnist_files(root, _check_split(split), _check_limit(limit))[0])


# ---------------------------------------------------------------------------------- loaders

def load_nmnist(root: str | os.PathLike | None, split: str, time_steps: int,
                mode: str = "binary", downscale: int = 1, limit: int | None = None,
                skip_bad: bool = False) -> FramedDataset:
    """Load and frame N-MNIST.

    ``root=None`` loads the embedded 200-sample subset shipped in ``chipsim/data/nmnist_small``
    (100 train samples, 10 per class; 100 test samples). Otherwise ``root`` (``~`` and
    ``$VARS`` expanded) holds either the standard archive layout ``Train/<label>/*.bin`` and
    ``Test/<label>/*.bin`` (label = folder name 0..9; lower-case ``train``/``test`` also
    accepted; ``.bs2`` files too) or a ``labels.csv`` with columns ``file,split,label`` as in
    the embedded subset.

    Order: files are sorted per class (numerically by file name), then interleaved
    round-robin over classes (class 0's first file, class 1's first file, …, class 0's second
    …). ``limit`` keeps the first ``limit`` samples of that order, so even a small limit has
    every class (only the kept files are read). Each sample is framed with
    :func:`~chipsim.data.framing.frame_events` over its own first-to-last event window.

    A file that cannot be read or holds no event (a zero-length file) ends the load with an
    error naming it; with ``skip_bad`` it is left out and listed in ``skipped``.
    """
    split = _check_split(split)
    time_steps, mode, downscale = check_frame_args(time_steps, mode, downscale)
    limit = _check_limit(limit)
    ordered, where = _nmnist_files(root, split, limit)
    frames, labels, ids, durations, skipped = _frame_files(
        ordered, time_steps, mode, downscale, skip_bad,
        EMBEDDED_NMNIST_DIR if root is None else _expand_root(root))
    description = (f"N-MNIST, {where}, {split} split: {len(ids)} samples framed to {time_steps} "
                   f"{mode} steps" + (f", downscaled x{downscale}" if downscale > 1 else "")
                   + f"; {_LICENCE}")
    return FramedDataset(name="nmnist", description=description, frames=frames, labels=labels,
                         sample_ids=ids, n_classes=NMNIST_N_CLASSES,
                         sensor_size=NMNIST_SENSOR_SIZE, mode=mode, downscale=downscale,
                         durations_s=durations, skipped=skipped)
