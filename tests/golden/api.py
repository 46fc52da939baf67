"""The one place the golden capture touches chipsim's API (so a refactor changes only this
file, never the recorded numbers): run a workload on a profile and return the result with the
final weights; re-price a result on another profile."""

from __future__ import annotations


def run(path, overrides: dict, profile: str):
    from chipsim import engine
    from chipsim.config.profile import load_profile
    from chipsim.config.workload import load_workload
    captured = {}
    orig = engine.make_trainer

    def spy(*a, **k):
        tr = orig(*a, **k)
        captured["trainer"] = tr
        return tr

    engine.make_trainer = spy
    try:
        r = engine.run(load_workload(path, overrides), load_profile(profile))
    finally:
        engine.make_trainer = orig
    net = captured["trainer"].net
    return r, ([w.copy() for w in net.weights], [b.copy() for b in net.biases])


def reprice(result, profile: str):
    from chipsim.config.profile import load_profile
    from chipsim.hardware.reprice import reprice as _reprice
    return _reprice(result, load_profile(profile))
