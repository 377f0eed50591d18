"""κ of D^{1/2} H D^{1/2} and Adam-mini's r (THEORY §5b)."""
import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems import block_quadratic
from hetquad.problems.preconditioner import kappa_preconditioned, r_adam, r_adam_singular
from hetquad.problems.tau import givens_block, tau

xs = st.lists(st.floats(0.01, 10.0), min_size=2, max_size=12).flatmap(
    lambda m: st.tuples(st.just(np.array(m)), st.lists(st.booleans(), min_size=len(m), max_size=len(m))))


def signed(pair):
    mags, neg = pair
    return np.where(neg, -mags, mags)


@settings(max_examples=60, deadline=None)
@given(pair=xs, kappa=st.floats(1.0, 1e4))
def test_diagonal_case_closed_form(pair, kappa):
    """R = 0: D_Adam H = diag(1/|x_i|), so r = (max|x|/min|x|)/κ exactly (THEORY §5b [D])."""
    x = signed(pair)
    d = x.size
    h = givens_block(d, kappa=kappa, R=0.0, seed=0)
    expected = (np.abs(x).max() / np.abs(x).min()) / kappa
    assert r_adam(h, x) == pytest.approx(expected, rel=1e-12)
    assert r_adam_singular(h, x) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), R=st.floats(0.0, 1.0), c=st.floats(1e-6, 1e6), negate=st.booleans())
def test_r_invariant_to_scaling_x(seed, R, c, negate):
    h = givens_block(10, kappa=500.0, R=R, seed=seed)
    x = np.random.default_rng(seed).standard_normal(10)
    c = -c if negate else c
    # floating-point floor: eigvalsh / SVD get λ_min (σ_min) to ~eps·λ_max, a relative error of
    # eps·κ of the preconditioned matrix (κ(D H) = r·500 reaches ~1e4 here, so rel ~1e-12 is at the floor)
    r, rs = r_adam(h, x), r_adam_singular(h, x)
    eps = np.finfo(float).eps
    assert r_adam(h, c * x) == pytest.approx(r, rel=10 * eps * r * 500.0)
    assert r_adam_singular(h, c * x) == pytest.approx(rs, rel=10 * eps * rs * 500.0)


@pytest.mark.parametrize("R", [0.1, 0.3, 1.0])
def test_r_equals_eigenvalues_of_nonsymmetric_DH(R):
    h = givens_block(10, kappa=500.0, R=R, seed=3)
    x = np.random.default_rng(4).normal(0.0, 1 / np.sqrt(10), 10)
    dh = np.diag(1 / np.abs(h @ x)) @ h
    ev = np.linalg.eigvals(dh)  # general eigen-solver: no symmetry used
    assert np.max(np.abs(ev.imag)) <= 1e-9 * np.max(np.abs(ev.real))
    direct = (ev.real.max() / ev.real.min()) / (500.0 / 1.0)
    assert r_adam(h, x) == pytest.approx(direct, rel=1e-9)
    sv = np.linalg.svd(dh, compute_uv=False)
    assert r_adam_singular(h, x) == pytest.approx((sv[0] / sv[-1]) / 500.0, rel=1e-9)


def test_kappa_preconditioned_known_values():
    h = block_quadratic([[1.0, 10.0, 100.0]], seed=0).blocks[0]
    assert kappa_preconditioned(h, np.ones(3)) == pytest.approx(100.0, rel=1e-12)
    assert kappa_preconditioned(h, 7.0 * np.ones(3)) == pytest.approx(100.0, rel=1e-12)
    diag = np.diag([2.0, 50.0, 8.0])
    assert kappa_preconditioned(diag, 1 / np.diag(diag)) == pytest.approx(1.0, rel=1e-15)
    assert kappa_preconditioned(diag, [1.0, 1.0, 0.5]) == pytest.approx(50.0 / 2.0, rel=1e-15)
    p = block_quadratic([[1.0, 4.0], [2.0, 9.0]], seed=1)
    assert kappa_preconditioned(p, np.ones(4)) == pytest.approx(9.0, rel=1e-12)  # BlockQuadratic input


def test_errors():
    h = np.diag([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"\(H x\)_i must be non-zero.*i = \[1\]"):
        r_adam(h, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="non-zero"):
        r_adam_singular(h, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="d must be > 0"):
        kappa_preconditioned(h, [1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="length 3"):
        kappa_preconditioned(h, [1.0, 1.0])
    with pytest.raises(ValueError, match="positive definite"):
        r_adam(np.diag([1.0, -1.0]), [1.0, 1.0])


def test_tau_and_r_are_anti_correlated():
    """Adam-mini Fig. 5 claim at d = 10, κ = 500 (THEORY §5b: Spearman(τ, r) = −0.89 there)."""
    taus, rs = [], []
    rng = np.random.default_rng(0)
    for R in (0.0, 0.1, 0.3, 1.0):
        for _ in range(20):
            h = givens_block(10, kappa=500.0, R=R, seed=rng)
            taus.append(tau(h))
            rs.append(r_adam(h, rng.normal(0.0, 1 / np.sqrt(10), 10)))
    rho = scipy.stats.spearmanr(taus, rs).statistic
    assert rho < 0
    assert rho < -0.5  # the sheet's −0.89; −0.5 leaves room for the seed
