"""Set-up of a sweep's worker processes (a Dask preload: ``dask_setup`` runs in each worker
process as it starts, and again in a worker the nanny restarts).

Ctrl-C at a terminal reaches every process of the foreground group, the embedded cluster's
workers too. Stopping is the client's job (it cancels what runs and writes the index), so a
worker ignores SIGINT rather than dying with a traceback of its own.
"""

from __future__ import annotations

import signal
import threading


def dask_setup(worker) -> None:   # noqa: ARG001  (Dask's preload protocol)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
