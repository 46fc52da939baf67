"""The engine's data stage: a workload's ``dataset`` section -> its train and test splits, framed.

:func:`load_splits` is what the engine calls; :func:`check_dataset` and :func:`standin_banner`
are what ``chipsim run`` calls before any work; :func:`load_dataset` loads one split by name.
Everything that differs between data sets comes from the registry (chipsim/data/registry.py).

A data set whose recordings do not ship with chipsim must be on disk at ``dataset.root``,
except CIFAR10-DVS, which is replaced by its emulated stand-in (chipsim/data/standin.py) when
the root is not a folder; :func:`standin_banner` says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from chipsim.data.framed import FramedDataset
from chipsim.data.registry import DATASETS, REGISTRY, get, input_side
from chipsim.errors import ChipsimError


def load_dataset(name: str, root: str | os.PathLike | None, split: str, time_steps: int,
                 mode: str = "binary", downscale: int = 1, limit: int | None = None,
                 **options) -> FramedDataset:
    """One split of data set ``name`` (case-insensitive; :data:`~chipsim.data.registry.DATASETS`)
    through its registry loader. ``options`` are ``size``, ``skip_bad`` and ``cache``."""
    return get(name).loader(root, split, time_steps, mode=mode, downscale=downscale,
                            limit=limit, **options)


def _root(spec) -> Path | None:
    return None if spec.root is None else Path(os.path.expandvars(os.path.expanduser(str(spec.root))))


def uses_standin(spec) -> bool:
    """Whether the workload's ``dataset`` section ``spec`` runs on its data set's emulated
    stand-in: the data set has one and its root is not a folder on disk."""
    entry = REGISTRY.get(spec.name)
    root = _root(spec)
    return entry is not None and entry.standin is not None and not (root is not None and root.is_dir())


def standin_banner(spec) -> str | None:
    """The banner saying that the run uses the emulated CIFAR10-DVS stand-in, why, and how to use
    the real data set; None when the real data set is used."""
    if not uses_standin(spec):
        return None
    root = _root(spec)
    where = "no dataset.root was given" if root is None else f"{root} does not exist"
    return (
        "chipsim: CIFAR10-DVS is not on this machine (" + where + "). Running on the EMULATED "
        "CIFAR10-DVS STAND-IN instead: generated shapes seen by an emulated DVS128, not CIFAR-10 "
        "images, so accuracy is not comparable to published CIFAR10-DVS figures. To use the real "
        "data set, download CIFAR10-DVS (Li et al. 2017; figshare 'CIFAR10-DVS New', one folder "
        "per class of .aedat files) and pass --set dataset.root=/path/to/CIFAR10-DVS. The results "
        "file records which data set was used.")


def check_dataset(spec, path) -> None:
    """Refuse, before any work, a ``dataset`` section ``spec`` that cannot be loaded: an unknown
    data set, a data set that must be on disk without its root, a size or downscale its frames
    cannot take. ``path`` (the workload file) is named in the error."""
    if spec.name not in REGISTRY:
        raise ChipsimError(f"chipsim has no reader for '{spec.name}'", file=path,
                           field="dataset.name", expected="one of " + ", ".join(DATASETS))
    entry = REGISTRY[spec.name]
    if not entry.shipped and entry.standin is None:
        root = _root(spec)
        if root is None or not root.is_dir():
            raise ChipsimError(f"{'no root given' if root is None else str(root) + ' does not exist'}; "
                               f"{spec.name} must be on disk (nothing is downloaded)", file=path,
                               field="dataset.root", expected="the folder holding the data set")
    try:
        input_side(spec.name, spec.size, spec.downscale)
    except ChipsimError as e:
        raise ChipsimError(e.detail, file=path, field=e.field, expected=e.expected) from None


def count_splits(spec, path) -> tuple[int, int]:
    """How many samples of (train, test) :func:`load_splits` frames at once, counted without
    reading a recording (the files are listed; DVS128 Gesture's labels files are read): what
    the memory check (chipsim/needs.py) needs before anything is loaded. Errors name ``path``."""
    check_dataset(spec, path)
    entry = REGISTRY[spec.name]
    splits = (("train", spec.train_samples), ("test", spec.test_samples))
    try:
        if uses_standin(spec):
            return tuple(entry.standin_count(split, limit) for split, limit in splits)
        return tuple(entry.count(spec.root, split, limit) for split, limit in splits)
    except ChipsimError as e:
        raise ChipsimError(e.detail, file=e.file or path, field=e.field,
                           expected=e.expected) from None


def load_splits(spec, path) -> tuple[FramedDataset, FramedDataset]:
    """(train, test) of the workload's ``dataset`` section ``spec``, framed to its time steps,
    framing and input side (:func:`~chipsim.data.registry.input_side`), limited to its
    ``train_samples`` / ``test_samples``: the data set's own recordings, or its stand-in
    (:func:`uses_standin`). Errors name ``path`` (the workload file) and the field."""
    check_dataset(spec, path)
    entry = REGISTRY[spec.name]
    mode = "binary" if spec.framing == "binary" else "count"
    splits = (("train", spec.train_samples), ("test", spec.test_samples))
    if uses_standin(spec):
        side, _ = input_side(spec.name, spec.size, spec.downscale)
        return tuple(entry.standin(split, spec.time_steps, mode, side, limit, spec.cache)
                     for split, limit in splits)
    return tuple(entry.loader(spec.root, split, spec.time_steps, mode, spec.downscale, limit,
                              size=spec.size, skip_bad=spec.skip_bad, cache=spec.cache)
                 for split, limit in splits)
