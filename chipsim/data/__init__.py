"""Event data: the event container, real-format readers, framing and labelled datasets.

Public API::

    EVENT_DTYPE, EventStream                     chipsim.data.events
    read_nmnist(path)                            chipsim.data.nmnist
    frame_events(stream, time_steps, ...)        chipsim.data.framing
    FramedDataset, load_nmnist, load_dataset     chipsim.data.datasets
"""

from chipsim.data.datasets import DATASET_LOADERS, FramedDataset, load_dataset, load_nmnist
from chipsim.data.events import EVENT_DTYPE, EventStream
from chipsim.data.framing import frame_events
from chipsim.data.nmnist import NMNIST_SENSOR_SIZE, read_nmnist

__all__ = [
    "EVENT_DTYPE",
    "EventStream",
    "read_nmnist",
    "NMNIST_SENSOR_SIZE",
    "frame_events",
    "FramedDataset",
    "load_nmnist",
    "load_dataset",
    "DATASET_LOADERS",
]
