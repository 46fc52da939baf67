"""The data sets chipsim can read, declared once.

:data:`REGISTRY` holds one :class:`DataSet` per data set: its name (the workload's
``dataset.name``), a one-line title with its citation, the sensor as ``(polarities, height,
width)``, the number of classes, whether its recordings ship inside chipsim (only N-MNIST's 200
samples do; the others need ``dataset.root`` to be a folder on disk), how ``dataset.size`` and
``dataset.downscale`` shrink its frames, its loader and, for CIFAR10-DVS, the emulated stand-in
that replaces it when the recordings are not on disk. The rest derives from the entries: the
names a workload accepts (:data:`DATASETS`), the sensors and classes (:data:`SENSORS`,
:data:`N_CLASSES`), the engine's loading path (chipsim/data/load.py) and the side of the frames
(:func:`input_side`, the one place that computes it).

Adding a data set means: one reader module in ``chipsim/data/`` (a function that loads one
split from the data set's root into a :class:`~chipsim.data.framed.FramedDataset`, reusing a
format reader such as aedat.py where the format is known), one entry in :data:`REGISTRY`, tests
(tests/test_data_registry.py runs every entry through the engine's loading path on recordings
the tests write, and fails for an entry it has no recordings for) and docs (docs/data_formats.md
for a new format, workloads/README.md for a workload that uses it).

This module is light to import (the workload configuration imports it): each loader imports
its module when it is called, so no reader, h5py or lz4 is loaded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from chipsim.data.framing import framed_shape
from chipsim.errors import ChipsimError

#: How ``dataset.size`` and ``dataset.downscale`` shrink a data set's frames:
#: ``pool``  an integer factor k pools k x k pixels into one, so the side is ceil(H / k);
#:           ``dataset.size`` must be a side some integer factor reaches (N-MNIST);
#: ``scale`` event coordinates are scaled to any ``size x size`` (``x * size // W``);
#:           ``dataset.downscale = k`` asks for the side ceil(H / k), as pooling would give;
#: ``none``  the frames keep the sensor's shape; neither field applies (SHD's 700 channels).
RESIZE_KINDS = ("pool", "scale", "none")


@dataclass(frozen=True)
class DataSet:
    """One data set chipsim can read (see the module docstring)."""

    name: str
    title: str                          # one line, with the citation
    sensor: tuple[int, int, int]        # (polarities, height, width) before any resizing
    n_classes: int
    shipped: bool                       # recordings ship inside chipsim: dataset.root may be null
    resize: str                         # one of RESIZE_KINDS
    #: ``loader(root, split, time_steps, mode='binary', downscale=1, limit=None, *, size=None,
    #: skip_bad=False, cache=True) -> FramedDataset``, the workload's dataset fields as they are
    loader: Callable
    #: ``count(root, split, limit) -> int``: how many samples the loader frames at once,
    #: counted without reading the recordings (the memory check, chipsim/needs.py)
    count: Callable | None = None
    #: ``standin(split, time_steps, mode, side, limit, cache) -> FramedDataset``: an emulated
    #: stand-in used when the data set is not on disk (None: the root is required)
    standin: Callable | None = None
    #: ``standin_count(split, limit) -> int``: the stand-in's samples
    standin_count: Callable | None = None


# ------------------------------------------------------------------------------ input side

def _geometry(entry: DataSet, size: int | None, downscale: int) -> tuple[int, tuple[int, int]]:
    """(integer pooling factor, (height, width) of the frames); raises ChipsimError."""
    P, H, W = entry.sensor
    if entry.resize == "none":
        if size is not None:
            raise ChipsimError(f"is {size} but {entry.title} keeps its {H}x{W} sensor",
                               field="dataset.size", expected=f"no size (null) for {entry.name}")
        if downscale != 1:
            raise ChipsimError(f"is {downscale} but {entry.title} keeps its {H}x{W} sensor",
                               field="dataset.downscale", expected=f"1 for {entry.name}")
        return 1, (H, W)
    if size is not None and entry.resize == "scale":
        return 1, (int(size), int(size))
    k = downscale if size is None else -(-H // size)      # pool: the factor that reaches size
    _, _, h, w = framed_shape((W, H, P), 1, k)             # the framing's rule: ceil(side / k)
    if size is not None and (h, w) != (size, size):
        raise ChipsimError(f"a {H}x{W} sensor cannot be pooled by an integer factor to "
                           f"{size}x{size}", field="dataset.size",
                           expected=f"one of {sorted({-(-H // f) for f in range(1, H + 1)}, reverse=True)[:8]}")
    return k, (h, w)


def input_side(name: str, size: int | None = None, downscale: int = 1) -> tuple[int, int]:
    """``(height, width)`` of the frames data set ``name`` gives for the workload's
    ``dataset.size`` (None: not given) and ``dataset.downscale``: ``(size, size)`` when a size
    is given, else the sensor's side divided by ``downscale`` and rounded up (the framing's rule,
    :func:`~chipsim.data.framing.framed_shape`). Raises :class:`ChipsimError` (field
    ``dataset.size`` or ``dataset.downscale``, no file) for a size no integer pooling factor
    reaches on a pooled data set, and for either field on a data set that keeps its sensor."""
    return _geometry(get(name), size, downscale)[1]


# ---------------------------------------------------------------------------------- loaders
# Each imports its module when called (this module stays light) and turns the workload's
# dataset fields into what its reader module takes.

def _load_nmnist(root, split, time_steps, mode="binary", downscale=1, limit=None, *, size=None,
                 skip_bad=False, cache=True):
    from chipsim.data.datasets import load_nmnist
    k, _ = _geometry(REGISTRY["nmnist"], size, downscale)
    return load_nmnist(root, split, time_steps, mode, k, limit, skip_bad=skip_bad)


def _load_cifar10dvs(root, split, time_steps, mode="binary", downscale=1, limit=None, *,
                     size=None, skip_bad=False, cache=True):
    from chipsim.data.eventsets import load_cifar10dvs
    side, _ = input_side("cifar10dvs", size, downscale)
    return load_cifar10dvs(root, split, time_steps, mode, limit, size=side, skip_bad=skip_bad,
                           cache=cache)


def _cifar10dvs_standin(split, time_steps, mode, side, limit, cache):
    from chipsim.data.standin import load_cached
    return load_cached(split, time_steps, mode, side, limit, cache)


def _count_nmnist(root, split, limit=None):
    from chipsim.data.datasets import count_nmnist
    return count_nmnist(root, split, limit)


def _count_cifar10dvs(root, split, limit=None):
    from chipsim.data.eventsets import count_cifar10dvs
    return count_cifar10dvs(root, split, limit)


def _count_standin(split, limit=None):
    from chipsim.data.standin import count_standin
    return count_standin(split, limit)


def _count_dvsgesture(root, split, limit=None):
    from chipsim.data.eventsets import count_dvsgesture
    return count_dvsgesture(root, split, limit)


def _count_shd(root, split, limit=None):
    from chipsim.data.eventsets import count_shd
    return count_shd(root, split, limit)


def _load_dvsgesture(root, split, time_steps, mode="binary", downscale=1, limit=None, *,
                     size=None, skip_bad=False, cache=True):
    from chipsim.data.eventsets import load_dvsgesture
    side, _ = input_side("dvsgesture", size, downscale)
    return load_dvsgesture(root, split, time_steps, mode, limit, size=side, skip_bad=skip_bad,
                           cache=cache)


def _load_shd(root, split, time_steps, mode="binary", downscale=1, limit=None, *, size=None,
              skip_bad=False, cache=True):
    from chipsim.data.eventsets import load_shd
    input_side("shd", size, downscale)                     # refuses a size or a downscale
    return load_shd(root, split, time_steps, mode, limit, cache=cache)


# --------------------------------------------------------------------------------- registry

REGISTRY: dict[str, DataSet] = {d.name: d for d in (
    # ATIS recordings cropped to 34x34 (docs/data_formats.md); 200 of them ship in
    # chipsim/data/nmnist_small (CC BY-SA 4.0)
    DataSet("nmnist", "N-MNIST (Orchard et al., Front. Neurosci. 9:437, 2015)",
            (2, 34, 34), 10, shipped=True, resize="pool", loader=_load_nmnist,
            count=_count_nmnist),
    # DVS128, 10 classes (docs/reference/algorithms.md §3.4, line 152)
    DataSet("cifar10dvs", "CIFAR10-DVS (Li et al., Front. Neurosci. 11:309, 2017)",
            (2, 128, 128), 10, shipped=False, resize="scale", loader=_load_cifar10dvs,
            count=_count_cifar10dvs, standin=_cifar10dvs_standin, standin_count=_count_standin),
    # DVS128, 11 classes (docs/reference/algorithms.md §3.4, line 163)
    DataSet("dvsgesture", "DVS128 Gesture (Amir et al., CVPR 2017)",
            (2, 128, 128), 11, shipped=False, resize="scale", loader=_load_dvsgesture,
            count=_count_dvsgesture),
    # 700 cochlea channels, 20 classes (docs/data_formats.md, SHD)
    DataSet("shd", "SHD, Spiking Heidelberg Digits (Cramer et al., IEEE TNNLS, 2020)",
            (1, 1, 700), 20, shipped=False, resize="none", loader=_load_shd, count=_count_shd),
)}

#: The names a workload's ``dataset.name`` accepts, in the registry's order.
DATASETS: tuple[str, ...] = tuple(REGISTRY)
#: Sensor of each data set: (polarity channels, height, width), before any resizing.
SENSORS: dict[str, tuple[int, int, int]] = {n: d.sensor for n, d in REGISTRY.items()}
N_CLASSES: dict[str, int] = {n: d.n_classes for n, d in REGISTRY.items()}


def get(name: str) -> DataSet:
    """The entry of data set ``name`` (case-insensitive); ChipsimError for an unknown name."""
    key = name.lower() if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ChipsimError(f"unknown dataset {name!r}", field="name",
                           expected="one of: " + ", ".join(sorted(REGISTRY)))
    return REGISTRY[key]
