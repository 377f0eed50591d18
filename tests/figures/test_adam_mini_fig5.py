"""adam-mini-fig5: r vs τ (THEORY §5b)."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad.figures import adam_mini_fig5 as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_spearman_tau_r_negative(data):
    assert np.all(data.spearman.values < 0)


def test_diagonal_end_and_rotated_end(data):
    r0 = data.givens_r.sel(R=0.0).values
    assert np.allclose(data.givens_tau.sel(R=0.0).values, 1.0, atol=1e-12)  # R = 0: diagonal H
    # THEORY §5b reference (d = 10): median r 0.04 at R = 0, 1.29 at R = 1
    assert np.median(r0) < 0.2 < 0.5 < np.median(data.givens_r.sel(R=1.0).values)


def test_r_at_diagonal_is_the_closed_form():
    # R = 0: D_Adam H = diag(±1/|x_i|·...), so r = (max|x|/min|x|)/κ exactly (THEORY §5b)
    d = 10
    taus, rs = fig.givens_samples(d, 0.0, 3, seed=5)
    for k, ss in enumerate(np.random.SeedSequence([5, d, 0]).spawn(3)):
        x = fig._x(d, np.random.default_rng(ss.spawn(2)[1]))
        assert rs[k] == pytest.approx(np.abs(x).max() / np.abs(x).min() / fig.KAPPA, rel=1e-10)


def test_target_curve_decreases_towards_tau_one(data):
    med = np.median(data.target_r.values, axis=-1)  # (d, tau)
    assert np.all(med[:, 0] > med[:, -2])


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert all(ax.has_data() for ax in f.axes[:-1])  # the last axes is the colour bar
