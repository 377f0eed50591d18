"""real-quadratic-race: each run obeys its own bound ℓ_t/ℓ_0 ≤ ρ^{2t}; the quadratic has the
record's blocks and κ(H) = KAPPA. No ordering of GD vs Adam is asserted (it depends on the spectra)."""
import matplotlib.figure
import numpy as np
import pytest

from hetquad.figures import real_quadratic_race as fig
from hetquad.figures import real_spectra


@pytest.fixture(scope="module")
def data(tiny):
    return tiny(fig)


def test_every_run_obeys_its_bound(data):
    t = data.step.values
    for name in data.model.values:
        for m in data.method.values:
            for s in data.seed.values:
                ratio = data.loss_ratio.sel({"model": name, "method": m, "seed": s}).values
                rho = float(data.rate.sel({"model": name, "method": m, "seed": s}))
                assert 0 <= rho < 1
                assert np.all(ratio <= rho ** (2 * t) * (1 + 1e-8) + 1e-14), (str(name), str(m), int(s))


def test_quadratic_carries_the_record_blocks(data):
    from hetquad.problems.networks import models

    p = fig.quadratic("cnn", "tiny")
    spec, _ = real_spectra.measure(models.reference_model("cnn", seed=0, **real_spectra.SIZES["tiny"]["cnn"]))
    assert tuple(p.sizes) == tuple(spec.sizes)
    assert p.kappa == pytest.approx(fig.KAPPA, rel=1e-8)
    # a common affine map keeps each block's eigenvalue order: block-wise sorted spectra are affine images
    a = np.concatenate([np.sort(spec.eigenvalues(l)) for l in range(spec.n_blocks)])
    b = np.concatenate([np.sort(e) for e in p.block_eigvals])
    slope, icpt = np.polyfit(a, b, 1)
    np.testing.assert_allclose(slope * a + icpt, b, rtol=1e-8, atol=1e-8 * fig.KAPPA)
    np.testing.assert_allclose(data.kappa.values, fig.KAPPA, rtol=1e-8)


def test_plot_returns_figure(data):
    f = fig.plot(data)
    assert isinstance(f, matplotlib.figure.Figure)
    assert all(ax.has_data() for ax in f.axes)
