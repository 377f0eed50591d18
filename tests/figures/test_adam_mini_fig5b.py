"""adam-mini-fig5b: r against κ(H_b) — samples recomputed independently, Spearman from the data."""
import matplotlib.figure
import numpy as np
import pytest
import scipy.stats

from hetquad.figures import adam_mini_fig5b as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_r_is_the_extreme_eigenvalue_ratio_of_the_preconditioned_block(data):
    # one sample rebuilt by hand: r = κ(D^{1/2} H D^{1/2}) / κ(H), D = diag(1/|H x|), same streams
    d, k, R = int(data.attrs["d"]), float(data.kappa[1]), float(data.R[-1])
    ss = np.random.SeedSequence([0, d, int(round(np.log10(k) * 1000)), int(round(R * 1000))]).spawn(1)[0]
    s_theta, s_x = ss.spawn(2)
    h = fig.givens_block(d, kappa=k, R=R, seed=np.random.default_rng(s_theta))
    x = np.random.default_rng(s_x).normal(0.0, d ** -0.25, d)
    dd = 1.0 / np.sqrt(np.abs(h @ x))
    ev, eh = np.linalg.eigvalsh(dd[:, None] * h * dd[None, :]), np.linalg.eigvalsh(h)
    assert float(data.r.sel(kappa=k, R=R).isel(draw=0)) == pytest.approx((ev[-1] / ev[0]) / (eh[-1] / eh[0]), rel=1e-8)
    assert eh[-1] / eh[0] == pytest.approx(k, rel=1e-8)


def test_spearman_is_recomputed_from_the_samples(data):
    for i in range(data.sizes["R"]):
        r = data.r.isel(R=i).values
        rho = scipy.stats.spearmanr(np.repeat(data.kappa.values, r.shape[1]), r.ravel()).statistic
        assert float(data.spearman.isel(R=i)) == pytest.approx(rho, abs=1e-12)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert all(ax.has_data() for ax in f.axes)
