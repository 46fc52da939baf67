"""``python -m tests.fault_driver run ...``: ``chipsim run`` (chipsim.cli.main) with two test
hooks, for tests/test_signals.py, which need what a plain ``python -m chipsim`` does not offer:

- ``CHIPSIM_TEST_SLOW_WRITE=<marker>``: the results writer creates ``<marker>`` and sleeps
  ``CHIPSIM_TEST_SLOW_SECONDS`` (default 4) before writing the cost group: a window in which a
  test's signal lands during the final write, with the temporary file on disk;
- ``CHIPSIM_TEST_WEIGHTS=<file.npz>``: the run's final weights and biases (which the results
  file does not hold) are saved there once the results file is written.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

import chipsim.report.h5 as h5


def _hooks():
    marker = os.environ.get("CHIPSIM_TEST_SLOW_WRITE")
    if marker:
        write_cost = h5._write_cost

        def slow(g, c):
            Path(marker).touch()
            time.sleep(float(os.environ.get("CHIPSIM_TEST_SLOW_SECONDS", "4")))
            return write_cost(g, c)
        h5._write_cost = slow
    weights = os.environ.get("CHIPSIM_TEST_WEIGHTS")
    if weights:
        write_result = h5.write_result

        def write(result, path):
            write_result(result, path)
            np.savez(weights, *[a for wb in result.sim.weights for a in wb])
        h5.write_result = write


if __name__ == "__main__":
    _hooks()
    from chipsim.cli import main
    sys.exit(main(sys.argv[1:]))
