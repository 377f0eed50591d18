"""js0-gap: the GD/Adam speed ratio rises with JS⁰ along Case 2 → Case 1 (THEORY §6, §7)."""
import matplotlib.figure
import numpy as np
import pytest
import scipy.stats

from hetquad import problems, sims
from hetquad.figures import js0_gap as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


@pytest.mark.parametrize("a, case", [(1.0, "zhang2024-case1"), (0.0, "zhang2024-case2")])
def test_family_ends_are_the_catalog_cases(a, case):
    p, q = fig.interpolated_case(a, seed=4), problems.get(case, seed=4)
    np.testing.assert_array_equal(p.hessian(), q.hessian())


@pytest.mark.parametrize("a", [0.0, 0.3, 0.7, 1.0])
def test_kappa_fixed_along_the_family(a):
    p = fig.interpolated_case(a, seed=1)
    assert p.kappa == pytest.approx(5000.0, rel=1e-9)
    assert len(p.sizes) == 4 and set(p.sizes) == {25}


@pytest.mark.parametrize("kw, name", [(dict(a=1.5), "a must"), (dict(a=0.5, kappa=1.0), "kappa"),
                                      (dict(a=0.5, seed=-1), "seed"), (dict(a=0.5, block_size=1), "block_size")])
def test_bad_arguments_are_rejected(kw, name):
    with pytest.raises(ValueError, match=name):
        fig.interpolated_case(**kw)


def test_ratio_rises_with_js0(data):
    # the figure's claim: positive rank correlation between JS⁰ and T_GD/T_Adam
    rho = scipy.stats.spearmanr(data.js0.values.ravel(), data.ratio.values.ravel()).statistic
    assert rho > 0 and data.attrs["spearman"] == pytest.approx(rho, abs=1e-12)
    med = data.ratio.median("seed")
    assert float(med.sel(a=1.0)) > 1.3 * float(med.sel(a=0.0))
    # JS⁰ itself orders the family (THEORY §7: Case 2 ≈ 0.29, Case 1 ≈ 0.99)
    js = data.js0.median("seed")
    assert float(js.sel(a=0.0)) < 0.5 < 0.9 < float(js.sel(a=1.0))


def test_gd_within_its_iteration_bound(data):
    # T(ε) ≤ iters(ρ*, ε) = ⌈ln(1/ε)/(2 ln(1/ρ*))⌉ at the tiny κ (THEORY §2)
    k = data.attrs["kappa"]
    bound = np.ceil(np.log(1e6) / (2.0 * np.log((k + 1.0) / (k - 1.0))))
    assert np.all(data.t_gd.values <= bound)
    assert np.all(data.t_adam.values < data.t_gd.values)


def test_tuned_adam_lr_is_inside_the_grid(data):
    # an optimum on the grid's edge would mean the grid cut it off
    lr = np.log10(data.adam_lr.values)
    assert np.all(lr > np.log10(fig.ADAM_LRS[0]) + 1e-9) and np.all(lr < np.log10(fig.ADAM_LRS[-1]) - 1e-9)


def test_variant_prediction_matches_an_independent_computation():
    p = fig.interpolated_case(0.5, seed=1, kappa=2000.0)
    w0 = sims.initial_points(p, 1, 1)[0]
    H = p.hessian()
    d = 1.0 / np.sqrt(np.abs(H @ (w0 - p.w_star)))
    ev = np.linalg.eigvalsh(d[:, None] * H * d[None, :])

    def iters(kappa):  # THEORY notation iters(ρ, ε), ρ = (κ−1)/(κ+1)
        return np.ceil(np.log(1e6) / (2.0 * np.log((kappa + 1.0) / (kappa - 1.0))))

    assert fig.predicted_ratio(p, w0) == pytest.approx(iters(p.kappa) / iters(ev[-1] / ev[0]), rel=1e-12)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) >= 3
