"""A sweep's index: one row per point, as CSV (``index.csv``) and as an HDF5 table
(``index.h5``, a compound dataset ``/index`` with the same columns).

Columns, in order: ``point`` (the point's key, 16 hex digits), ``status`` (``done``,
``diverged``, ``failed``, ``pending``), ``message`` (why it failed or diverged), one column per
axis of the sweep (its values as the sweep file gives them), then :data:`METRICS` (SI units:
J, s, bytes; shares in %), ``rule_name`` and ``profile_name`` (what ran, whether or not they
are axes), ``simulation`` (the key of the simulation it shares),
``simulation_wall_s``, ``pricing_wall_s``, ``wall_time_s`` (their sum) and ``results`` (the
point's results file, relative to the sweep directory). A metric that is undefined or not yet
known is empty in the CSV and NaN in the HDF5 table.

Both files are replaced atomically (chipsim/atomic.py) each time they are written, so a reader
always sees a whole index, whatever moment the sweep is stopped at.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

import h5py
import numpy as np

from chipsim.atomic import make_temp, remove_stale_temps
from chipsim.errors import ChipsimError

#: index column -> the summary_dict field it is taken from (report/summary.py), in order
METRICS = {
    "test_accuracy_pct": "test_accuracy_pct",
    "train_energy_per_sample_J": "train_energy_per_sample_J",
    "test_energy_per_sample_J": "test_energy_per_sample_J",
    "learning_energy_per_sample_J": "train_learning_energy_per_sample_J",
    "inference_energy_per_sample_J": "train_inference_energy_per_sample_J",
    "learning_share_pct": "learning_share_pct",
    "learning_to_inference_pct": None,          # learning / inference energy of a training sample
    "learning_memory_bytes": "learning_memory_bytes",
    "test_latency_per_sample_s": "test_latency_per_sample_s",
    "train_latency_per_sample_s": "train_latency_per_sample_s",
    "assumed_share_pct": "assumed_share_pct",
}
HEAD = ("point", "status", "message")
TAIL = ("rule_name", "profile_name", "simulation", "simulation_wall_s", "pricing_wall_s",
        "wall_time_s", "results")
NUMERIC = set(METRICS) | {"simulation_wall_s", "pricing_wall_s", "wall_time_s"}
STATUSES = ("done", "diverged", "failed", "pending")
CSV_NAME, H5_NAME = "index.csv", "index.h5"


def columns(axes) -> list[str]:
    """The index's columns for a sweep with ``axes``."""
    return [*HEAD, *axes, *METRICS, *TAIL]


def metrics_of(summary: dict) -> dict:
    """The index's metric columns from a result's summary_dict."""
    out = {k: summary.get(src) if src else None for k, src in METRICS.items()}
    learn, inf = summary.get("train_learning_energy_per_sample_J"), summary.get(
        "train_inference_energy_per_sample_J")
    if learn is not None and inf:
        out["learning_to_inference_pct"] = 100.0 * learn / inf
    return out


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _replace(path: Path, write) -> None:
    """Write ``path`` through a temporary file beside it and rename it into place."""
    remove_stale_temps(path)
    tmp = make_temp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_index(directory, cols: list[str], rows: list[dict], attrs: dict | None = None) -> None:
    """Write ``rows`` (dicts keyed by ``cols``) as the CSV and HDF5 index in ``directory``."""
    d = Path(directory)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    text = buf.getvalue()
    _replace(d / CSV_NAME, lambda p: Path(p).write_text(text, encoding="utf-8"))
    _replace(d / H5_NAME, lambda p: _write_h5(p, cols, rows, attrs or {}))


def _write_h5(path, cols, rows, attrs) -> None:
    fields = []
    for c in cols:
        if c in NUMERIC:
            fields.append((c, np.float64))
        else:
            fields.append((c, h5py.string_dtype("utf-8")))
    table = np.zeros(len(rows), dtype=fields)
    for i, r in enumerate(rows):
        for c in cols:
            v = r.get(c)
            if c in NUMERIC:
                table[c][i] = np.nan if v is None else float(v)
            else:
                table[c][i] = "" if v is None else str(v)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("index", data=table)
        ds.attrs["columns"] = ",".join(cols)
        for k, v in attrs.items():
            f.attrs[k] = v


def read_index(directory) -> tuple[list[str], list[dict]]:
    """The columns and rows of the CSV index in ``directory`` (numbers as float, None when
    empty). Raises ChipsimError when there is none."""
    p = Path(directory) / CSV_NAME
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChipsimError("no sweep index here", file=str(p),
                           expected="a directory written by 'chipsim sweep'") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ChipsimError(f"cannot read the sweep index: {e}", file=str(p)) from None
    reader = csv.reader(io.StringIO(text))
    try:
        cols = next(reader)
    except StopIteration:
        raise ChipsimError("the sweep index is empty", file=str(p),
                           expected="a header line and one row per point") from None
    if cols[:len(HEAD)] != list(HEAD) or cols[-len(TAIL):] != list(TAIL):
        raise ChipsimError("this is not a chipsim sweep index", file=str(p),
                           expected=f"columns {', '.join(HEAD)}, ..., {', '.join(TAIL)}")
    rows = []
    for line in reader:
        if len(line) != len(cols):
            raise ChipsimError(f"a row has {len(line)} cells, the header {len(cols)}",
                               file=str(p), expected="the index as chipsim sweep wrote it")
        r = {}
        for c, v in zip(cols, line):
            if c in NUMERIC:
                r[c] = float(v) if v != "" else None
            else:
                r[c] = v
        rows.append(r)
    return cols, rows


def axes_of(cols: list[str]) -> list[str]:
    """The axis columns of an index with columns ``cols``."""
    return cols[len(HEAD):len(cols) - len(METRICS) - len(TAIL)]
