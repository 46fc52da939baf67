"""chipsim's LIF neurons against their Brian2 twins (numpy target): every variant matches, a
deliberately wrong neuron does not, and `chipsim validate brian2` prints the table and the figure."""

from __future__ import annotations

import pytest

pytest.importorskip("brian2")

from chipsim.cli import main  # noqa: E402
from chipsim.interop import brian2_validate as bv  # noqa: E402
from chipsim.interop.brian2_validate import SLTT_LEAK, Variant, all_variants, validate  # noqa: E402


@pytest.fixture(scope="module")
def rows():
    return validate(all_variants(), target="numpy", T=40)


def test_every_variant_matches_brian2(rows):
    variants = all_variants()
    assert len(rows) == len(variants) == 26
    expressible = [r for r in rows if r.passed is not None]
    assert len(expressible) == 25
    for r in expressible:
        assert r.identical, r.variant
        assert r.max_dv < 1e-9, r.variant
        assert r.spikes_chipsim == r.spikes_brian2 > 0, r.variant
        assert r.passed and r.verdict == "pass"
    # the grid: soft/hard x 3 leaks x H(0) x input decay
    names = {r.variant for r in rows}
    for reset in ("soft", "hard"):
        for lam in ("0.5", "1-1/1.1", "0.9"):
            for h in (0, 1):
                for d in ("on", "off"):
                    assert f"{reset} lam={lam} H(0)={h} decay_in={d}" in names


def test_inexpressible_variant_is_listed_not_skipped(rows):
    (r,) = [r for r in rows if r.passed is None]
    assert r.variant.startswith("soft lam=0 ") and r.verdict.startswith("not expressible: ")
    assert "not expressible" in bv.format_table(rows)


def test_ties_exercise_heaviside_at_zero(rows):
    # u == theta exactly happens, and H(0) = 1 / 0 then give different rasters (both matched)
    by = {r.variant: r for r in rows}
    for reset in ("soft", "hard"):
        a = by[f"{reset} lam=0.5 H(0)=1 decay_in=off"]
        b = by[f"{reset} lam=0.5 H(0)=0 decay_in=off"]
        assert a.ties > 0 and b.ties > 0
        assert a.spikes_chipsim != b.spikes_chipsim


@pytest.mark.parametrize("override", [{"threshold": 1.0 + 1e-3}, {"leak": 0.5 + 1e-3}])
def test_wrong_neuron_fails(override):
    v = Variant(leak=0.5, reset="soft", h0=1)
    (ok,) = validate([v], T=40)
    (bad,) = validate([v], T=40, chipsim_override=override)
    assert ok.passed
    assert bad.passed is False and bad.verdict.startswith("FAIL")
    assert bad.max_dv >= 1e-4
    assert bv.failed([ok, bad]) == [bad]


def test_wrong_leak_sltt_hard_fails():
    v = Variant(leak=SLTT_LEAK, reset="hard", h0=0, decay_input=True)
    (bad,) = validate([v], T=40, chipsim_override={"leak": SLTT_LEAK * (1 + 1e-3)})
    assert bad.passed is False and bad.max_dv > 1e-9


def test_cython_unavailable_is_reported(monkeypatch):
    monkeypatch.setattr(bv, "cython_available", lambda: (False, "no compiler here"))
    rows = validate([Variant(leak=0.5)], target="cython")
    assert rows[0].passed is None and "not run: no compiler here" in rows[0].verdict
    with pytest.raises(ValueError):
        validate([Variant(leak=0.5)], target="cpp_standalone")


def test_cli_validate_prints_table_and_draws_overlay(tmp_path, capsys):
    png = tmp_path / "overlay.png"
    rc = main(["validate", "brian2", "--only", "lam=0.5 H(0)=1", "--T", "30", "--out", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "spikes chipsim" in out and "max |dv|" in out and "verdict" in out
    assert sum(line.endswith("  pass") for line in out.splitlines()) == 4
    assert "4 passed, 0 failed" in out
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_validate_fails_on_a_mismatch(tmp_path, capsys, monkeypatch):
    real = bv.compare_one

    def wrong(v, *a, **k):          # chipsim's copy of the neuron has its threshold off by 1e-3
        return real(v, *a[:6], chipsim_override={"threshold": 1.001})

    monkeypatch.setattr(bv, "compare_one", wrong)
    rc = main(["validate", "brian2", "--only", "soft lam=0.5 H(0)=1 decay_in=off", "--T", "30",
               "--out", str(tmp_path / "o.png")])
    out = capsys.readouterr().out
    assert rc == 1 and "FAIL" in out


def test_cli_validate_unknown_variant(capsys):
    assert main(["validate", "brian2", "--only", "no such variant"]) == 2
    assert "--only" in capsys.readouterr().err


# ------------------------------------------------------------------ the extended cases
@pytest.fixture(scope="module")
def case_rows():
    return bv.validate_cases(T=40)


def test_extended_cases_match_brian2(case_rows):
    """Neurons per neuron and per layer with a reset to v_reset, convolutions, and the chip's
    fixed-point state: identical rasters, |dv| < 1e-9."""
    assert [r.variant for r in case_rows] == list(bv.CASES)
    for r in case_rows:
        assert r.passed and r.identical and r.max_dv < 1e-9, (r.variant, r.verdict)
        assert r.spikes_chipsim == r.spikes_brian2 > 0


@pytest.mark.parametrize("name", list(bv.CASES))
def test_every_layer_of_every_case_spikes(name):
    frames, net, nrn, neurons, bits = bv.case_problem(name, 40, 0)
    S, V, grid = bv.run_chipsim_case(net, nrn, neurons, bits, frames)
    assert all(s.sum() > 0 for s in S), [int(s.sum()) for s in S]
    assert (grid[0] > 0) == (bits is not None)


@pytest.mark.parametrize("name, spoil", [
    ("per-neuron soft / IF hard v_reset", "uniform"),     # Brian2 without the per-neuron values
    ("conv 3x3 pad 1 -> conv 3x3 stride 2", "flip"),      # the kernel flipped (a convolution)
    ("fixed-point state 8 bits", "nogrid"),               # Brian2 without the state grid
    ("CubaLIF per-neuron synaptic decay", "nosyn"),       # Brian2 without the synaptic current
])
def test_a_twin_that_misses_the_feature_fails(name, spoil):
    """The cases can fail: Brian2 without what the case is about differs from chipsim."""
    import numpy as np
    frames, net, nrn, neurons, bits = bv.case_problem(name, 40, 0)
    Sc, Vc, grid = bv.run_chipsim_case(net, nrn, neurons, bits, frames)
    if spoil == "uniform":
        neurons = None
    if spoil == "flip":
        ls = net.lif_layers[0]
        k, cin = ls.k, ls.pooled[2]
        W = net.weights[0].reshape(k, k, cin, -1)
        net.weights[0][...] = W[::-1, ::-1].reshape(net.weights[0].shape)
    if spoil == "nogrid":
        grid = (0.0, 0.0)
    if spoil == "nosyn":
        from chipsim.model.neuron import LayerNeuron
        neurons = [LayerNeuron(n.lam, n.theta, n.cin, n.vr, n.soft, n.h0) for n in neurons]
    Sb, Vb = bv.run_brian2_case(net, nrn, neurons, frames, grid=grid)
    same = all(np.array_equal(a, b) for a, b in zip(Sc, Sb))
    dv = max(float(np.abs(a - b).max()) for a, b in zip(Vc, Vb))
    assert not (same and dv < bv.TOL)
