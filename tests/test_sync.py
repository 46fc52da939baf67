"""The workers' shared counters (chipsim/kernels/sync.py): ``fetch_add`` returns the value
before its add and adds atomically, so tickets taken by threads at once are each handed out
exactly once; ``load`` reads what the adds left. Checked against the plain reference on one
thread and against closed forms on Numba's threads."""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from chipsim.kernels.sync import fetch_add, fetch_add_reference, load, pause


@njit
def _adds(a, steps):
    old = np.empty(steps.shape[0], np.int64)
    for q in range(steps.shape[0]):
        old[q] = fetch_add(a, q % a.shape[0], steps[q])
    return old, load(a, 0), load(a, a.shape[0] - 1)


def test_fetch_add_is_its_reference_on_one_thread():
    steps = np.random.default_rng(0).integers(-5, 9, 200).astype(np.int64)
    a = np.arange(3, dtype=np.int64) * 10
    r = a.copy()
    old, first, last = _adds(a, steps)
    want = np.array([fetch_add_reference(r, q % 3, int(steps[q])) for q in range(200)])
    np.testing.assert_array_equal(old, want)
    np.testing.assert_array_equal(a, r)
    assert (first, last) == (r[0], r[2])


@njit(parallel=True)
def _take(tk, n, owner, nw):
    for w in prange(nw):
        u = fetch_add(tk, 0, 1)
        while u < n:
            owner[u] += w + 1          # each ticket taken once: written by one worker only
            s = 0.0
            for i in range(200 * (u % 5)):     # uneven units
                s += np.sqrt(i + 1.0)
            if s < 0.0:
                owner[u] = -1
            fetch_add(tk, 1, 1)
            u = fetch_add(tk, 0, 1)
        pause()


def test_tickets_taken_by_threads_are_each_handed_out_once():
    nw = max(2, get_num_threads())
    for n in (1, 7, 5000):
        tk = np.zeros(2, np.int64)
        owner = np.zeros(n, np.int64)
        _take(tk, n, owner, nw)
        assert ((owner >= 1) & (owner <= nw)).all()     # once each, by one worker
        assert tk[1] == n                               # n units done
        assert tk[0] == n + nw                          # and each worker's last ticket past n


def test_the_hand_off_benchmark_passes_the_turn_exactly_n_times():
    """benchmarks/bench_handoff.py's two players: each waits (``load``) for its turn and
    passes it on (``fetch_add``), so after n round trips the counter is 2 n, their meeting
    point before the first turn 2, and nothing else in the array was written; a lost or
    doubled turn would stop both players or end on another count."""
    import importlib.util
    import threading
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_handoff.py"
    spec = importlib.util.spec_from_file_location("bench_handoff", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    n = 300
    arr = np.zeros(3 * mod.LINE, np.int64)
    # both players on threads of their own, so a broken protocol fails the test after the
    # timeout instead of hanging it
    players = [threading.Thread(target=mod._player, args=(arr, me, n), daemon=True)
               for me in (0, 1)]
    for p in players:
        p.start()
    for p in players:
        p.join(timeout=60)
    assert not any(p.is_alive() for p in players), "a player still waits for its turn"
    want = np.zeros_like(arr)
    want[mod.LINE] = 2 * n
    want[mod.READY] = 2                 # both met before their first turn
    np.testing.assert_array_equal(arr, want)
    assert mod.round_trip_ns(50) > 0.0
