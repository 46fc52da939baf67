"""The memory a run may use, and the one check that refuses a run that would not fit.

chipsim estimates what a run needs before it allocates anything large (chipsim/needs.py adds
up the framed data, the weights, the trainer's buffers and the run's records; the event-file
readers bound what one file may decode to) and compares it with the memory available here:

* ``CHIPSIM_MAX_MEMORY`` (e.g. ``8GB``, ``512MiB``, ``2e9``) when set: the memory chipsim may
  use, instead of what the machine reports (to share a machine, in tests, or to run past an
  estimate known to be cautious);
* otherwise what the machine has free: ``MemAvailable`` in ``/proc/meminfo`` on Linux, lowered
  to the room left under a cgroup memory limit when there is one (containers); elsewhere the
  free physical pages (``os.sysconf``); when none can be read, no memory check is made (the
  message of a later failure is then the operating system's).

A need larger than the memory available is one :class:`~chipsim.errors.ChipsimError` naming
the file, the field that drives the largest contributor, its estimate and the total, in bytes
written for people (``6.8 GB``; decimal units, as ``ls -lh --si`` and most tools print).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from chipsim.errors import ChipsimError

#: the environment variable that sets the memory chipsim may use
MAX_MEMORY_ENV = "CHIPSIM_MAX_MEMORY"

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def human(n: float) -> str:
    """``n`` bytes for people: ``'812 B'``, ``'4.6 MB'``, ``'6.8 GB'``, ``'18 TB'`` (decimal)."""
    n = float(n)
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            v = n / size
            return f"{v:.1f} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{int(n)} B"


def parse_size(text: str) -> int:
    """``'8GB'``, ``'512 MiB'``, ``'2e9'`` -> bytes. Raises ValueError."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(text)
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _meminfo() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    m = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.M)
    return int(m.group(1)) * 1024 if m else None


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit (v2, then v1); None: no limit."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:
            return max(int(limit) - usage, 0)
    return None


def _sysconf() -> int | None:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def available() -> tuple[int | None, str]:
    """(bytes chipsim may use, where the figure comes from); (None, why) when unknown."""
    cap = os.environ.get(MAX_MEMORY_ENV, "").strip()
    if cap:
        try:
            return parse_size(cap), f"{MAX_MEMORY_ENV}={cap}"
        except ValueError:
            raise ChipsimError(f"{MAX_MEMORY_ENV} is {cap!r}", field=MAX_MEMORY_ENV,
                               expected="a size such as 8GB, 512MiB or 2e9 (bytes)") from None
    free = _meminfo()
    source = "MemAvailable in /proc/meminfo"
    if free is None:
        free, source = _sysconf(), "free physical memory (sysconf)"
    room = _cgroup_room()
    if room is not None and (free is None or room < free):
        free, source = room, "the room left under the cgroup memory limit"
    return (free, source) if free is not None else (None, "unknown")


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def regular_file_size(path, what: str) -> int:
    """The size of ``path`` if it is a regular file (symbolic links followed); else a
    :class:`ChipsimError` saying what it is (missing, a directory, a FIFO, a device), found
    before it is opened: chipsim reads its input files whole, and a FIFO would block, a
    device such as /dev/zero never end. ``what`` is the file expected."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ChipsimError("file not found", file=str(path), expected=what) from None
    except OSError as exc:
        raise ChipsimError(f"cannot read: {exc.strerror}", file=str(path), expected=what) from None
    except ValueError:         # a NUL byte in a name read from a list (labels.csv, trials)
        raise ChipsimError("the path holds a NUL byte", file=repr(str(path)), expected=what) from None
    if stat.S_ISDIR(st.st_mode):
        raise ChipsimError("is a directory", file=str(path), expected=what)
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "a special file")
        raise ChipsimError(f"is not a regular file but {kind}", file=str(path), expected=what)
    return int(st.st_size)


@dataclass(frozen=True)
class Need:
    """One contributor to a run's memory: what it is, the field that drives it, its bytes."""

    what: str
    field: str
    bytes: int


def check(needs, *, file=None, expected: str | None = None, budget: int | None = None) -> None:
    """Refuse (ChipsimError) when the ``needs`` (:class:`Need`) add up to more than the memory
    available (:func:`available`, or ``budget`` bytes). The message names the largest
    contributor's field and estimate, the total and what is available; ``{field}`` in
    ``expected`` becomes that field."""
    needs = [n for n in needs if n.bytes > 0]
    total = sum(n.bytes for n in needs)
    source = "given"
    if budget is None:
        budget, source = available()
    if budget is None or total <= budget or not needs:
        return
    big = max(needs, key=lambda n: n.bytes)
    rest = "" if len(needs) == 1 else f"; with the rest, {human(total)} in all"
    raise ChipsimError(
        f"{big.what} would need {human(big.bytes)}{rest}, but {human(budget)} is available "
        f"({source})", file=file, field=big.field,
        expected=(expected or "a smaller {field}, or more memory").replace("{field}", big.field))
