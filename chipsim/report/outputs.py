"""Where chipsim may write, and what it may replace.

Every command that writes a file (``run``, ``price``, ``report``, ``compare``, ``validate``)
checks each path it will write **before** any long work, so a run is never lost to a path that
could not be written:

* :func:`check_path`: the suffix is one the file kind can have (results ``.h5``/``.hdf5``,
  figures ``.png``/``.pdf``); the path is not a directory or another non-regular file; no
  ancestor is a regular file; and the nearest existing directory can be written in (tried by
  creating and removing a probe file, so read-only mounts and permissions answer as they would
  for the real write);
* :func:`check_replace`: an existing file is replaced only if it is a chipsim output **of the
  same workload** (or ``force``). A results file is told by its root attribute ``format`` and
  its ``simulation/workload_yaml`` text (``report/SCHEMA.md``); a figure by the metadata
  chipsim writes into it (:func:`figure_metadata`: PNG ``Software`` / PDF ``Creator`` say
  ``chipsim <version>``, and a source key names the workload(s) it was drawn from).

A file is never half-written: results and figures are written to a temporary file and renamed
into place (``report/h5.py``, ``report/plots.py``); two runs writing the same results file are
kept apart by the lock of :func:`chipsim.report.h5.output_lock`.

Every refusal is a :class:`~chipsim.errors.ChipsimError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
import tempfile
from pathlib import Path
from typing import Iterable

from chipsim import __version__
from chipsim.errors import ChipsimError

RESULT_SUFFIXES = (".h5", ".hdf5")
FIGURE_SUFFIXES = (".png", ".pdf")

#: Source of the Brian2 validation's overlay figure (it is drawn from no workload).
VALIDATE_SOURCE = "validate brian2"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_SOURCE_KEY = "chipsim-source"
_PDF_SOURCE_PREFIX = "chipsim-source: "
_TAG = "chipsim "
_MAX_SNIFF_BYTES = 64 << 20       # a "figure" larger than this is not one of ours


# ------------------------------------------------------------------------- identities

def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def workload_source(workload_text: str) -> str:
    """The identity of outputs drawn from one workload: its verbatim YAML text, hashed."""
    return f"workload {_digest(workload_text)}"


def compare_source(workload_texts: Iterable[str | None]) -> str:
    """The identity of a comparison: the set of workloads it compares."""
    return "compare " + " ".join(sorted({_digest(t) if t is not None else "?" for t in workload_texts}))


def figure_metadata(source: str, fmt: str) -> dict:
    """Metadata that marks a figure as chipsim's, drawn from ``source``."""
    tag = f"{_TAG}{__version__}"
    if fmt == "pdf":
        return {"Creator": tag, "Subject": f"{_PDF_SOURCE_PREFIX}{source}"}
    return {"Software": tag, _PNG_SOURCE_KEY: source}


def _png_text(path: Path) -> dict[str, str] | None:
    """The text chunks of a PNG file, or None if it is not one."""
    out = {}
    with open(path, "rb") as f:
        if f.read(8) != _PNG_SIGNATURE:
            return None
        while True:
            head = f.read(8)
            if len(head) < 8:
                return out
            n, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                return out
            if kind in (b"tEXt", b"iTXt") and n < (1 << 20):
                data = f.read(n)
                f.seek(4, os.SEEK_CUR)
                key, _, rest = data.partition(b"\0")
                if kind == b"tEXt":
                    value = rest.decode("latin-1")
                elif rest[:1] == b"\0":                 # iTXt, uncompressed
                    value = rest[2:].split(b"\0", 2)[-1].decode("utf-8", "replace")
                else:
                    continue
                out[key.decode("latin-1")] = value
            else:
                f.seek(n + 4, os.SEEK_CUR)


def _pdf_info(path: Path) -> dict[str, str] | None:
    with open(path, "rb") as f:
        data = f.read(_MAX_SNIFF_BYTES)
    if not data.startswith(b"%PDF-"):
        return None
    out = {}
    for key in ("Creator", "Subject"):
        m = re.search(rb"/" + key.encode() + rb" \(([^)]*)\)", data)
        if m:
            out[key] = m.group(1).decode("latin-1")
    return out


def figure_source(path) -> str | None:
    """The source recorded in a figure chipsim wrote, or None if ``path`` is not one."""
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_SNIFF_BYTES:
            return None
        png = _png_text(path)
        if png is not None:
            ok = png.get("Software", "").startswith(_TAG)
            return png.get(_PNG_SOURCE_KEY) if ok else None
        pdf = _pdf_info(path)
        if pdf is not None and pdf.get("Creator", "").startswith(_TAG):
            subject = pdf.get("Subject", "")
            return subject[len(_PDF_SOURCE_PREFIX):] if subject.startswith(_PDF_SOURCE_PREFIX) else None
    except (OSError, struct.error):
        return None
    return None


def output_source(path) -> str | None:
    """What an existing file is, as far as replacing it goes: the source of a chipsim output
    (results file or figure), or None for anything else (including unreadable files)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(b"\x89HDF"):
        from chipsim.report.h5 import stored_workload_text
        try:
            return workload_source(stored_workload_text(path))
        except ChipsimError:
            return None
    return figure_source(path)


# ------------------------------------------------------------------------------ checks

def figure_targets(path) -> list[Path]:
    """The files a figure written to ``path`` becomes (``.pdf`` also writes its ``.png``)."""
    path = Path(path)
    return [path.with_suffix(".png"), path] if path.suffix.lower() == ".pdf" else [path]


def check_path(path, suffixes: tuple[str, ...], *, what: str, field: str = "--out") -> Path:
    """Refuse, before any work, a path chipsim could not write ``what`` to."""
    path = Path(path)
    names = " or ".join(suffixes)

    def bad(message: str, expected: str):
        raise ChipsimError(message, file=str(path), field=field, expected=expected)

    if path.suffix.lower() not in suffixes:
        bad(f"a {what} must end in {names}", f"a path ending in {names}, e.g. "
                                              f"results/run{suffixes[0]}")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        st = None                      # an ancestor is not a directory: found below
    except OSError as exc:
        bad(f"cannot be examined: {exc.strerror or exc}", f"a {what} path chipsim can write")
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            bad("is a directory", f"a file path, e.g. {path / ('run' + suffixes[0])}")
        if not stat.S_ISREG(st.st_mode):
            bad("exists and is not a regular file (a device, pipe or socket); never replaced",
                "a regular file path")
    # the nearest existing ancestor must be a directory we can create files in
    parent = path.parent
    while True:
        try:
            st = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            if parent == parent.parent:
                bad(f"no existing directory above {path}", "a path under an existing directory")
            parent = parent.parent
            continue
        except OSError as exc:
            bad(f"cannot examine {parent}: {exc.strerror or exc}", "a writable directory")
        break
    if not stat.S_ISDIR(st.st_mode):
        bad(f"{parent} is a regular file, not a directory", "a path whose parent is a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".chipsim-probe-", dir=parent)
    except OSError as exc:
        bad(f"cannot write in {parent}: {exc.strerror or exc}", "a writable directory")
    os.close(fd)
    os.unlink(probe)
    return path


def check_replace(path, source: str, *, force: bool, what: str, field: str = "--out") -> None:
    """Refuse to replace an existing ``path`` unless it is a chipsim output of ``source``
    (the same workload) or ``force`` is given."""
    path = Path(path)
    if force or not os.path.lexists(path):
        return
    found = output_source(path)
    if found == source:
        return
    if found is None:
        reason = f"exists and is not a chipsim {what}"
    else:
        reason = f"exists and is a chipsim {what} of another workload"
    raise ChipsimError(f"{reason}; not replaced", file=str(path), field=field,
                       expected="another --out, or --force to replace it")
