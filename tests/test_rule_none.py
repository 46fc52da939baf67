"""The rule ``none`` holds no learning state, so its trainer refuses a training batch with a
clear error instead of running the learning kernels over buffers it never allocated (which
wrote out of bounds: segfaults, 'free(): invalid pointer'); its batches run forward only."""

from __future__ import annotations

import numpy as np
import pytest

from chipsim import counts as K
from tests.helpers import neuron, small_problem, trainer


def test_a_none_trainer_refuses_a_training_batch_and_infers():
    frames, labels, net, inp = small_problem(T=4, hidden=(8,))
    nrn, _ = neuron()
    tr = trainer("none", net, nrn, T=4)
    w0 = [w.copy() for w in net.weights]
    with pytest.raises(ValueError, match="rule 'none' does not learn"):
        tr.train_batch(inp, inp.ptr[:1], labels[:1])
    _, _, cnt = tr.infer_batch(inp, inp.ptr[:1], labels[:1])
    assert cnt[:, :, :, K.Phase.INFERENCE].sum() > 0
    assert cnt[:, :, :, K.Phase.LEARNING].sum() == 0
    assert all(np.array_equal(a, b) for a, b in zip(w0, net.weights))
