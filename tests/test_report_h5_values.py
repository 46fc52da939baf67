"""A results file whose numbers went wrong (NaN or inf energies, negative counts, arrays of the
wrong shape, values out of their range) is refused on reading with one ChipsimError naming the
file and the field; chipsim report, price and compare exit 2 with one line instead of a
matplotlib ValueError or a plausible-looking report (issue 11, part 5).

The malformed files are tests/hostile/results/*.h5, written by make_results.py there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from chipsim.cli import main
from chipsim.errors import ChipsimError
from chipsim.report import h5
from chipsim.report.h5 import read_result

HOSTILE = Path(__file__).resolve().parent / "hostile"
_spec = importlib.util.spec_from_file_location("make_results", HOSTILE / "results" / "make_results.py")
make_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_results)
DEFECTS = make_results.DEFECTS


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return make_results.make_valid(tmp_path_factory.mktemp("valid") / "valid.h5")


def test_the_valid_run_is_read_and_reported(valid, tmp_path, capsys):
    r = read_result(valid)
    assert r.sim.step_counts is not None and r.cost.mapping is not None
    assert main(["report", str(valid), "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").exists()


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_defect_is_refused_on_reading(valid, tmp_path, name):
    """Made afresh from a valid run, so the defect, not the file's age, is what is refused."""
    field = DEFECTS[name][0]
    path = make_results.write_defect(valid, name, tmp_path / name)
    with pytest.raises(ChipsimError) as e:
        read_result(path)
    assert e.value.file == str(path) and e.value.field == field, str(e.value)


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_report_price_and_compare_refuse_each_shipped_file(name, tmp_path, capsys):
    path = HOSTILE / "results" / name
    field = DEFECTS[name][0]
    for argv in (["report", str(path), "--out", str(tmp_path / "r.png")],
                 ["price", str(path), "--profile", "anp_i", "--out", str(tmp_path / "p.h5")],
                 ["compare", str(path), "--out", str(tmp_path / "c.png")]):
        assert main(argv) == 2, argv
        cap = capsys.readouterr()
        assert cap.out == "" and cap.err.count("\n") == 1, cap.err
        assert cap.err.startswith(f"chipsim: error: {path}: field '{field}': "), cap.err
    assert list(tmp_path.iterdir()) == []               # nothing drawn, nothing written


def test_the_folder_the_generator_and_the_readme_agree():
    shipped = {p.name for p in (HOSTILE / "results").glob("*.h5")}
    assert shipped == set(DEFECTS)
    readme = (HOSTILE / "README.md").read_text()
    for name in DEFECTS:
        assert f"`results/{name}`" in readme, name


def test_the_sop_energy_kinds_read_are_the_profiles():
    from chipsim.config.profile import SOP_ENERGY_KINDS
    assert h5._SOP_ENERGY_KINDS == SOP_ENERGY_KINDS
