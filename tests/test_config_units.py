"""Units: YAML quantity strings -> exact SI values, and clear errors for everything else."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipsim.config.units import format_si, parse_quantity
from chipsim.errors import ChipsimError

GOOD = [
    ("1.5 pJ", "energy", 1.5e-12),
    ("1.5pJ", "energy", 1.5e-12),
    ("0.1 uJ", "energy", 0.1e-6),
    ("0.1 µJ", "energy", 0.1e-6),        # U+00B5 micro sign
    ("0.1 μJ", "energy", 0.1e-6),        # U+03BC greek mu
    ("23.6 pJ", "energy", 23.6e-12),
    ("0 pJ", "energy", 0.0),
    ("12 mW", "power", 0.012),
    ("0.82 mW", "power", 0.82e-3),
    ("0 W", "power", 0.0),
    ("3.5 ns", "time", 3.5e-9),
    ("1 ms", "time", 1e-3),
    ("25 ns", "time", 25e-9),
    ("40 MHz", "frequency", 40e6),
    ("1 GHz", "frequency", 1e9),
    ("1e3 Hz", "frequency", 1000.0),
    ("28 nm", "length", 28e-9),
    ("1.2 cm", "length", 1.2e-2),
    ("16 KiB", "memory", 16 * 1024 * 8),   # bits
    ("128 kB", "memory", 128_000 * 8),
    ("2 Mb", "memory", 2_000_000),
    ("2 Mib", "memory", 2 * 1024 * 1024),
    ("4 B", "memory", 32),
    ("4 bytes", "memory", 32),
    ("1 bit", "memory", 1),
    ("12 bits", "memory", 12),
    ("1.25 mm2", "area", 1.25e-6),
    ("1.25 mm²", "area", 1.25e-6),
    ("60 mm2", "area", 60e-6),
    ("0.56 V", "voltage", 0.56),
    ("750 mV", "voltage", 0.75),
]


@pytest.mark.parametrize("text,dim,expected", GOOD)
def test_good_quantities_give_exact_si_values(text, dim, expected):
    assert parse_quantity(text, dim, file="f.yaml", field="x") == expected


BAD = [
    ("1.5", "energy", "no unit"),
    (1.5, "energy", "no unit"),
    (0, "power", "no unit"),
    ("1.5 pF", "energy", "unknown unit 'pF'"),
    ("12 mW", "energy", "unit of power"),
    ("3.5 ns", "frequency", "unit of time"),
    ("128 KB", "memory", "ambiguous"),
    ("3 mb", "memory", "not a memory size"),
    ("1 m2", "length", "unit of area"),
    ("-1 pJ", "energy", "negative"),
    ("abc", "energy", "cannot read"),
    ("", "energy", "cannot read"),
    ("1.5 pJ extra", "energy", "cannot read"),
    ("1e999 J", "energy", "out of range"),
    (None, "energy", "null"),
    (True, "energy", "True"),
]


@pytest.mark.parametrize("text,dim,why", BAD)
def test_bad_quantities_name_file_field_and_expected_kind(text, dim, why):
    with pytest.raises(ChipsimError) as ei:
        parse_quantity(text, dim, file="chip.yaml", field="actions.synop.energy.value")
    msg = str(ei.value)
    assert ei.value.file == "chip.yaml"
    assert ei.value.field == "actions.synop.energy.value"
    assert "chip.yaml" in msg and "actions.synop.energy.value" in msg
    assert why in msg
    # the expected kind with examples
    kind = {"energy": "an energy", "power": "a power", "frequency": "a frequency",
            "memory": "a memory size", "length": "a length"}[dim]
    assert f"expected {kind} with a unit, e.g." in msg


def test_wrong_dimension_example_units():
    with pytest.raises(ChipsimError) as ei:
        parse_quantity("1.5 pF", "energy", file="a.yaml", field="f")
    assert "'1.5 pJ'" in str(ei.value)


def test_unknown_dimension_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_quantity("1 J", "charge", file="a.yaml", field="f")


@pytest.mark.parametrize("value,unit,text", [
    (1.5e-12, "J", "1.5 pJ"),
    (40e6, "Hz", "40 MHz"),
    (0.0, "W", "0 W"),
    (2.5e-8, "s", "25 ns"),
    (0.82e-3, "W", "820 µW"),
    (999.99e-12, "J", "1 nJ"),        # rounding reaches the next prefix
    (1.25e-6, "m2", "1.25 mm²"),
    (28e-9, "m", "28 nm"),
    (3.2e13, "J", "32 TJ"),          # beyond the largest prefix
])
def test_format_si(value, unit, text):
    assert format_si(value, unit) == text


def test_format_si_none():
    assert format_si(None, "J") == "n/a"


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-17, max_value=1e11, allow_nan=False, allow_infinity=False))
def test_format_then_parse_round_trips(v):
    back = parse_quantity(format_si(v, "J", digits=12), "energy", file="f", field="x")
    assert math.isclose(back, v, rel_tol=1e-11)
