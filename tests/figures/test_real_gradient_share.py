"""real-gradient-share: shares sum to 1, Gini in [0, 1) and equal to an independent Gini of x_b."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad.figures import real_gradient_share as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def _gini_sorted(x):
    # the closed form G = Σ_i (2i − n − 1) x_(i) / (n Σ x), an independent route to problems.gini
    x = np.sort(np.asarray(x, float))
    n = x.size
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * x.sum()))


def test_shares_and_gini(data):
    assert data.sizes["seed"] >= 5
    for name in data.model.values:
        nb = int(np.sum(data.block_name.sel(model=name).values != ""))
        share = data.share.sel(model=name).values[:, :nb]
        np.testing.assert_allclose(share.sum(axis=1), 1.0, rtol=1e-12)
        g = data.gini.sel(model=name).values
        assert np.all((g >= 0) & (g < 1))
        for s in range(data.sizes["seed"]):
            assert g[s] == pytest.approx(_gini_sorted(data.x.sel(model=name).values[s, :nb]), abs=1e-12)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert all(ax.has_data() for ax in f.axes)


def test_share_is_tomiharis_normalised_norm_share(data):
    # [T] eq. 215: x_b / Σ x_k with x_b = ‖g_b‖/√d_b, not ‖g_b‖²/‖g‖²; sq_share is the latter
    for name in data.model.values:
        nb = int(np.sum(data.block_name.sel(model=name).values != ""))
        x = data.x.sel(model=name).values[:, :nb]
        np.testing.assert_allclose(data.share.sel(model=name).values[:, :nb], x / x.sum(axis=1, keepdims=True),
                                   rtol=1e-12)
        sq = (x ** 2) * data.block_size.sel(model=name).values[:nb]  # ‖g_b‖² = d_b x_b²
        np.testing.assert_allclose(data.sq_share.sel(model=name).values[:, :nb], sq / sq.sum(axis=1, keepdims=True),
                                   rtol=1e-9)
    f = fig.facts(data)
    assert f["gini_t"] == pytest.approx(float(np.median(data.gini.sel(model="transformer"))), abs=0)
