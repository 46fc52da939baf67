"""Frames to the per-step input event lists the kernels read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EventInput:
    """Input events of N samples: sample n, step t owns ``idx[ptr[n,t]:ptr[n,t+1]]``."""

    idx: np.ndarray     # (E,) int64 flat input index (C order of (P, H, W))
    val: np.ndarray     # (E,) value in the arithmetic dtype (1.0 for binary frames, the count otherwise)
    ptr: np.ndarray     # (N, T+1) int64 offsets
    binary: bool

    @property
    def n_samples(self) -> int:
        return self.ptr.shape[0]

    @property
    def time_steps(self) -> int:
        return self.ptr.shape[1] - 1


def channels_last(frames: np.ndarray) -> np.ndarray:
    """(N, T, P, H, W) frames -> (N, T, H, W, P): chipsim's activations are channel-last."""
    return np.ascontiguousarray(np.moveaxis(frames, 2, -1))


def encode_frames(frames: np.ndarray, binary: bool, dtype=np.float64) -> EventInput:
    """(N, T, *input_shape) frames -> event lists of their non-zero entries (vectorised).

    ``binary``: the frames are spikes (each event costs ACs) rather than graded counts (MACs).
    ``dtype``: of the values, the simulator's arithmetic type (float64 or float32).
    """
    N, T = frames.shape[:2]
    flat = frames.reshape(N * T, -1)
    rows, cols = np.nonzero(flat)
    per_row = np.bincount(rows, minlength=N * T)
    starts = np.concatenate([[0], np.cumsum(per_row)])
    ptr = np.empty((N, T + 1), dtype=np.int64)
    starts2 = starts[:-1].reshape(N, T)
    ptr[:, :T] = starts2
    ptr[:, T] = starts[1:].reshape(N, T)[:, -1]
    vals = flat[rows, cols].astype(dtype)
    if binary and vals.size and not np.all(vals == 1.0):
        raise ValueError("binary frames must hold only 0 and 1")
    return EventInput(idx=cols.astype(np.int64), val=vals, ptr=ptr, binary=binary)
