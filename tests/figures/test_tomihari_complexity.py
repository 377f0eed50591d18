"""tomihari-complexity: iterations vs gradient heterogeneity with the §8.3 bounds."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems
from hetquad.figures import tomihari_complexity as fig


@pytest.fixture(scope="module")
def data():
    return fig.compute("tiny")


def test_initial_points_have_target_gini_and_unit_delta():
    p = fig.problem()
    W0 = fig.initial_points(p, [0.0, 0.5], 3)
    assert np.allclose(p.loss(W0.reshape(-1, p.d)), 1.0, rtol=1e-12)
    for G, w in zip([0.0, 0.5], W0):
        assert np.allclose(problems.gradient_heterogeneity(p, w).gini, G, atol=1e-9)


def test_deterministic_bounds_hold(data):
    det = data.sel(setting="deterministic")
    T, B = det["iterations"], det.bound
    # Theorem 4.7 as in THEORY §8.3: exact integer comparisons, L̄_G for GD and L_P for sign
    assert np.all(T.sel(optimizer="gd-lg").values <= B.sel(bound_kind="gd-lg-bar").values)
    assert np.all(T.sel(optimizer="signsgd").values <= B.sel(bound_kind="sign").values)
    assert np.all(np.isfinite(T.values))


def test_bounds_are_the_closed_form_at_unit_delta(data):
    # Δ = 1 by construction, so 2ΔL/(α(2−α)ε²) = 2L/(α(2−α)ε²) with L = L_P, L_G(w0), L̄_G (THEORY §8.3)
    c = 2.0 / (data.attrs["alpha"] * (2.0 - data.attrs["alpha"]) * data.attrs["eps"] ** 2)
    B = data.bound
    np.testing.assert_allclose(B.sel(bound_kind="sign").values, c * data.attrs["l_p"], rtol=1e-9)
    np.testing.assert_allclose(B.sel(bound_kind="gd-lg0").values[0], c * data.lg0.values, rtol=1e-9)
    np.testing.assert_allclose(B.sel(bound_kind="gd-lg-bar").values, c * data.lg_bar.values, rtol=1e-9)
    p = fig.problem()
    assert data.attrs["lr_sign"] == pytest.approx(data.attrs["alpha"] * data.attrs["eps"]
                                                  / (np.sqrt(p.d) * problems.l_p(p)), rel=1e-12)


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
