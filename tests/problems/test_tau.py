"""τ, its closed form and the two τ block generators (THEORY §5b)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems import block_quadratic, rotations
from hetquad.problems.tau import givens_block, target_tau_block, tau, tau_range, tau_rank_one


def direct_tau(h):
    """Σ|H_ii| / Σ_ij |H_ij| written out with loops (independent of problems.tau)."""
    n = len(h)
    diag = sum(abs(h[i][i]) for i in range(n))
    return diag / sum(abs(h[i][j]) for i in range(n) for j in range(n))


def spectrum(d, kappa):
    return np.sort(np.r_[np.ones(d - 1), kappa])


# -- τ itself -------------------------------------------------------------------------------------
def test_tau_known_values():
    assert tau(np.diag([3.0, 1.0, 2.0])) == 1.0
    assert tau(np.ones((2, 2))) == 0.5
    # the denominator includes the diagonal: 4/6, not the ratio 4/2 = τ/(1−τ)
    assert tau(np.array([[2.0, -1.0], [-1.0, 2.0]])) == pytest.approx(4 / 6, rel=1e-15)


def test_tau_of_block_quadratic_is_tau_of_dense_hessian():
    p = block_quadratic([[1.0, 2.0, 3.0], [10.0, 20.0]], seed=3)
    assert tau(p) == pytest.approx(direct_tau(p.hessian()), rel=1e-12)
    # off-block zeros do not count, so the whole-H τ is the diagonal-sum over entry-sum of blocks
    num = sum(np.abs(np.diag(b)).sum() for b in p.blocks)
    den = sum(np.abs(b).sum() for b in p.blocks)
    assert tau(p) == pytest.approx(num / den, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 8), seed=st.integers(0, 10**6), diagonal=st.booleans())
def test_tau_in_unit_interval_and_one_iff_diagonal(n, seed, diagonal):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    h = np.diag(np.diag(a)) if diagonal else a + a.T
    t = tau(h)
    assert 0 < t <= 1
    assert t == pytest.approx(direct_tau(h), rel=1e-12)
    is_diag = not np.any(h - np.diag(np.diag(h)))
    assert (t == 1.0) == is_diag


def test_tau_rejects_bad_input():
    with pytest.raises(ValueError, match="zero matrix"):
        tau(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="square"):
        tau(np.ones((2, 3)))
    with pytest.raises(ValueError, match="dimension"):
        tau(np.ones(3))


# -- closed form and range ------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(d=st.integers(2, 30), kappa=st.floats(2.0, 1e4), R=st.floats(0.0, 1.0), seed=st.integers(0, 10**6))
def test_closed_form_matches_entries_of_givens_block(d, kappa, R, seed):
    h = givens_block(d, kappa=kappa, R=R, seed=seed)
    q = np.linalg.eigh(h)[1][:, -1]  # top eigenvector, computed independently of the generator
    assert tau_rank_one(d, kappa=kappa, q=q) == pytest.approx(direct_tau(h), rel=1e-9)
    lo, hi = tau_range(d, kappa=kappa)
    assert lo - 1e-12 <= tau(h) <= hi


def test_givens_block_at_R0_is_diagonal_and_keeps_spectrum():
    h0 = givens_block(10, kappa=500.0, R=0.0, seed=1)
    np.testing.assert_array_equal(h0, np.diag(np.r_[500.0, np.ones(9)]))
    assert tau(h0) == 1.0
    h = givens_block(10, kappa=500.0, R=0.7, seed=1)
    q = rotations.givens(10, R=0.7, seed=1)
    np.testing.assert_allclose(h, q @ np.diag(np.r_[500.0, np.ones(9)]) @ q.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(h), spectrum(10, 500.0), rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(d=st.integers(2, 40), kappa=st.floats(1.0, 1e5), seed=st.integers(0, 10**6))
def test_range_lower_end_is_the_minimum(d, kappa, seed):
    lo, hi = tau_range(d, kappa=kappa)
    assert hi == 1.0
    q = np.random.default_rng(seed).standard_normal(d)
    q /= np.linalg.norm(q)
    assert tau_rank_one(d, kappa=kappa, q=q) >= lo * (1 - 1e-12)  # ‖q‖₁² ≤ d (Cauchy–Schwarz)
    flat = np.full(d, 1 / np.sqrt(d))
    assert tau_rank_one(d, kappa=kappa, q=flat) == pytest.approx(lo, rel=1e-12)
    assert tau_rank_one(d, kappa=kappa, q=np.eye(d)[0]) == 1.0


def test_range_known_value():
    # d = 10, κ = 500: (10 + 499) / (10 + 499·10)
    assert tau_range(10, kappa=500.0) == (pytest.approx(509 / 5000, rel=1e-15), 1.0)
    assert tau_range(1, kappa=7.0) == (1.0, 1.0)


def test_rank_one_rejects_bad_q():
    with pytest.raises(ValueError, match="unit 2-norm"):
        tau_rank_one(3, kappa=10.0, q=[1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="length d = 3"):
        tau_rank_one(3, kappa=10.0, q=[1.0, 0.0])
    with pytest.raises(ValueError, match="kappa must be >= 1"):
        tau_rank_one(2, kappa=0.5, q=[1.0, 0.0])


# -- the exact target-τ generator ------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(d=st.integers(2, 60), kappa=st.floats(1.5, 1e5), u=st.floats(0.0, 1.0))
def test_target_tau_hits_tau_and_keeps_spectrum(d, kappa, u):
    lo, _ = tau_range(d, kappa=kappa)
    target = lo + u * (1 - lo)
    h = target_tau_block(d, kappa=kappa, tau=target)
    assert abs(direct_tau(h) - target) <= 1e-9
    np.testing.assert_array_equal(h, h.T)
    np.testing.assert_allclose(np.linalg.eigvalsh(h), spectrum(d, kappa), rtol=0, atol=1e-9 * kappa)


@pytest.mark.parametrize("target", [1.0, 1 - 1e-13, 0.5])
def test_target_tau_near_one_and_ends(target):
    h = target_tau_block(10, kappa=500.0, tau=target)
    assert abs(direct_tau(h) - target) <= 1e-12
    lo, _ = tau_range(10, kappa=500.0)
    assert abs(direct_tau(target_tau_block(10, kappa=500.0, tau=lo)) - lo) <= 1e-12


def test_target_tau_out_of_range_names_the_range():
    lo, _ = tau_range(10, kappa=500.0)
    with pytest.raises(ValueError, match=r"tau must be in \[0\.1018, 1\] for d = 10, kappa = 500"):
        target_tau_block(10, kappa=500.0, tau=0.9 * lo)
    with pytest.raises(ValueError, match="tau must be in"):
        target_tau_block(10, kappa=500.0, tau=1.01)
    with pytest.raises(ValueError, match=r"\[1, 1\] for d = 5"):
        target_tau_block(5, kappa=1.0, tau=0.9)  # κ = 1: only the identity exists
    with pytest.raises(TypeError):
        target_tau_block(5, kappa=10.0, tau="0.5")


def test_trivial_cases():
    np.testing.assert_array_equal(target_tau_block(1, kappa=3.0, tau=1.0), [[3.0]])
    np.testing.assert_array_equal(target_tau_block(4, kappa=1.0, tau=1.0), np.eye(4))
    with pytest.raises(ValueError, match="R must be in"):
        givens_block(4, kappa=3.0, R=1.5, seed=0)
