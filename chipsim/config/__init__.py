"""Configuration: the only package that reads YAML and units.

* :func:`load_workload` -> :class:`Workload` (what is learned and how)
* :func:`load_profile` / :func:`list_profiles` -> :class:`HardwareProfile` (the chip)
* :func:`parse_quantity` / :func:`format_si` (units)

Every section is a typed model (pydantic v2); validation, defaults, ``--set`` overrides and the
field reference (docs/configuration.md, written by chipsim/config/reference.py) derive from it.
"""

from chipsim.config.profile import (
    HardwareProfile,
    Quantity,
    list_profiles,
    load_profile,
    profile_from_text,
)
from chipsim.config.units import format_si, parse_quantity
from chipsim.config.workload import (
    DatasetSpec,
    NetworkSpec,
    NeuronSpec,
    TrainingSpec,
    Workload,
    load_workload,
    workload_from_text,
)

__all__ = [
    "DatasetSpec", "HardwareProfile", "NetworkSpec", "NeuronSpec", "Quantity", "TrainingSpec",
    "Workload", "format_si", "list_profiles", "load_profile", "load_workload", "parse_quantity",
    "profile_from_text", "workload_from_text",
]
