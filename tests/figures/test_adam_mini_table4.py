"""adam-mini-table4: κ(D_Adam H_b) by two independent routes agrees; blocks as in the seed's table."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems
from hetquad.figures import adam_mini_table4 as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_two_routes_to_kappa_dh_agree(data):
    a, b = data.kappa_dh.values, data.kappa_dh_eigvals.values
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert np.all(data.kappa_h.values >= 1)


def test_block_sizes_follow_the_model(data):
    # tiny: d_model 8, 2 heads -> a head is 4 rows × 8 inputs; a neuron row has d_in entries
    assert list(data["size"].values) == [32, 32, 32, 8, 8, 16]
    assert data.sizes["seed"] >= 5
    assert np.all((data.negative.values > 0) & (data.negative.values < 1))  # indefinite at init


def test_range_kappas_known_answer():
    # diagonal SPD H: κ(D H) with D = 1/|g| is the extreme ratio of h_i/|g_i|
    h = np.diag([1.0, 4.0, 9.0])
    g = np.array([1.0, 2.0, 0.5])
    kh, kdh = fig.range_kappas(h, g)
    assert kh == pytest.approx(9.0)
    assert kdh == pytest.approx(18.0 / 1.0)
    assert fig.kappa_nonsymmetric(h, g) == pytest.approx(18.0)
    # a null direction is dropped, an indefinite H folded to |H|
    h2 = np.diag([-2.0, 0.0, 8.0])
    assert fig.range_kappas(h2, np.ones(3))[0] == pytest.approx(4.0)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    spd = a @ a.T + np.eye(6)
    g = rng.standard_normal(6)
    assert fig.range_kappas(spd, g)[1] == pytest.approx(problems.kappa_preconditioned(spd, 1 / np.abs(g)), rel=1e-9)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert all(ax.has_data() for ax in f.axes)


def test_caption_counts_are_recounted(data):
    # "D_Adam worsens κ on k/S seeds" per block, recounted from the two stored κ's
    worse = fig.facts(data)["worse"]
    S = data.sizes["seed"]
    for b in data.block.values:
        k = int(np.sum(data.kappa_dh.sel(block=b).values > data.kappa_h.sel(block=b).values))
        assert f"{fig._short(str(b))} {k}/{S}" in worse
