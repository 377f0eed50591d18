"""tomihari-complexity: iterations vs gradient heterogeneity with the §8.3 bounds."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems
from hetquad.figures import tomihari_complexity as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_initial_points_have_target_gini_and_unit_delta():
    p = fig.problem()
    W0 = fig.initial_points(p, [0.0, 0.5], 3)
    assert np.allclose(p.loss(W0.reshape(-1, p.d)), 1.0, rtol=1e-12)
    for G, w in zip([0.0, 0.5], W0):
        assert np.allclose(problems.gradient_heterogeneity(p, w).gini, G, atol=1e-9)


def test_deterministic_bounds_hold(data):
    T, B = data.theorem_iterations, data.bound
    # Theorem 4.7 as in THEORY §8.3 at the theorem lrs: exact integer comparisons, L̄_G for GD, L_P for sign
    assert np.all(T.sel(optimizer="gd-lg").values <= B.sel(bound_kind="gd-lg-bar").values)
    assert np.all(T.sel(optimizer="signsgd").values <= B.sel(bound_kind="sign").values)
    assert np.all(np.isfinite(T.values))


def test_bounds_are_the_closed_form_at_unit_delta(data):
    # Δ = 1 by construction, so 2ΔL/(α(2−α)ε²) = 2L/(α(2−α)ε²) with L = L_P, L_G(w0), L̄_G (THEORY §8.3)
    c = 2.0 / (data.attrs["alpha"] * (2.0 - data.attrs["alpha"]) * data.attrs["eps"] ** 2)
    B = data.bound
    np.testing.assert_allclose(B.sel(bound_kind="sign").values, c * data.attrs["l_p"], rtol=1e-9)
    np.testing.assert_allclose(B.sel(bound_kind="gd-lg0").values, c * data.lg0.values, rtol=1e-9)
    np.testing.assert_allclose(B.sel(bound_kind="gd-lg-bar").values, c * data.lg_bar.values, rtol=1e-9)
    p = fig.problem()
    assert data.attrs["lr_sign"] == pytest.approx(data.attrs["alpha"] * data.attrs["eps"]
                                                  / (np.sqrt(p.d) * problems.l_p(p)), rel=1e-12)


def test_tuned_grid_contains_the_theorem_lr_so_tuning_never_loses(data):
    # k = 0 (the theorem lr) is on every method's grid: the tuned median is ≤ the theorem median
    th, tu = data.theorem_iterations.median("seed"), data.iterations.median("seed")
    assert np.all(tu.values <= th.values)
    k = np.log2(data.tuned_lr / data.base_lr).values
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)  # tuned lrs are grid points base·2^k
    lo, hi = data.k_range.sel(end="low").values, data.k_range.sel(end="high").values
    inside = (k > lo[:, None]) & (k < hi[:, None])
    assert np.all(inside[data.interior.values])  # 'interior' means what it says


def test_race_pruning_keeps_the_argmin():
    # the race stops lrs that provably lose; the tuned lr must equal an exhaustive grid's argmin
    p = fig.problem()
    W0 = fig.initial_points(p, [0.0, 0.6], 3)
    lrs = fig.base_lrs(p)["signsgd"] * 2.0 ** np.arange(-2, 4)
    raced, _ = fig.run_rows(p, "signsgd", W0, lrs, steps=1500, protect=())
    full, _ = fig.run_rows(p, "signsgd", W0, lrs, steps=1500)
    assert np.isinf(raced).sum() > np.isinf(full).sum()  # something was pruned
    np.testing.assert_array_equal(np.argmin(np.median(raced, axis=2), axis=0),
                                  np.argmin(np.median(full, axis=2), axis=0))
    kept = np.isfinite(raced)
    np.testing.assert_array_equal(raced[kept], full[kept])  # unpruned runs are untouched


def test_per_run_lrs_equal_separate_runs():
    p = fig.problem()
    w0 = fig.initial_points(p, [0.3], 2)[0]
    lrs = fig.base_lrs(p)["adam"] * np.array([1.0, 8.0])
    T, _ = fig.run_pairs(p, "adam", np.tile(w0, (2, 1)), np.repeat(lrs, 2), steps=800)
    for i, lr in enumerate(lrs):
        one = fig.hitting_times(p, fig.sims.Adam(float(lr)), w0, steps=800, eps=fig.EPS)[1]
        np.testing.assert_array_equal(T[2 * i:2 * i + 2], one)


def test_l_g_grows_with_heterogeneity_l_p_does_not(data):
    lg0 = data.lg0.median("seed").values
    assert lg0[0] == pytest.approx(data.attrs["l_p"], rel=1e-9)  # uniform x: L_G = L_P
    assert lg0[-1] > 2 * data.attrs["l_p"]


def test_gd_lg_step_on_a_scaled_identity_converges_in_one_step():
    # H = c·I: L_G = c, so w − (1/c)·c·e = w* after one step (α = 1)
    p = problems.block_quadratic([np.full(3, 7.0), np.full(2, 7.0)], rotation="identity")
    t2, t1, lg = fig.hitting_times(p, "gd-lg", np.ones((2, 5)), steps=5, eps=1e-12)
    assert np.all(t2 == 1) and np.all(t1 == 1)
    assert np.allclose(lg, 7.0)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert all(ax.has_data() for ax in f.axes)


def test_caption_table_is_the_stored_medians(data):
    f = fig.facts(data)
    th, tu = data.theorem_iterations.median("seed"), data.iterations.median("seed")
    g0, g1 = data.gini.values[0], data.gini.values[-1]
    a = lambda v, g: float(v.sel(optimizer="adam", gini=g))  # noqa: E731
    assert f"{fig.LABELS['adam']} {a(th, g0):.0f}/{a(tu, g0):.0f} → {a(th, g1):.0f}/{a(tu, g1):.0f}" in f["table"]
    r = (th.sel(optimizer="adam") / tu.sel(optimizer="adam")).values
    assert f["adam_speedup"] == f"{r.min():.1f}–{r.max():.1f}×"
