"""Spectra have exactly the requested extremes and sizes (THEORY §1, §5a, §6)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems import spectra

lows = st.floats(1e-6, 1e3)
ratios = st.floats(1.0, 1e6)
ns = st.integers(1, 60)


@pytest.mark.parametrize("gen", [spectra.linear, spectra.logspace, spectra.uniform])
@settings(max_examples=40, deadline=None)
@given(n=ns, low=lows, ratio=ratios)
def test_extremes_exact_and_sorted(gen, n, low, ratio):
    high = low * ratio
    eigs = gen(n, low=low, high=high)
    assert eigs.shape == (n,)
    assert np.all(np.diff(eigs) >= 0)
    assert eigs[-1] == high
    if n > 1:
        assert eigs[0] == low  # exact, so κ of a block built from it is exactly high/low
    assert np.all((eigs >= low) & (eigs <= high))


def test_linear_and_logspace_spacing():
    np.testing.assert_allclose(np.diff(spectra.linear(5, low=1, high=9)), 2.0, rtol=1e-14)
    np.testing.assert_allclose(np.diff(np.log10(spectra.logspace(4, low=1e-3, high=1))), 1.0, rtol=1e-12)


def test_uniform_is_seeded():
    a = spectra.uniform(20, low=1, high=2, seed=3)
    np.testing.assert_array_equal(a, spectra.uniform(20, low=1, high=2, seed=3))
    assert not np.array_equal(a, spectra.uniform(20, low=1, high=2, seed=4))


def test_clusters_draw_from_the_set():
    vals = [1.0, 2.0, 3.0]
    e = spectra.clusters(300, values=vals, seed=0)
    assert set(e.tolist()) == set(vals)  # 300 draws from 3 values hit all of them
    assert np.all(np.diff(e) >= 0)


@settings(max_examples=50, deadline=None)
@given(raw=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40, unique=True),
       kappa=st.floats(1.0 + 1e-6, 1e8), lam_max=st.floats(1e-3, 1e4))
def test_rescale_exact_kappa(raw, kappa, lam_max):
    out = spectra.rescale(raw, kappa=kappa, lam_max=lam_max)
    assert out[-1] == lam_max
    assert out[0] == lam_max / kappa
    # affine: relative positions are preserved
    r = np.sort(np.asarray(raw))
    # recovering positions from out cancels digits when κ ≈ 1: tolerance ∝ κ/(κ − 1)
    np.testing.assert_allclose((out - out[0]) / (out[-1] - out[0]), (r - r[0]) / (r[-1] - r[0]),
                               atol=1e-12 + 1e-14 * kappa / (kappa - 1))


def test_rescale_common_map_over_blocks():
    a, b = np.array([1.0, 2.0]), np.array([10.0, 30.0])
    union = np.concatenate([a, b])
    ra = spectra.rescale(a, kappa=100, lam_max=100, lam_min_of=union)
    rb = spectra.rescale(b, kappa=100, lam_max=100, lam_min_of=union)
    assert ra[0] == 1.0 and rb[-1] == 100.0
    np.testing.assert_allclose(ra[1], 1 + 99 * (2 - 1) / 29, rtol=1e-14)


@pytest.mark.parametrize("call, match", [
    (lambda: spectra.linear(0, low=1, high=2), "n must be >= 1"),
    (lambda: spectra.linear(3, low=2, high=1), "high must be >= low"),
    (lambda: spectra.logspace(3, low=-1, high=1), "low must be > 0"),
    (lambda: spectra.from_values([1.0, 0.0]), "eigenvalues must all be > 0"),
    (lambda: spectra.from_values([1.0, np.nan]), "finite"),
    (lambda: spectra.from_values([]), "empty"),
    (lambda: spectra.rescale([1.0, 2.0], kappa=0.5), "kappa must be >= 1"),
    (lambda: spectra.rescale([1.0, 1.0], kappa=2), "constant spectrum"),
])
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_type():
    with pytest.raises(TypeError, match="n must be an integer"):
        spectra.linear(2.5, low=1, high=2)


@pytest.mark.parametrize("gen", [spectra.linear, spectra.logspace, spectra.uniform])
def test_degenerate_interval(gen):
    """low == high: all values equal (logspace used to overshoot by an ulp and lose the order)."""
    np.testing.assert_array_equal(gen(3, low=5.0, high=5.0), [5.0, 5.0, 5.0])


def test_rescale_rounding_never_exceeds_lam_max():
    """Found by hypothesis: 0.0 next to the maximum 2.8e-46 used to map to 49.00000000000001."""
    out = spectra.rescale([0.0, 2.828304545707638e-46, -358.921875], kappa=21731752.0, lam_max=49.0)
    assert out[-1] == 49.0 and out.max() == 49.0
