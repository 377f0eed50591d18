"""zhang-spectra: full spectra alike where built so, blockwise spectra differ; JS⁰ orders the cases (THEORY §7)."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad import problems
from hetquad.figures import zhang_spectra as fig


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_js0_separates_heterogeneous_from_homogeneous(data):
    # log mode: heterogeneous ≥ 0.9, homogeneous ≤ 0.6 (THEORY §7 reference: ≥ 0.99 / ≤ 0.48)
    med = data.js0.sel(mode="log").median("seed")
    assert np.all(med.sel(role="heterogeneous").values >= 0.9)
    assert np.all(med.sel(role="homogeneous").values <= 0.6)


def test_full_spectra_identical_where_built_so(data):
    # Cases 3/4 share their nine eigenvalues; the shuffled partner shares Case 1's
    assert np.all(data.full_js.isel(pair=1).values < 1e-6)
    assert np.all(data.full_js.isel(pair=2).values < 1e-6)
    p = problems.get("zhang2024-case1", seed=3)
    q = fig.shuffled_blocks(p, seed=3)
    np.testing.assert_allclose(q.eigvalsh(), p.eigvalsh(), rtol=1e-9)
    assert q.sizes == p.sizes
    # ... but the block spectra are not Case 1's (some block mixes scales)
    assert max(q.block_kappas) > 10 * max(p.block_kappas)


def test_heatmap_is_a_js_matrix_and_js0_its_mean(data):
    for i in range(data.sizes["pair"]):
        for r in data.role.values:
            nb = int(data.n_blocks.isel(pair=i).sel(role=r))
            m = data.js.isel(pair=i).sel(role=r).values[:nb, :nb]
            np.testing.assert_allclose(m, m.T, atol=0)
            assert np.all(np.diag(m) == 0) and np.all((m >= 0) & (m <= 1))
            # seed-0 JS⁰ equals the mean of the off-diagonal pairs of the seed-0 heatmap
            assert float(data.js0.isel(pair=i, seed=0).sel(role=r, mode="log")) == pytest.approx(
                m[np.triu_indices(nb, 1)].mean(), abs=1e-12)


def test_densities_are_normalised(data):
    dt = data.grid.diff("t").isel(t=0)
    mass = (data.density * dt).sum("t", skipna=False)
    for i in range(data.sizes["pair"]):
        for r in data.role.values:
            nb = int(data.n_blocks.isel(pair=i).sel(role=r))
            np.testing.assert_allclose(mass.isel(pair=i).sel(role=r).values[:nb], 1.0, rtol=1e-9)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert sum(ax.has_data() for ax in f.axes) >= 15


def _js_distance(p, q):
    """THEORY §7 JS distance √(JSD/ln 2) on grid-normalised densities, written out here."""
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a):  # Σ a ln(a/m) over a > 0 (where a > 0, m > 0 too)
        pos = a > 0
        return np.sum(a[pos] * np.log(a[pos] / m[pos]))

    return np.sqrt(max(0.5 * kl(p) + 0.5 * kl(q), 0.0) / np.log(2.0))


def test_heatmap_matches_an_independent_js_of_the_plotted_densities(data):
    # the heatmap entries are the JS distances of the plotted block densities (seed 0)
    for i in range(data.sizes["pair"]):
        for r in data.role.values:
            nb = int(data.n_blocks.isel(pair=i).sel(role=r))
            dens = data.density.isel(pair=i).sel(role=r).values[:nb]
            m = data.js.isel(pair=i).sel(role=r).values[:nb, :nb]
            for a in range(nb):
                for b in range(a + 1, nb):
                    assert m[a, b] == pytest.approx(_js_distance(dens[a], dens[b]), abs=1e-6)


def test_shuffled_partner_rejects_a_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        fig.shuffled_blocks(problems.get("zhang2024-case1"), seed=-1)
