"""adam-mini-fig4: blockwise GD < Adam variant < GD; single lr wins on one dense block (THEORY §5a)."""
import math

import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems, sims
from hetquad.figures import adam_mini_fig4 as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_ordering_on_the_median_seed(data):
    med = data.iterations.median("seed")
    bw, adam, gd = (float(med.sel(optimizer=m)) for m in ("blockwise-gd", "adam-variant", "gd"))
    assert bw < adam < gd
    # Adam-mini's κ(P_mini) equals max κ_l (THEORY §4): it is within a few steps of blockwise GD
    assert float(med.sel(optimizer="adam-mini")) <= 3 * bw


def test_gd_within_its_upper_bound(data):
    # T(ε) ≤ iters(ρ*, ε) = ⌈ln(1/ε)/(2 ln(1/ρ*))⌉ for every init (THEORY §2)
    for kappa, T in zip(data.kappa_eff.sel(optimizer="gd").values, data.iterations.sel(optimizer="gd").values):
        rho = (kappa - 1) / (kappa + 1)
        assert T <= math.ceil(math.log(1 / fig.TOL) / (2 * math.log(1 / rho)))


def test_single_lr_beats_adam_on_a_dense_block(data):
    sub = data.sub_iterations
    assert np.all(sub.sel(sub_optimizer="gd").values < sub.sel(sub_optimizer="adam-variant").values)
    # κ(P_1) > κ_1 on every seed (THEORY §5a claim 2)
    assert np.all(data.sub_kappa_eff.sel(sub_optimizer="adam-variant").values
                  > data.sub_kappa_eff.sel(sub_optimizer="gd").values)


def test_theory_records_match_independent_closed_forms():
    # κ(P) from eigvalsh(D^{-1/2} H D^{-1/2}), D = |g0| (THEORY §4), and ρ = (κ−1)/(κ+1) (THEORY §2)
    p = problems.get("adam-mini-fig4", seed=1, block_size=4)
    w0 = sims.initial_points(p, 1, 1)[0]
    recs = fig.theory_bounds(p, w0)
    s = 1.0 / np.sqrt(np.abs(p.hessian() @ (w0 - p.w_star)))
    ev = np.linalg.eigvalsh(s[:, None] * p.hessian() * s[None, :])
    assert recs["adam-variant"].kappa == pytest.approx(ev[-1] / ev[0], rel=1e-9)
    assert recs["gd"].kappa == pytest.approx(p.L / p.mu, rel=1e-12)
    assert recs["blockwise-gd"].kappa == pytest.approx(max(e[-1] / e[0] for e in p.block_eigvals), rel=1e-12)
    for r in recs.values():
        assert r.rate == pytest.approx((r.kappa - 1) / (r.kappa + 1), rel=1e-12)


def test_data_rates_are_the_theory_rates(data):
    k = data.kappa_eff.values
    np.testing.assert_allclose(data.rate.values, (k - 1) / (k + 1), rtol=1e-12)


def test_batched_tuning_equals_separate_runs():
    p = problems.get("adam-mini-fig4", seed=2, block_size=5)
    w0 = sims.initial_points(p, 1, 4)
    lrs = fig.LR_GRID[::8]  # one lr per decade
    best, its = fig.tune_variant(p, sims.Adam.theorem_variant, w0, steps=3000, lrs=lrs)
    direct = []
    for lr in lrs:
        res = sims.run(p, sims.Adam.theorem_variant(float(lr)), 3000, w0=w0, tol=fig.TOL)
        direct.append(res.iterations[0] if res.stop_reason[0] == "tol" else np.inf)
    assert its[0] == min(direct)
    assert best[0] == lrs[int(np.argmin(direct))]


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) >= 4
