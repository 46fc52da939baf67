"""Results: the HDF5 file of a run (``h5``), its energy plot (``plots``) and the terminal
summary (``summary``). The only part of chipsim that imports matplotlib, and with the
data readers of HDF5 formats the only one that imports h5py.

The public names are imported lazily, so ``import chipsim.report`` (or its summary alone)
does not pay for h5py and matplotlib until they are used.

    write_result(result, path) -> None          read_result(path) -> RunResult
    SCHEMA_VERSION                              format_summary(result) -> str
    summary_dict(result) -> dict                plot_energy(result, path) -> list[Path]
    redraw(h5_path, out_path=None) -> Path
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SCHEMA_VERSION": "h5",
    "write_result": "h5",
    "read_result": "h5",
    "format_summary": "summary",
    "summary_dict": "summary",
    "plot_energy": "plots",
    "energy_figure": "plots",
    "redraw": "plots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
