"""Files that appear whole or not at all, and the temporary files of writers that died.

A writer (the results file, report/h5.py; a run's checkpoint, checkpoint.py) writes into a
temporary file beside its target and ``os.replace()``\\ s it into place once it is complete, so
a half-written target never exists. A writer that is killed outright (SIGKILL, power loss)
cannot remove its temporary file, so the file is named after its writer:

    .<target name>.<host>.<pid>.<random>.tmp

and the next writer of the same target removes the temporary files of this host whose process
is gone (:func:`remove_stale_temps`). Temporary files of a live process, of another host (a
shared directory) and of older chipsim versions (no host and pid in the name) are left alone.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"
_PID_TOKEN = re.compile(r"(\d+)\.([A-Za-z0-9_]+)")     # <pid>.<mkstemp's random letters>


def _host() -> str:
    """This host's name as it appears in temporary file names (no dots: the names are split
    on them)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname() or "localhost")[:64]


def _prefix(path: Path) -> str:
    return f".{path.name}.{_host()}."


def make_temp(path) -> Path:
    """Create an empty temporary file for ``path`` in its directory (mode 0600), named after
    this host and process (see the module docstring). Raises OSError."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f"{_prefix(path)}{os.getpid()}.", suffix=TEMP_SUFFIX,
                                dir=parent)
    os.close(fd)
    return Path(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:          # EPERM: it exists but belongs to someone else
        return True
    return True


def remove_stale_temps(path) -> list[Path]:
    """Remove the temporary files of ``path`` left by writers of this host that no longer run;
    return them. Never raises (a file that cannot be removed is left)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    prefix = _prefix(path)
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for e in entries:
        name = e.name
        if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
            continue
        m = _PID_TOKEN.fullmatch(name[len(prefix):-len(TEMP_SUFFIX)])
        if m is None or int(m[1]) == os.getpid() or _alive(int(m[1])):
            continue
        try:
            os.unlink(e.path)
        except OSError:
            continue
        removed.append(Path(e.path))
    return removed
