"""Event data: the event container, real-format readers, framing and labelled data sets.

Public API::

    EVENT_DTYPE, EventStream                     chipsim.data.events
    read_nmnist(path)                            chipsim.data.nmnist
    frame_events(stream, time_steps, ...)        chipsim.data.framing
    FramedDataset                                chipsim.data.framed
    load_nmnist                                  chipsim.data.datasets
    load_dataset, load_splits                    chipsim.data.load
    REGISTRY, DATASETS, input_side               chipsim.data.registry

Layout: events.py (the container) <- the format readers (nmnist.py, aedat.py, shd.py), framing.py
and emulator.py; framed.py (FramedDataset) <- cache.py; the data-set loaders (datasets.py:
N-MNIST, eventsets.py: CIFAR10-DVS, DVS128 Gesture, SHD; standin.py: the emulated CIFAR10-DVS)
<- registry.py (one entry per data set) <- load.py (the engine's data stage). No module imports
one above it.
"""

from chipsim.data.datasets import load_nmnist
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.framed import FramedDataset
from chipsim.data.framing import frame_events
from chipsim.data.load import load_dataset, load_splits
from chipsim.data.nmnist import NMNIST_SENSOR_SIZE, read_nmnist
from chipsim.data.registry import DATASETS, REGISTRY, input_side

__all__ = [
    "EVENT_DTYPE",
    "EventStream",
    "read_nmnist",
    "NMNIST_SENSOR_SIZE",
    "frame_events",
    "FramedDataset",
    "load_nmnist",
    "load_dataset",
    "load_splits",
    "REGISTRY",
    "DATASETS",
    "input_side",
]
