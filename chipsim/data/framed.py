"""The labelled, framed data set every loader returns and the engine consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chipsim.errors import ChipsimError


@dataclass
class FramedDataset:
    """A labelled set of framed samples.

    ``frames`` has shape ``(N, T, P, H, W)`` (``uint8`` 0/1 for binary framing, ``int32``
    counts for count framing); ``labels`` is ``(N,)`` int64 in ``0 .. n_classes-1``;
    ``sample_ids`` names each sample (its path relative to the dataset root);
    ``sensor_size`` is the recording sensor ``(W, H, P)`` *before* any downscaling — the
    framed size is :attr:`input_shape`.
    """

    name: str
    description: str
    frames: np.ndarray
    labels: np.ndarray
    sample_ids: tuple[str, ...]
    n_classes: int
    sensor_size: tuple[int, int, int]
    mode: str = "binary"
    downscale: int = 1
    durations_s: np.ndarray | None = None   # (N,) seconds each recording spans (real time)
    skipped: tuple = ()                      # files left out as unreadable (with skip_bad)

    def __post_init__(self) -> None:
        if self.frames.ndim != 5:
            raise ChipsimError(f"frames have shape {self.frames.shape}", field="frames",
                               expected="a 5-D array (N, T, P, H, W)")
        n = self.frames.shape[0]
        if self.labels.shape != (n,) or len(self.sample_ids) != n:
            raise ChipsimError(
                f"{n} frames but labels of shape {self.labels.shape} and "
                f"{len(self.sample_ids)} sample ids", field="labels",
                expected="one label and one sample id per sample")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def time_steps(self) -> int:
        return int(self.frames.shape[1])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(P, H, W)`` of one framed time step (after downscaling)."""
        return tuple(int(s) for s in self.frames.shape[2:])

    @property
    def n_inputs(self) -> int:
        """Number of input neurons: ``P * H * W``."""
        return int(np.prod(self.input_shape))

    def class_counts(self) -> np.ndarray:
        """Samples per class, ``(n_classes,)`` int64."""
        return np.bincount(self.labels, minlength=self.n_classes).astype(np.int64)
