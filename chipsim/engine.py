"""run(workload, profile) -> RunResult, in three stages that run one way:

1. prepare (chipsim/simulation.py): load the data set (chipsim/data/load.py), build the network
   (chipsim/model/network.py) and the rule's trainer (chipsim/learning/);
2. simulate (chipsim/simulation.py): train online, one batch at a time (batch 1 by default, as a chip learns),
   test after every epoch, and record every sample's counts; it never sees the profile;
3. cost (chipsim/hardware/cost.py): map, route, time and price the counts on the profile, batch
   by batch as the simulation produces them, the same stage ``chipsim price`` uses.

Ctrl-C stops the run after the current batch and keeps what finished (the result says so);
so does a stop requested through ``interrupts`` (the CLI's SIGINT and SIGTERM handling), and so
do numbers that go wrong: a batch whose loss or readout sums are NaN or inf, or weights that hold
NaN or inf at the end of an epoch's training, stop the run with an error naming the epoch and
the sample; the batch that went wrong is not kept, and the result's notes say why it stopped.
With a ``checkpoint`` path, :func:`run` saves the run's whole state between batches
(chipsim/checkpoint.py says what, when and where) and, with ``resume``, continues from it: the
result is bit-identical to that of a run that was never stopped.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from chipsim import __version__
from chipsim import checkpoint as ckpt
from chipsim.errors import ChipsimError
from chipsim.hardware import delivery
from chipsim.hardware.cost import Coster
from chipsim.kernels.records import ROUTE_TEMPORAL
from chipsim.result import RunResult
from chipsim.simulation import Prepared, Resume, number_format_bits, prepare, simulate


def data_digest(p: Prepared) -> str:
    """A fingerprint of the samples ``p`` holds (labels and input events per step)."""
    return ckpt.digest(p.train.labels, p.inp_train.ptr, p.test.labels, p.inp_test.ptr)


def run(workload, profile, *, progress=None, command: str = "", interrupts=None,
        checkpoint=None, checkpoint_every: int | None = None, resume: bool = False) -> RunResult:
    """Train and test ``workload`` online and cost its counts on ``profile``.

    ``interrupts``: see :func:`simulate`. ``checkpoint``: the checkpoint file (see
    chipsim/checkpoint.py), written at the end of every epoch (``checkpoint_every`` None),
    after every ``checkpoint_every`` samples, or never (0), and when the run is stopped;
    ``resume``: continue the run it holds, which must be this run (same chipsim, workload,
    overrides, profile and data), or a ChipsimError says how it differs."""
    prep = prepare(workload, number_format_bits(workload, profile), profile.name)
    layers = prep.network.layers
    rule = prep.trainer.rule
    coster = Coster(profile, layers, workload.dataset.time_steps, dict(workload.mapping),
                    workload.path,
                    transposed=delivery.crossing(layers, rule.route == ROUTE_TEMPORAL)
                    & rule.transposes,
                    rule=rule.name)     # refuses a network or a rule that does not fit
    save = loop = None
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        ident = ckpt.identity(__version__, workload, profile, data_digest(prep))
        if resume:
            loop = _restore(checkpoint, ident, prep, coster)
        if checkpoint_every != 0:
            def save(meta, arrays):
                arrays = dict(arrays)
                arrays.update({f"trainer.{k}": a for k, a in prep.trainer.learned_state().items()})
                arrays.update({f"cost.{k}": a for k, a in coster.state().items()})
                rng = {"order": prep.order_rng.bit_generator.state,
                       "trainer": prep.trainer.rng.bit_generator.state}
                ckpt.save(checkpoint, dict(meta, identity=ident, rng=rng), arrays)
    elif resume:
        raise ValueError("resume needs the checkpoint file")
    sim = simulate(prep, progress=progress, observe=coster.observe, interrupts=interrupts,
                   save=save, every=checkpoint_every, resume=loop)
    if prep.stopped and checkpoint is not None:
        ckpt.remove(checkpoint)        # resuming a diverged run would diverge again, bit for bit
    return RunResult(version=__version__,
                     created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                     command=command, sim=sim, cost=coster.finish(sim),
                     notes=(prep.stopped,) if prep.stopped else ())


def _restore(path: Path, ident: dict, prep: Prepared, coster) -> Resume:
    """Load the checkpoint at ``path``, check it is this run's, and put back the trainer's
    state, the generators' and the cost stage's; the loop's part for simulate."""
    meta, arrays = ckpt.load(path)
    ckpt.check(path, meta, ident)
    part = {}
    for k, a in arrays.items():
        head, _, rest = k.partition(".")
        part.setdefault(head, {})[rest] = a
    try:
        rng = meta["rng"]
        prep.trainer.restore(part.get("trainer", {}), rng["trainer"])
        prep.order_rng.bit_generator.state = rng["order"]
        coster.restore(part.get("cost", {}))
        loop = meta["loop"]
    except (KeyError, TypeError, ValueError) as e:
        raise ChipsimError(f"the checkpoint does not fit this run ({e})", file=str(path),
                           field="--resume", expected="a checkpoint of this run") from None
    arrays = {k: a for k, a in arrays.items() if k.startswith(("loop.", "rec."))}
    return Resume(loop, arrays, str(path))
