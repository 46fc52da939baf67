"""chipsim/memory.py: the memory available, sizes for people, and the one check."""

from __future__ import annotations

import pytest

from chipsim import memory
from chipsim.errors import ChipsimError
from chipsim.memory import Need, check, human, parse_size


def test_human_and_parse_size():
    assert human(812) == "812 B"
    assert human(6.8e9) == "6.8 GB" and human(4_624_000_000) == "4.6 GB"
    assert human(1.8e13) == "18.0 TB" and human(250e12) == "250 TB"
    assert parse_size("8GB") == 8 * 10**9 and parse_size("512 MiB") == 512 * 2**20
    assert parse_size("2e9") == 2 * 10**9 and parse_size("100") == 100
    with pytest.raises(ValueError):
        parse_size("lots")


def test_available_reads_the_cap_then_the_machine(monkeypatch):
    monkeypatch.setenv(memory.MAX_MEMORY_ENV, "3GB")
    assert memory.available() == (3 * 10**9, "CHIPSIM_MAX_MEMORY=3GB")
    monkeypatch.delenv(memory.MAX_MEMORY_ENV)
    n, source = memory.available()
    assert n is None or n > 0
    monkeypatch.setattr(memory, "_meminfo", lambda: None)
    monkeypatch.setattr(memory, "_sysconf", lambda: 123_000)
    monkeypatch.setattr(memory, "_cgroup_room", lambda: None)
    assert memory.available() == (123_000, "free physical memory (sysconf)")
    monkeypatch.setattr(memory, "_cgroup_room", lambda: 1000)
    assert memory.available()[0] == 1000
    monkeypatch.setattr(memory, "_sysconf", lambda: None)
    monkeypatch.setattr(memory, "_cgroup_room", lambda: None)
    assert memory.available() == (None, "unknown")
    check([Need("anything", "f", 10**18)])        # unknown: no check


def test_a_bad_cap_is_named(monkeypatch):
    monkeypatch.setenv(memory.MAX_MEMORY_ENV, "lots")
    with pytest.raises(ChipsimError) as ei:
        memory.available()
    assert "CHIPSIM_MAX_MEMORY" in str(ei.value) and "lots" in str(ei.value)


def test_check_names_the_largest_contributor_and_the_total():
    needs = [Need("the weights", "network.hidden.0.units", 2 * 10**9),
             Need("the framed training set", "dataset.time_steps", 6.8e9),
             Need("nothing", "x", 0)]
    check(needs, budget=9 * 10**9)
    with pytest.raises(ChipsimError) as ei:
        check(needs, file="w.yaml", budget=int(3.1e9))
    e = ei.value
    assert e.file == "w.yaml" and e.field == "dataset.time_steps"
    assert str(e).startswith("w.yaml: field 'dataset.time_steps': the framed training set would "
                             "need 6.8 GB; with the rest, 8.8 GB in all, but 3.1 GB is available")
