"""Energy-breakdown plot: valid PNG/PDF, expected axes, redraw from the HDF5 file."""

from __future__ import annotations

import os

import matplotlib.image as mpimg
import numpy as np
import pytest

from chipsim.counts import PRICED_ACTIONS, Action, Phase
from chipsim.errors import ChipsimError
from chipsim.report.h5 import write_result
from chipsim.report.plots import (ACTION_GROUPS, N_AXES, energy_figure,
                                  group_energy_per_train_sample, plot_energy, redraw)
from report_fixtures import make_result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result():
    return make_result(seed=5)


def _check_png(path):
    assert path.exists()
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 20_000, "suspiciously small figure"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 400 and img.shape[1] > 1000
    assert img.std() > 0.01, "blank image"


def test_plot_png(tmp_path, result):
    out = tmp_path / "energy.png"
    written = plot_energy(result, out)
    assert written == [out]
    _check_png(out)
    assert sorted(os.listdir(tmp_path)) == ["energy.png"]          # no temp files left


def test_plot_pdf_writes_png_too(tmp_path, result):
    out = tmp_path / "fig" / "energy.pdf"
    written = plot_energy(result, out)
    assert written == [out.with_suffix(".png"), out]
    assert out.read_bytes()[:5] == b"%PDF-"
    _check_png(out.with_suffix(".png"))


def test_figure_axes_and_titles(result):
    fig = energy_figure(result)
    axes = fig.get_axes()
    assert len(axes) == N_AXES == 3
    assert "synthetic" in fig.get_suptitle() and "ottt_a" in fig.get_suptitle()
    assert "synthetic_chip" in fig.get_suptitle()
    assert all(ax.get_ylabel() for ax in (axes[0], axes[2]))
    assert any(u in axes[0].get_ylabel() for u in ("pJ", "nJ", "µJ"))
    texts = " ".join(t.get_text() for t in axes[2].texts)
    assert "assumed" in texts


def test_unsupported_suffix(tmp_path, result):
    with pytest.raises(ChipsimError, match=r"\.png or \.pdf"):
        plot_energy(result, tmp_path / "energy.jpg")


def test_groups_cover_priced_actions_once():
    grouped = [a for acts in ACTION_GROUPS.values() for a in acts]
    assert len(grouped) == len(set(grouped))
    assert set(grouped) == set(PRICED_ACTIONS)


def test_group_energy_sums_to_phase_energy(result):
    """The stacked bars add up to the mean dynamic energy per training sample, by phase."""
    _, ge = group_energy_per_train_sample(result)
    p = result.pricing
    train = result.sample_split == 0
    price = p.energy_per_action * ~p.included_in_sop
    for phase in Phase:
        expected = (result.sample_counts[train][:, :, int(phase), :] * price).sum() / train.sum()
        assert ge[:, :, int(phase)].sum() == pytest.approx(expected, rel=1e-12)
    syn = list(ACTION_GROUPS).index("synaptic ops")
    layer0 = result.sample_counts[train][:, 0, 0, int(Action.SYN_MAC)].mean() * price[Action.SYN_MAC]
    assert ge[syn, 0, 0] == pytest.approx(layer0, rel=1e-12)
    assert np.all(ge[:, :, int(Phase.LEARNING)].sum(axis=0) > 0)


def test_redraw_from_file(tmp_path, result):
    h5path = tmp_path / "results.h5"
    write_result(result, h5path)
    out = redraw(h5path)
    assert out == tmp_path / "results_energy.png"
    _check_png(out)
    other = redraw(h5path, tmp_path / "custom.png")
    assert other == tmp_path / "custom.png" and other.exists()


def test_redraw_bad_file(tmp_path):
    bad = tmp_path / "results.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ChipsimError, match="results.h5"):
        redraw(bad)
