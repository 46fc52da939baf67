"""Checkpoints: a run killed outright (SIGKILL, power loss) continues where it was
(``chipsim run ... --resume``) and ends bit-identical to a run that was never stopped: the same
counts, losses, predictions, final weights and energies.

**Where.** Next to the results file: ``<out>.ckpt`` (``results/run.h5`` -> ``results/run.h5.ckpt``),
see :func:`path_for`. The CLI removes it once the results file of the finished run is written;
an interrupted or killed run leaves it for ``--resume``.

**When** (``simulation.simulate``): at the end of every epoch by default, or after every N samples
(training and test samples alike; ``--checkpoint-every N``, 0 for none), always between two
batches; and when a run is stopped (Ctrl-C, SIGTERM) after its current batch.

**What.** One NumPy ``.npz`` archive (arrays only, no pickles):

- ``meta``: JSON: this format and its version; the run's *identity* (chipsim version, workload
  name and SHA-256 of its text, the ``--set`` overrides, profile name and SHA-256 of its text,
  SHA-256 of the data's labels and per-step event counts), which ``--resume`` compares with the
  run it is asked to continue; where the loop stands (epoch, phase, next batch, samples done,
  correct so far); the state of every random generator (the engine's sample order; the
  trainer's: dropout masks, SLTT-K's steps, ANP-I's window, stochastic rounding); wall time so far;
- ``trainer.*``: the weights and biases, gradient accumulators, momentum buffers and the
  number format's grids (``Trainer.learned_state``);
- ``cost.*``: what the cost stage accumulated (``Coster.state``: communication per sample,
  modelled time per sample, per-step latency sums);
- ``loop.*``: the current epoch's sample order, the epoch statistics so far;
- ``rec.*``: the per-sample records so far (counts, per-step counts, input events, split, epoch,
  index, label, prediction, loss, recording span).

It is written atomically (chipsim/atomic.py): into a temporary file beside it, flushed to disk,
``os.replace()``\\ d over the previous checkpoint; a temporary file of a killed writer is removed
by the next write.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from chipsim.atomic import make_temp, remove_stale_temps
from chipsim.errors import ChipsimError

FORMAT = "chipsim-checkpoint"
VERSION = 1
SUFFIX = ".ckpt"

_RESTART = "the same workload, profile and --set overrides as the interrupted run, " \
           "or no --resume to start afresh"


def path_for(results) -> Path:
    """The checkpoint of the run whose results file is ``results``."""
    results = Path(results)
    return results.with_name(results.name + SUFFIX)


def digest(*parts) -> str:
    """SHA-256 of texts and arrays (their dtype, shape and bytes)."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, str):
            h.update(p.encode("utf-8"))
        else:
            a = np.ascontiguousarray(p)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        h.update(b"\0")
    return h.hexdigest()


def identity(version: str, workload, profile, data_digest: str = "") -> dict:
    """What makes two runs the same run (``data_digest``: see simulation.prepare's data)."""
    return {"chipsim": version, "workload": workload.name, "workload_sha256": digest(workload.text),
            "overrides": [[str(k), str(v)] for k, v in workload.overrides],
            "profile": profile.name, "profile_sha256": digest(profile.text),
            "data_sha256": data_digest}


def differences(saved: dict, wanted: dict) -> list[str]:
    """How the identity ``saved`` (a checkpoint's) differs from ``wanted`` (this run's), in
    words; fields missing from ``wanted`` are not compared."""
    def sets(o):
        return ", ".join(f"{k}={v}" for k, v in o) or "none"

    out = []
    for key, got in saved.items():
        if key not in wanted or wanted[key] == got:
            continue
        want = wanted[key]
        if key == "chipsim":
            out.append(f"it was written by chipsim {got}, this is chipsim {want}")
        elif key in ("workload", "profile"):
            out.append(f"its {key} is '{got}', this run's is '{want}'")
        elif key == "workload_sha256":
            out.append("the workload file's text differs")
        elif key == "profile_sha256":
            out.append("the profile file's text differs")
        elif key == "overrides":
            out.append(f"its --set overrides are {sets(got)}, this run's are {sets(want)}")
        elif key == "data_sha256":
            out.append("the data set's samples differ")
        else:
            out.append(f"{key} differs")
    for key in wanted.keys() - saved.keys():
        out.append(f"it does not record {key}")
    return out


def save(path, meta: dict, arrays: dict) -> None:
    """Write a checkpoint atomically: ``meta`` (JSON-able) and ``arrays`` (name -> ndarray).
    Raises ChipsimError if it cannot be written; the previous checkpoint is then left as it was."""
    path = Path(path)
    head = dict(meta, format=FORMAT, version=VERSION)
    blob = np.frombuffer(json.dumps(head).encode("utf-8"), np.uint8)
    try:
        remove_stale_temps(path)
        tmp = make_temp(path)
    except OSError as e:
        raise ChipsimError(f"cannot write a checkpoint: {e.strerror or e}", file=str(path)) from None
    try:
        with open(tmp, "wb") as f:
            np.savez(f, meta=blob, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(e, OSError):
            raise ChipsimError(f"cannot write a checkpoint: {e.strerror or e}", file=str(path)) from None
        raise


def load(path, arrays: bool = True) -> tuple[dict, dict]:
    """``(meta, arrays)`` of the checkpoint at ``path`` (``arrays=False``: the meta only, and
    an empty dict); a ChipsimError if there is none or it is not a readable checkpoint of this
    format."""
    path = Path(path)
    if not path.exists():
        raise ChipsimError("no checkpoint to resume from", file=str(path), field="--resume",
                           expected="the checkpoint an interrupted 'chipsim run' with the same --out "
                                    "left; run without --resume to start afresh")
    bad = ChipsimError("not a readable chipsim checkpoint", file=str(path), field="--resume",
                       expected="a checkpoint written by 'chipsim run'; delete it and run without "
                                "--resume to start afresh")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "meta" not in z.files:
                raise bad
            meta = json.loads(z["meta"].tobytes().decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise bad
            if meta.get("version") != VERSION:
                raise ChipsimError(f"checkpoint format version {meta.get('version')}, this chipsim "
                                   f"reads version {VERSION}", file=str(path), field="--resume",
                                   expected="a checkpoint of this chipsim version, or no --resume")
            data = {k: z[k] for k in z.files if k != "meta"} if arrays else {}
    except ChipsimError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
        raise bad from None
    return meta, data


def check(path, meta: dict, wanted: dict) -> None:
    """Refuse (ChipsimError) a checkpoint whose identity is not ``wanted``'s."""
    diff = differences(meta.get("identity") or {}, wanted)
    if diff:
        raise ChipsimError(f"the checkpoint belongs to another run: {'; '.join(diff)}", file=str(path),
                           field="--resume", expected=_RESTART)


def peek(path) -> dict | None:
    """The meta of the checkpoint at ``path``, or None if there is none or it cannot be read."""
    try:
        return load(path, arrays=False)[0]
    except ChipsimError:
        return None


def remove(path) -> None:
    """Remove the checkpoint at ``path`` if there is one (and stale temporary files of it)."""
    path = Path(path)
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        return
    remove_stale_temps(path)
