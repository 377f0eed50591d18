"""coupling-delta: bounds under an off-block coupling δ (Tomihari Assm. 4.3).

Asserted are theory facts only: at δ = 0 every bound holds; the bounds valid for any SPD H
(GD's ρ*, the variants' ρ_P on H_δ) hold at every δ; and the stored iteration counts equal plain
one-init runs. Where the block-diagonal bounds fail is reported by the caption, not asserted.
"""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims, theory
from hetquad.figures import coupling_delta as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_every_bound_holds_without_coupling(data):
    at0 = data.sel(strength=0.0)
    assert bool(at0.spd)
    for m in ("blockwise-gd", "adam-mini"):
        assert fig.holds(data, "blockdiag_bound", m)[0], m
    for m in ("gd", "adam-variant", "adam-mini"):
        assert fig.holds(data, "general_bound", m)[0], m


def test_general_bounds_hold_at_every_spd_coupling(data):
    assert data.spd.values.sum() >= 2
    for m in ("gd", "adam-variant", "adam-mini"):
        ok = fig.holds(data, "general_bound", m)
        assert np.all(ok[data.spd.values]), m


def test_stored_iterations_equal_single_runs(data):
    cfg = fig.FIDELITY["tiny"]
    p0 = fig.base_problem(cfg["block_size"])
    s = float(data.strength.values[data.spd.values][-1])  # the largest SPD coupling
    p = problems.coupled(p0, strength=s, seed=0)
    w0 = sims.initial_points(p0, cfg["inits"], 0)
    for i, w in enumerate(w0):
        for m, spec in (("blockwise-gd", sims.BlockwiseGD(lrs=theory.blockwise_gd_rate(p0).block_lrs)),
                        ("adam-variant", sims.Adam.theorem_variant(theory.adam_variant_rate(p, w).lr))):
            res = sims.run(p, spec, cfg["steps"], w0=w, tol=fig.TOL)
            want = float(res.iterations[0]) if res.stop_reason[0] == "tol" else np.inf
            assert float(data.iterations.sel(strength=s, optimizer=m, init=i)) == want


def test_a_strength_that_breaks_spd_is_marked_not_run(data):
    bad = ~data.spd.values
    assert bad.any()  # tiny's largest strength is beyond the SPD range
    assert np.all(np.isnan(data.iterations.values[bad]))


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) == 2
