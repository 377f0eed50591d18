"""Rotations are orthogonal; Givens follows Adam-mini App. E.2 (THEORY §1, §5b)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetquad.problems import rotations

sizes = st.integers(1, 40)
seeds = st.integers(0, 2**32 - 1)


def _orthogonality_error(q):
    return np.max(np.abs(q.T @ q - np.eye(q.shape[0])))


@settings(max_examples=40, deadline=None)
@given(n=sizes, seed=seeds)
def test_haar_orthogonal(n, seed):
    q = rotations.haar(n, seed)
    assert q.shape == (n, n)
    assert _orthogonality_error(q) < 1e-12


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 25), seed=seeds, R=st.floats(0.0, 1.0))
def test_givens_orthogonal(n, seed, R):
    assert _orthogonality_error(rotations.givens(n, R=R, seed=seed)) < 1e-12


@pytest.mark.parametrize("n", [1, 2, 7, 30])
def test_givens_R0_is_identity(n):
    np.testing.assert_array_equal(rotations.givens(n, R=0.0, seed=1), np.eye(n))


def test_givens_equals_explicit_product():
    """Independent rendering of the seed's loop: multiply full n×n Givens matrices."""
    n, R, seed = 6, 0.7, 11
    rng = np.random.default_rng(seed)
    q = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            th = R * rng.uniform(-np.pi / 2, np.pi / 2)
            g = np.eye(n)
            g[i, i] = g[j, j] = np.cos(th)
            g[i, j], g[j, i] = np.sin(th), -np.sin(th)
            q = g @ q
    np.testing.assert_allclose(rotations.givens(n, R=R, seed=seed), q, atol=1e-13)


def test_haar_columns_are_uniform_in_sign():
    """Sign-fixing makes Q Haar: the mean of Q[0, 0] over draws is ~0 (without it, it is biased)."""
    vals = np.array([rotations.haar(3, s)[0, 0] for s in range(2000)])
    assert abs(vals.mean()) < 4 * vals.std() / np.sqrt(vals.size)


@settings(max_examples=40, deadline=None)
@given(v=st.lists(st.floats(-10, 10), min_size=1, max_size=20).filter(lambda x: np.linalg.norm(x) > 1e-3))
def test_householder_maps_e1(v):
    v = np.asarray(v)
    h = rotations.householder(v)
    e1 = np.zeros(v.size)
    e1[0] = 1.0
    np.testing.assert_allclose(h @ e1, v / np.linalg.norm(v), atol=1e-12)
    assert _orthogonality_error(h) < 1e-12
    np.testing.assert_allclose(h, h.T, atol=0)


@pytest.mark.parametrize("tail", [1e-4, 1e-8, 1e-10, 1e-14])
def test_householder_near_e1_is_accurate(tail):
    """q ≈ e_1 (τ → 1 in the target-τ generator): the naive q_1 − 1 cancels; ours must not."""
    q = np.array([1.0, tail, -2 * tail, 0.5 * tail])
    h = rotations.householder(q)
    np.testing.assert_allclose(h[:, 0], q / np.linalg.norm(q), rtol=1e-14, atol=1e-14 * tail)
    assert _orthogonality_error(h) < 1e-12
    with pytest.raises(ValueError, match="non-zero"):
        rotations.householder(np.zeros(3))


def test_dispatch_and_seeding():
    np.testing.assert_array_equal(rotations.rotation("identity", 4), np.eye(4))
    np.testing.assert_array_equal(rotations.rotation("haar", 4, seed=2), rotations.haar(4, 2))
    np.testing.assert_array_equal(rotations.rotation("givens", 4, seed=2, R=0.5), rotations.givens(4, R=0.5, seed=2))
    assert not np.allclose(rotations.haar(4, 2), rotations.haar(4, 3))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: rotations.rotation("qr", 3), ValueError, "rotation must be one of"),
    (lambda: rotations.givens(3, R=1.5), ValueError, r"R must be in \[0.0, 1.0\]"),
    (lambda: rotations.haar(0), ValueError, "n must be >= 1"),
    (lambda: rotations.haar(2.0), TypeError, "n must be an integer"),
])
def test_invalid(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
