"""Hostile YAML (issue 11, part 1): alias bombs, deep nesting, huge files and files that are
not files are refused with one line naming the file, before they can take the machine's memory.

The inputs are in tests/hostile/yaml/ (see tests/hostile/README.md); the large one is made by
tests/hostile/make_large.py. These tests are the loaders'; tests/test_hostile_corpus.py runs
each input (and a FIFO, /dev/zero and /dev/urandom) through the command line as a workload and
as a profile, with its peak memory measured.
"""

from __future__ import annotations

import os

import pytest

from chipsim.config.profile import load_profile
from chipsim.config.workload import load_workload
from chipsim.config.yamlio import (MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_VALUES,
                                   parse_yaml_text, parse_yaml_value)
from chipsim.errors import ChipsimError
from tests.hostile.make_large import oversized_yaml
from tests.hostile_cli import HOSTILE

YAML = HOSTILE / "yaml"


def _refused(path, *needles):
    with pytest.raises(ChipsimError) as ei:
        load_workload(path)
    msg = str(ei.value)
    assert str(path) in msg and "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg
    return msg


# ------------------------------------------------------------------------- alias expansion

def test_billion_laughs_is_refused_by_its_expanded_size():
    msg = _refused(YAML / "billion_laughs.yaml", "alias", "line 2", str(MAX_YAML_VALUES))
    assert "values" in msg


def test_aliases_within_the_budget_still_work():
    text = "a: &x [1, 2, 3]\nb: *x\nc: {<<: {k: 1}, j: 2}\n"
    doc = parse_yaml_text(text, file="ok.yaml")
    assert doc.data == {"a": [1, 2, 3], "b": [1, 2, 3], "c": {"k": 1, "j": 2}}


def test_a_long_plain_list_counts_against_the_same_budget():
    text = "a: [" + ", ".join(["1"] * (MAX_YAML_VALUES + 1)) + "]\n"
    with pytest.raises(ChipsimError) as ei:
        parse_yaml_text(text, file="long.yaml")
    assert "long.yaml" in str(ei.value) and str(MAX_YAML_VALUES) in str(ei.value)
    assert "alias" not in str(ei.value)


def test_override_value_is_bounded_too():
    bomb = "[" * 5000 + "]" * 5000
    with pytest.raises(ChipsimError) as ei:
        parse_yaml_value(bomb, file="w.yaml", field="network.hidden")
    assert "nested" in str(ei.value) and "network.hidden" in str(ei.value)


# ----------------------------------------------------------------------------------- depth

@pytest.mark.parametrize("name", ["deep_lists.yaml", "deep_mappings.yaml"])
def test_deep_nesting_is_refused_with_its_line(name):
    msg = _refused(YAML / name, "nested", str(MAX_YAML_DEPTH), "line 1")
    assert "Recursion" not in msg


def test_real_depth_is_far_below_the_limit():
    text = "a:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 12)) + "  " * 12 + "- 1\n"
    parse_yaml_text(text, file="ok.yaml")     # 23 levels: allowed


# ----------------------------------------------------------------------- files, not streams

@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_before_reading(dev):
    if not os.path.exists(dev):
        pytest.skip(f"no {dev}")
    with pytest.raises(ChipsimError) as ei:
        load_workload(dev)
    assert dev in str(ei.value) and "not a regular file" in str(ei.value)
    with pytest.raises(ChipsimError) as ei:
        load_profile(dev)
    assert dev in str(ei.value) and "not a regular file" in str(ei.value)


def test_oversized_yaml_is_refused_before_reading(tmp_path):
    big = oversized_yaml(tmp_path / "big.yaml")
    assert big.stat().st_size > MAX_YAML_BYTES
    _refused(big, "3.0 MiB", "larger than any workload or profile", "at most 1 MiB")
